package main

// TestSoak is the one-minute CI variant of scripts/soak.sh: the real binary runs every workload on every
// backend, round after round, and after each run and round nothing may be left behind: no ringbench process
// (a load-generator child that outlived its parent, say), no data set directory or temporary file in its
// private TMPDIR (where data sets go by default), no listening TCP socket of a ringbench process; and memory
// must be stable: the peak RSS of the samples (reset by run before each sample) may not grow within a run
// nor from the first round to the last.
//
// It runs only with RINGBENCH_SOAK=1: at least two rounds, more while another fits in a minute
// (RINGBENCH_SOAK_TIME=5m changes the budget):
//
//	RINGBENCH_SOAK=1 go test -run '^TestSoak$' -count=1 -v ./cmd/ringbench/

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/result"
)

// soakRun is one `ringbench run` invocation of the soak: one workload on one backend.
type soakRun struct {
	workload, backend string
	args              []string
}

// soakWorkloads are the workloads the soak drives, with run flags keeping each sample small: --files 50
// --file-size 64k for the file workloads, 4 connections for echo-proxy.
var soakWorkloads = []struct {
	name string
	args []string
}{
	{"small-file", []string{"--files", "50", "--file-size", "64k"}},
	{"many-file", []string{"--files", "200", "--file-size", "4k"}},
	{"echo-proxy", []string{"--conns", "4", "--msg-size", "64"}},
}

var soakBackends = []string{"epoll", "uring", "sqpoll", "gostd"}

func TestSoak(t *testing.T) {
	if os.Getenv("RINGBENCH_SOAK") != "1" {
		t.Skip("soak test: set RINGBENCH_SOAK=1 (about a minute)")
	}
	budget := time.Minute
	if v := os.Getenv("RINGBENCH_SOAK_TIME"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("RINGBENCH_SOAK_TIME=%q: want a duration such as 90s", v)
		}
		budget = d
	}
	tmp := t.TempDir() // the runs' TMPDIR, hence their default --dir: must be empty after every run
	outDir := t.TempDir()
	env := []string{"TMPDIR=" + tmp}
	const count = 3
	common := []string{"--count", strconv.Itoa(count), "--duration", "100ms", "--warmup", "30ms", "--depth", "8", "--batch", "4",
		"--format", "json", "--quiet"}

	// Round 0 also finds which pairs can run here: a workload this build's `run` does not know (exit 2,
	// "unknown workload") or a backend this kernel refuses (exit 3) is skipped, and said so once.
	var runs []soakRun
	for _, w := range soakWorkloads {
		for _, b := range soakBackends {
			args := append(append([]string{"run", "--workload", w.name, "--backend", b}, w.args...), common...)
			runs = append(runs, soakRun{w.name, b, args})
		}
	}
	listenBefore := tcpSockets("0A", "")
	// peaks[series][round] are the peak RSS figures of the samples of one run, in order.
	peaks := map[string][][]int64{}
	start := time.Now()
	round := 0
	// At least two rounds (memory is compared between the first and the last); more while another round
	// of the length of the last one still fits in the budget.
	var lastRound time.Duration
	for ; round < 2 || time.Since(start)+lastRound <= budget; round++ {
		roundStart := time.Now()
		var runnable []soakRun
		unknown := map[string]bool{}
		for _, sr := range runs {
			if unknown[sr.workload] {
				continue
			}
			when := fmt.Sprintf("round %d, %s on %s", round, sr.workload, sr.backend)
			r := soakRunOnce(t, tmp, outDir, env, when, sr)
			if r == nil {
				t.FailNow()
			}
			switch {
			case round == 0 && r.Code == exitUsage && strings.Contains(r.Stderr, "unknown workload"):
				t.Logf("%s: not a workload of `run` in this build, not soaked", sr.workload)
				unknown[sr.workload] = true
				continue
			case round == 0 && r.Code == exitUnsupported:
				t.Logf("%s on %s cannot run here, not soaked: %s", sr.workload, sr.backend, strings.TrimSpace(r.Stderr))
				continue
			case r.Code != 0:
				t.Fatalf("%s: exit %d\n%s", when, r.Code, r.Stderr)
			}
			runnable = append(runnable, sr)
			f, err := result.Load(r.path)
			if err != nil {
				t.Fatalf("%s: %v", when, err)
			}
			os.Remove(r.path)
			if len(f.Samples) != 2*count { // each round a timed and a counted sample
				t.Fatalf("%s: %d samples, want %d", when, len(f.Samples), 2*count)
			}
			var p []int64
			for _, s := range f.Samples {
				if s.Ops <= 0 {
					t.Errorf("%s: a sample with no operations", when)
				}
				p = append(p, s.PeakRSSBytes)
			}
			key := sr.workload + "/" + sr.backend
			peaks[key] = append(peaks[key], p)
		}
		if len(runnable) == 0 {
			t.Fatal("nothing can run here")
		}
		runs = runnable
		soakCheckListeners(t, listenBefore, fmt.Sprintf("after round %d", round))
		lastRound = time.Since(roundStart)
	}
	t.Logf("%d rounds of %d runs in %v", round, len(runs), time.Since(start).Round(time.Second))
	for _, p := range soakPeakProblems(t, peaks) {
		t.Error(p)
	}
}

