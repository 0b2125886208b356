package main

// Tests of where results go: output paths checked before anything is measured, a result that cannot be
// written where asked kept in $TMPDIR, stdout that does not take the output, and an echo-proxy sample cut
// short by Ctrl-C kept like a file workload's.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/report"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/testsupport"
)

// TestRunRefusesUnwritableOutputsBeforeMeasuring: every output path that could not be written at the end
// is refused with exit 2 and one line naming the flag and the path, before anything is created or measured
// (the sample asked for is a minute long, the time limit shorter), with --dir, TMPDIR and the working
// directory as they were.
func TestRunRefusesUnwritableOutputsBeforeMeasuring(t *testing.T) {
	long := []string{"--backend", "epoll", "--workload", "small-file", "--files", "1", "--file-size", "64k",
		"--warmup", "0", "--count", "1", "--duration", "1m", "-q"}
	cases := []struct {
		name string
		args func(d runDirs) []string
		cwd  func(t *testing.T) string // the working directory; nil: d.cwd
		want func(d runDirs) string
	}{
		{"out in /proc", func(runDirs) []string { return []string{"--out", "/proc/x.json"} }, nil,
			func(runDirs) string { return "--out /proc/x.json: not writable" }},
		{"out an existing directory, with --force", func(d runDirs) []string { return []string{"--out", d.data, "--force"} }, nil,
			func(d runDirs) string { return "--out " + d.data + ": is a directory" }},
		{"out a device, with --force", func(runDirs) []string { return []string{"--out", "/dev/null", "--force"} }, nil,
			func(runDirs) string { return "--out /dev/null: exists and is not a regular file" }},
		{"out in a missing directory", func(d runDirs) []string { return []string{"--out", filepath.Join(d.tmp, "no", "r.json")} }, nil,
			func(d runDirs) string { return "--out " + filepath.Join(d.tmp, "no", "r.json") + ": not writable" }},
		{"default results/ in a read-only working directory", func(runDirs) []string { return nil },
			func(t *testing.T) string { return testsupport.MountTmpfs(t, "ro,size=1m") },
			func(runDirs) string { return "--out results/ringbench-" }},
		{"save-baseline in a missing directory", func(runDirs) []string { return []string{"--save-baseline", "/nonexistent/b.json"} }, nil,
			func(runDirs) string { return "--save-baseline /nonexistent/b.json: not writable" }},
		{"save-baseline the same file as out", func(runDirs) []string { return []string{"--out", "r.json", "--save-baseline", "./r.json"} }, nil,
			func(runDirs) string { return "--save-baseline ./r.json: the same file as --out" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newRunDirs(t)
			if c.cwd != nil {
				d.cwd = c.cwd(t)
			}
			before := tree(t, d.cwd)
			r := d.run(t, 30*time.Second, args([]string{"run", "--dir", d.data}, long, c.args(d))...)
			assertUsageError(t, r, c.want(d))
			if got := tree(t, d.cwd); strings.Join(got, "\n") != strings.Join(before, "\n") {
				t.Errorf("the working directory changed: before %v, after %v", before, got)
			}
			assertEmpty(t, d.data, "--dir")
			d.assertNoTempFiles(t)
		})
	}
}

// TestLoadRefusesUnwritableOutBeforeConnecting: load checks --out before it connects (the target here
// does not listen: a check after connecting would fail on the connection instead).
func TestLoadRefusesUnwritableOutBeforeConnecting(t *testing.T) {
	d := newRunDirs(t)
	r := d.run(t, 30*time.Second, "load", "--target", "127.0.0.1:1", "--duration", "1m", "--out", "/proc/x.json")
	assertUsageError(t, r, "--out /proc/x.json: not writable")
	r = runCmd(t, testsupport.MountTmpfs(t, "ro,size=1m"), 30*time.Second, d.env(), ringbenchBin, "load", "--target", "127.0.0.1:1")
	assertUsageError(t, r, "--out results/ringbench-")
	d.assertNoTempFiles(t)
}