// soakResult is one run's exit and where its result file is.
type soakResult struct {
	cmdResult
	path string
}

// soakRunOnce runs sr once with the private TMPDIR and checks that it left nothing behind; it returns nil
// after reporting a failure.
func soakRunOnce(t *testing.T, tmp, outDir string, env []string, when string, sr soakRun) *soakResult {
	t.Helper()
	path := filepath.Join(outDir, fmt.Sprintf("%s-%s-%d.json", sr.workload, sr.backend, time.Now().UnixNano()))
	r := runCmd(t, outDir, 2*time.Minute, env, append([]string{ringbenchBin}, append(sr.args, "--out", path)...)...)
	if left := soakLeftovers(5 * time.Second); len(left) > 0 {
		t.Errorf("%s: ringbench processes left running: %v", when, left)
		return nil
	}
	if left := soakDirEntries(tmp); len(left) > 0 {
		t.Errorf("%s: left in TMPDIR (the default --dir): %v", when, left)
		return nil
	}
	return &soakResult{cmdResult: r, path: path}
}

// soakLeftovers lists processes running the ringbench binary under test (run itself, or a
// load-generator child of it), after waiting up to settle for them to go.
func soakLeftovers(settle time.Duration) []string {
	var out []string
	deadline := time.Now().Add(settle)
	for {
		out = out[:0]
		procs, _ := os.ReadDir("/proc")
		for _, p := range procs {
			if _, err := strconv.Atoi(p.Name()); err != nil {
				continue
			}
			exe, err := os.Readlink("/proc/" + p.Name() + "/exe")
			if err == nil && strings.TrimSuffix(exe, " (deleted)") == ringbenchBin {
				cmd, _ := os.ReadFile("/proc/" + p.Name() + "/cmdline")
				out = append(out, fmt.Sprintf("pid %s: %s", p.Name(), strings.ReplaceAll(strings.TrimRight(string(cmd), "\x00"), "\x00", " ")))
			}
		}
		if len(out) == 0 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func soakDirEntries(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// soakCheckListeners fails when a LISTEN socket that appeared since before is held by a ringbench process;
// others (another test binary's, beside this one) are only logged.
func soakCheckListeners(t *testing.T, before map[string]string, when string) {
	t.Helper()
	for ino, addr := range tcpSockets("0A", "") {
		if _, ok := before[ino]; ok {
			continue
		}
		owner, exe := soakSocketOwner(ino)
		if owner == "" {
			continue // closed while we looked
		}
		if exe == ringbenchBin {
			t.Errorf("%s: ringbench process %s still listens on %s", when, owner, addr)
		} else {
			t.Logf("%s: a new listener %s belongs to pid %s (%s), not to ringbench", when, addr, owner, exe)
		}
	}
}

// soakSocketOwner finds the process holding socket inode ino.
func soakSocketOwner(ino string) (pid, exe string) {
	want := "socket:[" + ino + "]"
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		fds, _ := os.ReadDir("/proc/" + p.Name() + "/fd")
		for _, fd := range fds {
			if l, _ := os.Readlink("/proc/" + p.Name() + "/fd/" + fd.Name()); l == want {
				e, _ := os.Readlink("/proc/" + p.Name() + "/exe")
				return p.Name(), e
			}
		}
	}
	return "", ""
}

// soakPeakProblems wants the peak RSS of each series stable: within a run (one process, samples in order) the
// last sample's peak at most 25% + 8 MiB over the first's; across rounds the last round's median at most 50%
// + 16 MiB over the first round's. It returns what is not, and logs every series.
func soakPeakProblems(t *testing.T, peaks map[string][][]int64) []string {
	t.Helper()
	var out []string
	keys := make([]string, 0, len(peaks))
	for k := range peaks {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		rounds := peaks[k]
		missing := false
		for i, p := range rounds {
			if len(p) == 0 || p[0] <= 0 {
				out = append(out, fmt.Sprintf("%s round %d: no peak RSS in the result file", k, i))
				missing = true
				break
			}
			if last := p[len(p)-1]; last > p[0]+p[0]/4+8<<20 {
				out = append(out, fmt.Sprintf("%s round %d: peak RSS grew within the run: %v", k, i, soakMiB(p)))
			}
		}
		if missing {
			continue
		}
		first, last := soakMedian(rounds[0]), soakMedian(rounds[len(rounds)-1])
		if last > first+first/2+16<<20 {
			out = append(out, fmt.Sprintf("%s: peak RSS grew across rounds: first round %v, last %v", k, soakMiB(rounds[0]), soakMiB(rounds[len(rounds)-1])))
		}
		t.Logf("%s: peak RSS first round %v, last round %v", k, soakMiB(rounds[0]), soakMiB(rounds[len(rounds)-1]))
	}
	return out
}

func soakMedian(v []int64) int64 {
	s := append([]int64(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func soakMiB(v []int64) string {
	var b strings.Builder
	for i, x := range v {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%.1fMiB", float64(x)/(1<<20))
	}
	return b.String()
}

// TestSoakCheckersCatchLeftovers proves the soak's checks can fail (it runs without RINGBENCH_SOAK): a
// ringbench process still running is seen, and so is memory that grows.
func TestSoakCheckersCatchLeftovers(t *testing.T) {
	cmd := exec.Command(ringbenchBin, "run", "--workload", "small-file", "--backend", "epoll", "--files", "1",
		"--file-size", "4k", "--duration", "1m", "--warmup", "0", "--count", "1", "--dir", t.TempDir(), "--quiet",
		"--out", filepath.Join(t.TempDir(), "r.json"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Only this process is looked for: a ringbench process of an earlier test in this binary may still be
	// on its way out, and this test proves the checker, not the earlier tests.
	mine := fmt.Sprintf("pid %d: %s run", cmd.Process.Pid, ringbenchBin)
	seen := func(left []string) bool {
		return slices.ContainsFunc(left, func(l string) bool { return strings.HasPrefix(l, mine) })
	}
	// Until the child has exec'd, its command line is not yet ringbench's (a busy machine once showed it
	// empty): wait for the exec, bounded, before the checker looks.
	cmdline := fmt.Sprintf("/proc/%d/cmdline", cmd.Process.Pid)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if b, _ := os.ReadFile(cmdline); bytes.HasPrefix(b, []byte(ringbenchBin+"\x00")) || time.Now().After(deadline) {
			break
		}
	}
	left := soakLeftovers(0)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if !seen(left) {
		t.Errorf("a running ringbench (%s) was not seen: %v", mine, left)
	}
	if left := soakLeftovers(0); seen(left) {
		t.Errorf("ringbench seen after it was reaped: %v", left)
	}

	steady := []int64{20 << 20, 21 << 20, 20 << 20}
	if p := soakPeakProblems(t, map[string][][]int64{"w/b": {steady, steady, steady}}); len(p) > 0 {
		t.Errorf("steady memory flagged: %v", p)
	}
	within := []int64{20 << 20, 30 << 20, 40 << 20}
	across := []int64{60 << 20, 60 << 20, 60 << 20}
	p := soakPeakProblems(t, map[string][][]int64{"w/b": {steady, within, across}, "w/none": {{0, 0}}})
	want := []string{"w/b round 1: peak RSS grew within the run", "w/b: peak RSS grew across rounds", "w/none round 0: no peak RSS"}
	if len(p) != len(want) {
		t.Fatalf("problems %q, want %d", p, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(p[i], w) {
			t.Errorf("problem %d: %q, want %q...", i, p[i], w)
		}
	}
}