// TestRunKeepsTheResultWhenOutCannotBeWritten: --out on a file system too small for the result passes the
// check (an empty file fits) and fails at the end; the result must then be in $TMPDIR, and the one line
// on stderr (exit 1) must say where.
func TestRunKeepsTheResultWhenOutCannotBeWritten(t *testing.T) {
	d := newRunDirs(t)
	full := testsupport.MountTmpfs(t, "size=4k")
	r := d.run(t, 60*time.Second, args([]string{"run", "--dir", d.data, "--backend", "epoll", "--workload", "small-file",
		"--files", "1", "--file-size", "64k", "--out", filepath.Join(full, "r.json")}, fast)...)
	if r.Code != exitFailure {
		t.Fatalf("exit %d, want %d; stderr: %s", r.Code, exitFailure, r.Stderr)
	}
	m := regexp.MustCompile(`result written to (\S+) instead`).FindStringSubmatch(r.Stderr)
	if m == nil || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 || !strings.Contains(r.Stderr, filepath.Join(full, "r.json")) {
		t.Fatalf("stderr must be one line naming --out and where the result went instead: %q", r.Stderr)
	}
	if filepath.Dir(m[1]) != d.tmp {
		t.Errorf("fallback %s is not in TMPDIR %s", m[1], d.tmp)
	}
	if f := loadResult(t, m[1]); len(f.Samples) != 2 { // one round: a timed and a counted sample
		t.Errorf("fallback holds %d samples, want 2", len(f.Samples))
	}
	if got := tree(t, full); len(got) != 0 {
		t.Errorf("left in the full file system: %v", got)
	}
	if !strings.Contains(r.Stdout, "epoll") {
		t.Errorf("the table is still printed: %q", r.Stdout)
	}
}

// runToFull runs ringbench with stdout on /dev/full (every write fails with ENOSPC).
func runToFull(t *testing.T, dir string, env []string, a ...string) cmdResult {
	t.Helper()
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer full.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ringbenchBin, a...)
	cmd.Dir, cmd.Env, cmd.Stdout = dir, append(os.Environ(), env...), full
	var errb strings.Builder
	cmd.Stderr = &errb
	err = cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmdResult{Stderr: errb.String(), Code: cmd.ProcessState.ExitCode()}
}

// TestStdoutErrorsAreReported: output that stdout does not take is an error, one line on stderr: exit 1
// for run and probe, 2 (compare's "usage or I/O error") for compare, whose 1 means a regression.
func TestStdoutErrorsAreReported(t *testing.T) {
	d := newRunDirs(t)
	for _, format := range []string{"table", "json"} {
		out := filepath.Join(d.cwd, format+".json")
		r := runToFull(t, d.cwd, d.env(), args([]string{"run", "--dir", d.data, "--backend", "epoll", "--workload", "small-file",
			"--files", "1", "--file-size", "64k", "--format", format, "--out", out}, fast)...)
		if r.Code != exitFailure || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 ||
			!strings.Contains(r.Stderr, "no space left on device") || !strings.Contains(r.Stderr, out) {
			t.Errorf("run --format %s > /dev/full: exit %d, stderr %q; want exit 1 and one line naming the error and the result file", format, r.Code, r.Stderr)
		}
		loadResult(t, out)
	}
	for _, a := range [][]string{{"probe"}, {"probe", "--json"}} {
		r := runToFull(t, d.cwd, d.env(), a...)
		if r.Code != exitFailure || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 || !strings.Contains(r.Stderr, "no space left on device") {
			t.Errorf("%v > /dev/full: exit %d, stderr %q", a, r.Code, r.Stderr)
		}
	}
	base := writeResult(t, d.tmp, "base.json", "", cmpEnv("6.18.0"), cmpSamples(10, 100_000, 3, "epoll"))
	same := writeResult(t, d.tmp, "same.json", "", cmpEnv("6.18.0"), cmpSamples(10, 100_000, 3, "epoll"))
	r := runToFull(t, d.cwd, d.env(), "compare", base, same)
	if r.Code != exitUsage || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 || !strings.Contains(r.Stderr, "no space left on device") {
		t.Errorf("compare > /dev/full: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

// TestCompareRefusesOutNamingAnInput: --out naming one of the files compared is refused, --force or not,
// under any spelling of the path, and the file is kept as it was.
func TestCompareRefusesOutNamingAnInput(t *testing.T) {
	dir := t.TempDir()
	base := writeResult(t, dir, "base.json", "", cmpEnv("6.18.0"), cmpSamples(10, 100_000, 3, "epoll"))
	same := writeResult(t, dir, "same.json", "", cmpEnv("6.18.0"), cmpSamples(10, 100_000, 3, "epoll"))
	if err := os.Symlink(same, filepath.Join(dir, "link.json")); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(same)
	for _, out := range []string{"same.json", "./same.json", "link.json", same} {
		r := runRingbench(t, dir, cmpTimeout, "compare", "--out", out, "--force", base, "same.json")
		assertUsageError(t, r, "--out "+out+": is one of the files compared")
	}
	if got, _ := os.ReadFile(same); string(got) != string(want) {
		t.Error("an input was changed")
	}
}

// TestRunEchoProxyKeepsASampleCutShortByCtrlC: Ctrl-C (SIGINT to the whole process group, the load
// generator child included) in the middle of an echo-proxy sample ends the run with exit 130 and a result
// file holding the cut-short sample, marked interrupted, as for the file workloads.
func TestRunEchoProxyKeepsASampleCutShortByCtrlC(t *testing.T) {
	d := newRunDirs(t)
	const sample = 30 * time.Second
	cmd := exec.Command(ringbenchBin, "run", "--backend", "epoll", "--workload", "echo-proxy", "--warmup", "0",
		"--duration", sample.String(), "--count", "1", "-q", "--out", "r.json")
	cmd.Dir, cmd.Env = d.cwd, append(os.Environ(), d.env()...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a group of its own, as a terminal's foreground job
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
	})
	// The load generator child starts at Prepare; it burns CPU only while load runs, and the window opens
	// at most 200 ms after the load starts, so 700 ms of its CPU means the window is well under way.
	waitFor(t, 60*time.Second, "the load generator to run load for a while", func() bool {
		for _, c := range children(cmd.Process.Pid) { // others come and go (the environment probe's)
			if procCPU(c) >= 700*time.Millisecond {
				return true
			}
		}
		return false
	})
	sent := time.Now()
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit within 30 s of SIGINT; stderr:\n%s", stderr.String())
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() || ws.ExitStatus() != exitInterrupted {
		t.Fatalf("%s, want exit %d; stderr:\n%s", exitCode(ws), exitInterrupted, stderr.String())
	}
	if took := time.Since(sent); took > 15*time.Second {
		t.Errorf("took %v to stop after SIGINT", took)
	}
	f := loadResult(t, filepath.Join(d.cwd, "r.json"))
	if !f.Interrupted || len(f.Samples) != 1 {
		t.Fatalf("interrupted %v, %d samples: want the cut-short sample in a result marked interrupted", f.Interrupted, len(f.Samples))
	}
	s := f.Samples[0]
	if s.Seconds <= 0 || s.Seconds >= sample.Seconds() || s.Ops == 0 || s.OpsPerSec <= 0 ||
		!strings.Contains(fmt.Sprint(s.Warnings), "interrupted: cut short after") {
		t.Errorf("%.3f s, %d ops, warnings %v: want it cut short, counted and marked", s.Seconds, s.Ops, s.Warnings)
	}
	d.assertNoTempFiles(t)
}

// children are the pids of pid's children, from /proc/PID/task/*/children.
func children(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, p := range tasks {
		b, _ := os.ReadFile(p)
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// reportInput writes a result file with one sample (latency histogram included) per backend on workload.
func reportInput(t *testing.T, dir, workload string, backends []string) string {
	t.Helper()
	f := &result.File{}
	for i, b := range backends {
		h := result.NewHistogram()
		for v := int64(1); v <= 200; v++ {
			_ = h.RecordValue(v * int64(1000+i))
		}
		f.Samples = append(f.Samples, result.Sample{Backend: b, Workload: workload, Seconds: 1, Ops: 1000,
			OpsPerSec: 1000, Latency: result.LatencyFrom(h), EntersPerOp: -1})
	}
	p := filepath.Join(dir, "in.json")
	if err := result.Save(p, f, false); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReportBoundsItsWork: a file of 3,000 backends is refused with one line naming the count and the
// cap (it once took 4 GB and drew a PNG 136,443 pixels wide), writing nothing; 5,000-character names
// render, shortened.
func TestReportBoundsItsWork(t *testing.T) {
	dir := t.TempDir()
	var backends []string
	for i := range 3000 {
		backends = append(backends, fmt.Sprintf("backend-%04d", i))
	}
	in := reportInput(t, dir, "small-file", backends)
	r := runRingbench(t, dir, 120*time.Second, "report", in, "--out", "out")
	assertUsageError(t, r, fmt.Sprintf("has 3000 series (backends × parameters × files), more than the %d a chart shows", report.MaxSeriesPerChart))
	if _, err := os.Stat(filepath.Join(dir, "out")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--out was created: %v", err)
	}

	dir = t.TempDir()
	long := strings.Repeat("w", 5000)
	in = reportInput(t, dir, long, []string{"epoll", strings.Repeat("b", 5000)})
	r = runRingbench(t, dir, 120*time.Second, "report", in, "--out", "out")
	if r.Code != 0 || r.Stderr != "" {
		t.Fatalf("5,000-character names: exit %d, stderr %.300q", r.Code, r.Stderr)
	}
	page, err := os.ReadFile(filepath.Join(dir, "out", "index.html"))
	if err != nil || !strings.Contains(string(page), `title="`+long+`"`) {
		t.Errorf("index.html does not keep the whole name in a title: %v", err)
	}
}
