package main

// Tests of `ringbench run` through the real binary on the real kernel: the kernel's syscall counts checked
// against perf, --verify, bad input, io_uring denied by seccomp, the result file and formats, and signals at
// several moments of a run. Every run uses a private working directory, --dir and TMPDIR, so that what a
// run created or left behind can be checked exactly.

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/testsupport"
)

// runDirs is one run's private directories: cwd (where results/ goes), data (--dir) and tmp (TMPDIR).
type runDirs struct {
	cwd, data, tmp string
}

func newRunDirs(t *testing.T) runDirs {
	t.Helper()
	root := t.TempDir()
	d := runDirs{cwd: filepath.Join(root, "cwd"), data: filepath.Join(root, "data"), tmp: filepath.Join(root, "tmp")}
	for _, p := range []string{d.cwd, d.data, d.tmp} {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func (d runDirs) env() []string { return []string{"TMPDIR=" + d.tmp} }

// run runs ringbench in d.cwd with TMPDIR=d.tmp.
func (d runDirs) run(t *testing.T, timeout time.Duration, args ...string) cmdResult {
	t.Helper()
	return runCmd(t, d.cwd, timeout, d.env(), append([]string{ringbenchBin}, args...)...)
}

// tree lists everything under dir (relative paths, directories with a trailing slash), sorted.
func tree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil
		}
		if fi.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// assertEmpty checks that a run left nothing in dir (what says which directory it is).
func assertEmpty(t *testing.T, dir, what string) {
	t.Helper()
	if got := tree(t, dir); len(got) != 0 {
		t.Errorf("%s %s is not empty after the run: %v", what, dir, got)
	}
}

// assertNoTempFiles checks that TMPDIR is empty: no temporary file survives a run, whatever its end.
func (d runDirs) assertNoTempFiles(t *testing.T) {
	t.Helper()
	assertEmpty(t, d.tmp, "TMPDIR")
}

// resultFiles lists the result files in cwd/results.
func (d runDirs) resultFiles(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(d.cwd, "results", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func loadResult(t *testing.T, path string) *result.File {
	t.Helper()
	f, err := result.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// fast are the flags of a short run: one sample of 100 ms, no warm-up.
var fast = []string{"--warmup", "0", "--count", "1", "--duration", "100ms", "-q"}

func args(a ...[]string) []string {
	var out []string
	for _, x := range a {
		out = append(out, x...)
	}
	return out
}

// runnableBackends are the backends that can run on this kernel, in registry order.
func runnableBackends(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, n := range backend.Names() {
		b, err := backend.Lookup(n)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Available(); err != nil {
			t.Logf("backend %s cannot run here: %v", n, err)
			continue
		}
		out = append(out, n)
	}
	return out
}

// requireURing skips when the kernel itself (not a test's sandbox) refuses io_uring, saying why.
func requireURing(t *testing.T) {
	t.Helper()
	b, err := backend.Lookup("uring")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Available(); err != nil {
		t.Skipf("io_uring cannot run on this kernel: %v", err)
	}
}

// ---- 1. syscalls per op against perf stat ----

// perfPath finds perf. CI installs linux-perf: there its absence is a failure; elsewhere a skip.
func perfPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("perf")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/perf"); serr == nil {
			return "/usr/bin/perf"
		}
		if os.Getenv("CI") != "" {
			t.Fatalf("perf is required under CI (apt-get install linux-perf): %v", err)
		}
		t.Skipf("perf is not installed (apt-get install linux-perf); under CI this fails")
	}
	return p
}

// perfCounts is what `perf stat -x,` reported, by event name.
type perfCounts map[string]uint64

// perfStatRun runs ringbench with args under `perf stat -p PID`, attached before ringbench's first
// instruction: a shell stops itself, perf attaches to it, and only then does the shell exec ringbench (the
// counters survive exec, and every thread ringbench creates inherits them). perf stops when the process
// exits, so it counts the whole life of the process: the sample plus what ringbench does around it. env is
// added to ringbench's environment.
func perfStatRun(t *testing.T, perf string, d runDirs, env, events []string, args ...string) (perfCounts, cmdResult) {
	t.Helper()
	argv := append([]string{"-c", `kill -STOP $$; exec "$0" "$@"`, ringbenchBin}, args...)
	cmd := exec.Command("/bin/sh", argv...)
	cmd.Dir = d.cwd
	cmd.Env = append(append(os.Environ(), d.env()...), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	// The shell's stop, reported to its parent: perf may attach from then on.
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, syscall.WUNTRACED, nil); err != nil || !ws.Stopped() {
		t.Fatalf("the shell did not stop itself: %v (status %v)", err, ws)
	}

	// perf starts with its counters disabled (-D -1) and enables them on "enable" through its control pipe,
	// acknowledging once they are on: ringbench is continued only then.
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer ctlW.Close()
	ackR, ackW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer ackR.Close()
	perfOut := filepath.Join(t.TempDir(), "perf.csv")
	pargs := []string{"stat", "-x,", "-o", perfOut, "-D", "-1", "--control", "fd:3,4", "-p", strconv.Itoa(pid)}
	for _, e := range events {
		pargs = append(pargs, "-e", e)
	}
	pcmd := exec.Command(perf, pargs...)
	pcmd.ExtraFiles = []*os.File{ctlR, ackW}
	var perrb bytes.Buffer
	pcmd.Stderr = &perrb
	if err := pcmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctlR.Close()
	ackW.Close()
	perfDone := make(chan error, 1)
	go func() { perfDone <- pcmd.Wait() }()
	if _, err := fmt.Fprintln(ctlW, "enable"); err != nil {
		t.Fatalf("perf control: %v (%s)", err, perrb.String())
	}
	ack := make([]byte, 16)
	if n, err := ackR.Read(ack); err != nil || !strings.HasPrefix(string(ack[:n]), "ack") {
		t.Fatalf("perf did not acknowledge enable: %q %v (%s)", ack[:n], err, perrb.String())
	}

	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	werr := cmd.Wait()
	killed = true
	code := 0
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		code = ee.ExitCode()
	} else if werr != nil {
		t.Fatal(werr)
	}
	select {
	case err := <-perfDone:
		if err != nil {
			t.Fatalf("perf stat: %v\n%s", err, perrb.String())
		}
	case <-time.After(15 * time.Second):
		_ = pcmd.Process.Signal(os.Interrupt)
		<-perfDone
		t.Fatalf("perf stat did not end with the process it counted")
	}
	data, err := os.ReadFile(perfOut)
	if err != nil {
		t.Fatal(err)
	}
	return parsePerfCSV(t, data), cmdResult{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// parsePerfCSV reads perf stat -x, output: count,unit,event,... per line, comments starting with #.
func parsePerfCSV(t *testing.T, data []byte) perfCounts {
	t.Helper()
	pc := perfCounts{}
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		rec, err := csv.NewReader(strings.NewReader(line)).Read()
		if err != nil || len(rec) < 3 {
			t.Fatalf("perf stat line %q: %v", line, err)
		}
		v, err := strconv.ParseUint(rec[0], 10, 64)
		if err != nil {
			t.Fatalf("perf stat could not count %s: %q (perf_event_paranoid, or tracefs not readable?)", rec[2], rec[0])
		}
		pc[rec[2]] = v
	}
	return pc
}

// TestRunSyscallsPerOpAgreeWithPerfStat checks ringbench's kernel-counted syscalls against an outside
// `perf stat -p PID`, exactly.
//
// perf counts the whole life of the process, ringbench one counted sample: they can be compared exactly only
// on syscalls whose count is known on both sides. io_uring_enter is made only inside samples: on uring,
// ringbench's count, perf's and the ring's own must be one number. pread64 is one per op on gostd, made by
// whichever threads Go's scheduler picks, threads created during the sample included: ringbench's count must
// be the ops, and perf's must exceed it by exactly the preads made outside samples, which the uring run (no
// pread64 in its sample) measures. A count that missed a thread or reached outside the sample would be off
// by at least one; a window reaching back to the data set's creation would hold its dozens of openat (the
// sample opens at most its one file). The totals are only bounded: the sample's cannot exceed the life's.
//
// The Go runtime makes pread64 too, since Go 1.25: it reads its cgroup's CPU limit at start-up and then,
// from its sysmon thread, again every second or so to update GOMAXPROCS. GODEBUG=updatemaxprocs=0 keeps the start-up read only, so
// that no runtime pread64 can fall inside a sample.
func TestRunSyscallsPerOpAgreeWithPerfStat(t *testing.T) {
	perf := perfPath(t)
	requireURing(t)
	d := newRunDirs(t)
	const total, enters, preads, opens = "raw_syscalls:sys_enter", "syscalls:sys_enter_io_uring_enter",
		"syscalls:sys_enter_pread64", "syscalls:sys_enter_openat"
	events := []string{total, enters, preads, opens}
	env := []string{"GODEBUG=updatemaxprocs=0"}
	// Counted samples only: a timed sample would add syscalls to perf's count that ringbench does not count.
	base := []string{"run", "--workload", "small-file", "--files", "1", "--file-size", "16M", "--duration", "300ms",
		"--warmup", "0", "--count", "1", "--samples", "counted", "--format", "json", "-q", "--dir", d.data}

	type measured struct {
		perf perfCounts
		s    result.Sample
	}
	measure := func(backend string) measured {
		out := backend + ".json"
		pc, r := perfStatRun(t, perf, d, env, events, append(base, "--backend", backend, "--out", out)...)
		if r.Code != 0 {
			t.Fatalf("run --backend %s: exit %d\n%s", backend, r.Code, r.Stderr)
		}
		f := loadResult(t, filepath.Join(d.cwd, out))
		if len(f.Samples) != 1 {
			t.Fatalf("want 1 sample, got %d", len(f.Samples))
		}
		s := f.Samples[0]
		if !s.Syscalls.Available {
			if os.Getenv("CI") != "" {
				t.Fatalf("ringbench could not count syscalls: %s", s.Syscalls.Reason)
			}
			t.Skipf("ringbench cannot count syscalls here: %s", s.Syscalls.Reason)
		}
		t.Logf("%s: %d ops; ringbench %d syscalls (io_uring_enter %d, pread64 %d, openat %d); perf %d (io_uring_enter %d, pread64 %d, openat %d)",
			backend, s.Ops, s.Syscalls.Total, s.Syscalls.ByName["io_uring_enter"], s.Syscalls.ByName["pread64"],
			s.Syscalls.ByName["openat"], pc[total], pc[enters], pc[preads], pc[opens])
		if pc[total] < s.Syscalls.Total {
			t.Errorf("%s: perf counted %d syscalls over the whole process, ringbench %d in its sample alone", backend, pc[total], s.Syscalls.Total)
		}
		// The sample opens at most the data set's one file (gostd opens it as its sample starts); the data set's
		// creation and run's other set-up open dozens.
		if got := s.Syscalls.ByName["openat"]; got > 1 || pc[opens] < 10 {
			t.Errorf("%s: ringbench counted %d openat in the sample, want at most the 1 file; perf %d in the whole process",
				backend, got, pc[opens])
		}
		return measured{pc, s}
	}
	uring, gostd := measure("uring"), measure("gostd")

	if got := uring.s.Syscalls.ByName["io_uring_enter"]; got != uring.perf[enters] || got == 0 {
		t.Errorf("io_uring_enter: ringbench counted %d, perf %d", got, uring.perf[enters])
	}
	if ring := int64(math.Round(uring.s.EntersPerOp * float64(uring.s.Ops))); ring != int64(uring.perf[enters]) {
		t.Errorf("io_uring_enter: the ring counted %d, perf %d", ring, uring.perf[enters])
	}
	outside := uring.perf[preads] // ringbench's preads outside samples (uring's sample makes none)
	if got := uring.s.Syscalls.ByName["pread64"]; got != 0 {
		t.Errorf("uring sample: ringbench counted %d pread64, want 0", got)
	}
	if got := gostd.s.Syscalls.ByName["pread64"]; got != uint64(gostd.s.Ops) || got+outside != gostd.perf[preads] {
		t.Errorf("gostd pread64: ringbench %d, want the %d ops; perf %d, want ringbench's + the %d made outside samples",
			got, gostd.s.Ops, gostd.perf[preads], outside)
	}
	if n := gostd.perf[enters]; n != 0 {
		t.Errorf("gostd: perf counted %d io_uring_enter", n)
	}
	assertEmpty(t, d.data, "--dir")
	d.assertNoTempFiles(t)
}

// ---- 2. --verify ----

// TestRunVerifyPassesOnEveryBackend reads every byte through every runnable backend with --verify.
func TestRunVerifyPassesOnEveryBackend(t *testing.T) {
	d := newRunDirs(t)
	r := d.run(t, 90*time.Second, args([]string{"run", "--backend", "all", "--workload", "small-file,many-file", "--verify",
		"--files", "32", "--file-size", "16k", "--dir", d.data, "--out", "r.json"}, fast)...)
	if r.Code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", r.Code, r.Stderr)
	}
	f := loadResult(t, filepath.Join(d.cwd, "r.json"))
	if f.Config.Options["verify"] != "true" {
		t.Errorf("config options %v do not record --verify", f.Config.Options)
	}
	for _, w := range []string{"small-file", "many-file"} {
		for _, b := range runnableBackends(t) {
			n := 0
			for _, s := range f.Samples {
				if s.Workload == w && s.Backend == b {
					n++
					if s.Ops < 1 {
						t.Errorf("%s on %s: no op verified", w, b)
					}
				}
			}
			if n != 2 {
				t.Errorf("%s on %s: %d samples, want 2 (timed and counted)", w, b, n)
			}
		}
	}
	assertEmpty(t, d.data, "--dir")
	d.assertNoTempFiles(t)
}

// TestRunVerifyDetectsCorruptedDataSet keeps a data set, flips one byte in one file of it, runs again on the
// reused set, and wants every backend to fail naming the file and the offset.
func TestRunVerifyDetectsCorruptedDataSet(t *testing.T) {
	d := newRunDirs(t)
	common := args([]string{"run", "--verify", "--keep", "--files", "8", "--file-size", "8k", "--dir", d.data}, fast)
	r := d.run(t, 60*time.Second, args(common, []string{"--backend", "epoll", "--out", "first.json"})...)
	if r.Code != 0 {
		t.Fatalf("first run: exit %d\n%s", r.Code, r.Stderr)
	}
	// File 3 at offset 5000 (in the second 4 KiB block) of each kept set.
	const off = 5000
	corrupt := map[string]string{}
	for _, w := range []string{"small-file", "many-file"} {
		m, _ := filepath.Glob(filepath.Join(d.data, "ringbench-"+w+"-*", "d00000", "f00000003"))
		if len(m) != 1 {
			t.Fatalf("%s: the kept data set has no file 3: %v (--dir holds %v)", w, m, tree(t, d.data))
		}
		fh, err := os.OpenFile(m[0], os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 1)
		if _, err := fh.ReadAt(b, off); err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0x01
		if _, err := fh.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		corrupt[w] = m[0]
	}
	before := tree(t, d.data)

	r = d.run(t, 90*time.Second, args(common, []string{"--backend", "all", "--out", "second.json"})...)
	if r.Code != exitFailure {
		t.Fatalf("run on the corrupted set: exit %d, want %d\nstderr:\n%s", r.Code, exitFailure, r.Stderr)
	}
	for w, path := range corrupt {
		for _, b := range runnableBackends(t) {
			// e.g. "small-file on uring: /…/f00000003: verify: file 3, block at offset 4096 (4096 bytes): first
			// mismatch at file offset 5000: …"
			re := regexp.MustCompile(regexp.QuoteMeta(w+" on "+b+": "+path+": ") + `verify: .*first mismatch at file offset ` + strconv.Itoa(off))
			if !re.MatchString(r.Stderr) {
				t.Errorf("%s on %s: no error naming %s and offset %d; stderr:\n%s", w, b, path, off, r.Stderr)
			}
		}
	}
	if got := tree(t, d.data); strings.Join(got, "\n") != strings.Join(before, "\n") {
		t.Errorf("the reused data sets changed: before %v, after %v", before, got)
	}
	d.assertNoTempFiles(t)
}

// ---- 3. bad input ----

// TestRunBadInputExit2TouchingNothing gives run bad values: each must end with exit 2 and one line naming
// the flag, before measuring anything (runs ask for a minute-long sample, and the time limit is shorter),
// and with nothing created or deleted in --dir, the working directory (no results/) or TMPDIR.
func TestRunBadInputExit2TouchingNothing(t *testing.T) {
	long := []string{"--warmup", "0", "--count", "1", "--duration", "1m", "-q"}
	cases := []struct {
		name string
		args []string
		dir  func(t *testing.T) string // --dir; nil: a fresh directory holding one file of the user's
		want string
	}{
		{"unknown backend", []string{"--backend", "epoll,nope"}, nil, `--backend: unknown backend "nope"`},
		{"unknown workload", []string{"--workload", "nope"}, nil, `--workload: unknown workload "nope"`},
		{"zero file size", []string{"--file-size", "0"}, nil, `--file-size "0"`},
		{"negative file size", []string{"--file-size", "-4k"}, nil, `--file-size "-4k"`},
		{"zero block size", []string{"--block-size", "0"}, nil, `--block-size "0"`},
		{"odd block size", []string{"--block-size", "1000"}, nil, `--block-size 1000`},
		{"block larger than file", []string{"--workload", "small-file", "--file-size", "1k"}, nil, `--file-size 1024`},
		{"many-file file too large", []string{"--workload", "many-file", "--file-size", "2M"}, nil, `--file-size 2097152`},
		{"zero files", []string{"--files", "0"}, nil, `--files 0`},
		{"negative files", []string{"--files", "-1"}, nil, `--files -1`},
		{"zero depth", []string{"--depth", "0"}, nil, `--depth 0`},
		{"batch over depth", []string{"--depth", "8", "--batch", "16"}, nil, `--batch 16 is larger than --depth 8`},
		{"zero conns", []string{"--workload", "echo-proxy", "--conns", "0"}, nil, `--conns 0`},
		{"negative rate", []string{"--workload", "echo-proxy", "--rate", "-5"}, nil, `--rate -5`},
		{"bad topology", []string{"--workload", "small-file,echo-proxy", "--topology", "ring"}, nil, `--topology "ring"`},
		{"sq-cpu not ours", []string{"--backend", "sqpoll", "--sq-cpu", "4095"}, nil, `--sq-cpu 4095: not a CPU this process may use`},
		{"zero count", []string{"--count", "0"}, nil, `--count 0`},
		{"zero duration", []string{"--duration", "0"}, nil, `--duration 0s`},
		{"short interval", []string{"--interval", "5ms"}, nil, `--interval 5ms: at least 10ms`},
		{"negative interval", []string{"--interval", "-1s"}, nil, `--interval -1s`},
		{"interval over duration", []string{"--interval", "2m"}, nil, `--interval 2m0s: longer than a sample`},
		{"bogus format", []string{"--format", "bogus"}, nil, `--format "bogus"`},
		{"bogus pattern", []string{"--pattern", "zigzag"}, nil, `--pattern "zigzag"`},
		{"nonexistent dir", nil, func(t *testing.T) string { return filepath.Join(t.TempDir(), "missing") }, `--dir`},
		{"read-only dir", nil, func(t *testing.T) string { return testsupport.MountTmpfs(t, "ro,size=1m") }, `not writable`},
		{"full dir", []string{"--workload", "small-file", "--file-size", "4M"},
			func(t *testing.T) string { return testsupport.MountTmpfs(t, "size=1m") }, `not enough free space for the small-file data set`},
		// small-file (its default 1 file, of 64 KiB) fits in 20 MiB, many-file (its default 10,000 files) does
		// not: it must fail before small-file is measured, and small-file's data set must be gone again.
		{"full dir for the second workload", []string{"--workload", "small-file,many-file", "--file-size", "64k"},
			func(t *testing.T) string { return testsupport.MountTmpfs(t, "size=20m") }, `not enough free space for the many-file data set`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newRunDirs(t)
			dir := d.data
			if c.dir != nil {
				dir = c.dir(t)
			} else if err := os.WriteFile(filepath.Join(dir, "users-file"), []byte("not ringbench's"), 0o644); err != nil {
				t.Fatal(err)
			}
			before := tree(t, dir)
			r := d.run(t, 30*time.Second, args([]string{"run", "--dir", dir}, long, c.args)...)
			assertUsageError(t, r, c.want)
			if c.dir != nil && !strings.Contains(r.Stderr, "--dir "+dir+": ") {
				t.Errorf("stderr does not name --dir %s: %q", dir, r.Stderr)
			}
			if got := tree(t, dir); strings.Join(got, "\n") != strings.Join(before, "\n") {
				t.Errorf("--dir changed: before %v, after %v", before, got)
			}
			assertEmpty(t, d.cwd, "the working directory")
			d.assertNoTempFiles(t)
		})
	}
}

// TestRunRefusesExistingOutBeforeMeasuring: an existing --out (or --save-baseline) without --force is
// refused with exit 2 before anything is measured (the sample asked for is a minute long), and kept as it was.
func TestRunRefusesExistingOutBeforeMeasuring(t *testing.T) {
	for _, flag := range []string{"--out", "--save-baseline"} {
		t.Run(flag, func(t *testing.T) {
			d := newRunDirs(t)
			existing := writeFile(t, d.cwd, "existing.json", "precious")
			r := d.run(t, 30*time.Second, "run", "--dir", d.data, "--duration", "1m", "--warmup", "0", "-q", flag, "existing.json")
			assertUsageError(t, r, flag+" existing.json: file exists")
			if b, _ := os.ReadFile(existing); string(b) != "precious" {
				t.Errorf("%s was changed: %q", existing, b)
			}
			if got := tree(t, d.cwd); len(got) != 1 {
				t.Errorf("the working directory holds %v, want only existing.json", got)
			}
			assertEmpty(t, d.data, "--dir")
			d.assertNoTempFiles(t)
		})
	}
}

// ---- 4. io_uring denied ----

// TestRunWithIOUringDenied runs under `ringbench sandbox --deny io_uring` (a seccomp filter: io_uring_setup
// fails with EPERM, as under a container's default profile).
func TestRunWithIOUringDenied(t *testing.T) {
	requireURing(t)
	sandbox := []string{ringbenchBin, "sandbox", "--deny", "io_uring", "--", ringbenchBin}

	t.Run("uring asked for by name", func(t *testing.T) {
		d := newRunDirs(t)
		r := runCmd(t, d.cwd, 30*time.Second, d.env(), args(sandbox, []string{"run", "--backend", "uring", "--dir", d.data}, fast)...)
		if r.Code != exitUnsupported {
			t.Errorf("exit %d, want %d; stderr %q", r.Code, exitUnsupported, r.Stderr)
		}
		msg := strings.TrimRight(r.Stderr, "\n")
		if strings.Contains(msg, "\n") || !strings.Contains(msg, "--backend uring cannot run here") || !strings.Contains(msg, "EPERM") {
			t.Errorf("want one line naming --backend uring and EPERM, got %q", r.Stderr)
		}
		assertEmpty(t, d.cwd, "the working directory")
		assertEmpty(t, d.data, "--dir")
		d.assertNoTempFiles(t)
	})

	t.Run("all backends", func(t *testing.T) {
		d := newRunDirs(t)
		r := runCmd(t, d.cwd, 60*time.Second, d.env(), args(sandbox, []string{"run", "--backend", "all", "--dir", d.data,
			"--files", "16", "--file-size", "8k", "--out", "r.json"}, fast)...)
		if r.Code != 0 {
			t.Fatalf("exit %d\nstderr:\n%s", r.Code, r.Stderr)
		}
		f := loadResult(t, filepath.Join(d.cwd, "r.json"))
		got := map[string]bool{}
		for _, s := range f.Samples {
			got[s.Backend+" "+s.Workload] = true
		}
		for _, want := range []string{"epoll small-file", "gostd small-file", "epoll many-file", "gostd many-file"} {
			if !got[want] {
				t.Errorf("no sample of %s; samples: %v", want, got)
			}
		}
		if len(got) != 4 {
			t.Errorf("samples %v, want epoll and gostd on both workloads only", got)
		}
		skipped := map[string]string{}
		for _, s := range f.Skipped {
			skipped[s.Backend] = s.Reason
		}
		for _, b := range []string{"uring", "sqpoll"} {
			if !strings.Contains(skipped[b], "EPERM") {
				t.Errorf("skipped[%s] = %q, want the EPERM reason (skipped: %+v)", b, skipped[b], f.Skipped)
			}
			if !regexp.MustCompile(`(?m)^skipped ` + b + `: .*EPERM`).MatchString(r.Stdout) {
				t.Errorf("the table does not say %s was skipped and why:\n%s", b, r.Stdout)
			}
		}
		assertEmpty(t, d.data, "--dir")
		d.assertNoTempFiles(t)
	})
}

// ---- 5. the result file and the formats ----

// TestRunResultFieldsFormatsAndPaths checks the default result path, --save-baseline, every field of a
// sample, and the json, gobench and markdown formats.
func TestRunResultFieldsFormatsAndPaths(t *testing.T) {
	d := newRunDirs(t)
	common := args([]string{"run", "--backend", "epoll,uring", "--workload", "small-file,many-file", "--files", "16",
		"--file-size", "8k", "--dir", d.data}, fast)
	start := time.Now().UTC().Truncate(time.Second)
	r := d.run(t, 60*time.Second, args(common, []string{"--format", "json", "--save-baseline", "baseline.json"})...)
	if r.Code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", r.Code, r.Stderr)
	}
	files := d.resultFiles(t)
	if len(files) != 1 {
		t.Fatalf("results/ holds %v, want one file", files)
	}
	name := filepath.Base(files[0])
	m := regexp.MustCompile(`^ringbench-(\d{8}-\d{6})\.json$`).FindStringSubmatch(name)
	if m == nil {
		t.Fatalf("default result name %q, want results/ringbench-YYYYMMDD-HHMMSS.json", name)
	}
	if ts, err := time.Parse("20060102-150405", m[1]); err != nil || ts.Before(start) || ts.After(time.Now().UTC()) {
		t.Errorf("result name %q does not carry the run's UTC time (started %v)", name, start)
	}
	saved, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(d.cwd, "baseline.json")); err != nil || !bytes.Equal(b, saved) {
		t.Errorf("--save-baseline: %v; want a copy of %s", err, name)
	}
	if !strings.Contains(r.Stderr, "result written to "+filepath.Join("results", name)) {
		t.Errorf("stderr does not say where the result went: %q", r.Stderr)
	}
	// stdout is the JSON alone, the same result.
	if _, err := result.Decode([]byte(r.Stdout)); err != nil {
		t.Fatalf("--format json: stdout is not a result: %v\n%s", err, r.Stdout)
	}
	var printed, file map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &printed); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(saved, &file); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(printed) != fmt.Sprint(file) {
		t.Errorf("the JSON printed differs from the file saved")
	}
	checkResultFields(t, file)

	t.Run("gobench", func(t *testing.T) {
		r := d.run(t, 60*time.Second, args(common, []string{"--format", "gobench", "--out", "g.json"})...)
		if r.Code != 0 {
			t.Fatalf("exit %d\nstderr:\n%s", r.Code, r.Stderr)
		}
		for _, w := range []string{"SmallFile", "ManyFile"} {
			for _, b := range []string{"epoll", "uring"} {
				// The timed sample's line has the timing units, the counted sample's the syscall units.
				timed := regexp.MustCompile(`(?m)^Benchmark` + w + `/backend=` + b + `/\S+-\d+\s+\d+\s+[\d.e+]+ ns/op\s.*[\d.e+]+ ops/s\s`)
				counted := regexp.MustCompile(`(?m)^Benchmark` + w + `/backend=` + b + `/\S+-\d+\s+\d+\s+[\d.e+]+ syscalls/op`)
				if !timed.MatchString(r.Stdout) || !counted.MatchString(r.Stdout) {
					t.Errorf("no timed or no counted benchmark line for %s on %s:\n%s", w, b, r.Stdout)
				}
			}
		}
		for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
			if line != "" && !regexp.MustCompile(`^(Benchmark\S+ |Unit \S+ |[^\s:]+: )`).MatchString(line) {
				t.Errorf("gobench output must hold only benchmark, Unit and key: value lines, got %q", line)
			}
		}
	})
	t.Run("markdown", func(t *testing.T) {
		r := d.run(t, 60*time.Second, args(common, []string{"--format", "markdown", "--out", "m.json"})...)
		if r.Code != 0 {
			t.Fatalf("exit %d\nstderr:\n%s", r.Code, r.Stderr)
		}
		for _, want := range []string{"### small-file", "### many-file", "| backend |", "|---|", "| epoll |", "| uring |"} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("markdown lacks %q:\n%s", want, r.Stdout)
			}
		}
	})
	assertEmpty(t, d.data, "--dir")
	d.assertNoTempFiles(t)
}

// checkResultFields wants every field the issue names in every sample, with sane values, and the environment
// fingerprint.
func checkResultFields(t *testing.T, file map[string]any) {
	t.Helper()
	num := func(m map[string]any, path string) float64 {
		t.Helper()
		var v any = m
		for _, k := range strings.Split(path, ".") {
			mm, ok := v.(map[string]any)
			if !ok {
				t.Errorf("%s: not an object on the way", path)
				return math.NaN()
			}
			if v, ok = mm[k]; !ok {
				t.Errorf("field %s missing", path)
				return math.NaN()
			}
		}
		f, ok := v.(float64)
		if !ok {
			t.Errorf("field %s = %v, not a number", path, v)
			return math.NaN()
		}
		return f
	}
	samples, _ := file["samples"].([]any)
	if len(samples) != 8 {
		t.Fatalf("want 8 samples (4 timed, 4 counted), got %d", len(samples))
	}
	kinds := map[any]int{}
	for _, x := range samples {
		s := x.(map[string]any)
		who := fmt.Sprintf("%v on %v, %v", s["workload"], s["backend"], s["kind"])
		kinds[s["kind"]]++
		ops := num(s, "ops")
		if !(ops > 0) || !(num(s, "seconds") >= 0.1) || !(num(s, "ops_per_sec") > 0) {
			t.Errorf("%s: ops %v, seconds %v, ops_per_sec %v", who, ops, s["seconds"], s["ops_per_sec"])
		}
		if s["kind"] == "counted" {
			if v := num(s, "syscalls.per_op"); !(v > 0) {
				t.Errorf("%s: syscalls per op %v", who, v)
			}
			if v := num(s, "syscalls.backend.per_op"); !(v > 0) {
				t.Errorf("%s: the I/O thread's syscalls per op %v", who, v)
			}
		} else if sc, _ := s["syscalls"].(map[string]any); sc["available"] != false || sc["reason"] == "" {
			t.Errorf("%s: a timed sample's syscalls %v: want unavailable with the reason", who, sc)
		}
		enters := num(s, "enters_per_op")
		if s["backend"] == "uring" && !(enters > 0) || s["backend"] == "epoll" && enters != -1 {
			t.Errorf("%s: enters_per_op %v (uring counts its enters, epoll has none: -1)", who, enters)
		}
		if v := num(s, "cpu.per_op_ns"); !(v > 0) {
			t.Errorf("%s: cpu ns per op %v", who, v)
		}
		prev := 0.0
		for _, p := range []string{"min_ns", "p50_ns", "p75_ns", "p90_ns", "p99_ns", "p99_9_ns", "p99_99_ns", "p99_999_ns", "max_ns"} {
			v := num(s, "latency."+p)
			if !(v > 0) || v < prev {
				t.Errorf("%s: latency %s = %v after %v: want positive and non-decreasing", who, p, v, prev)
			}
			prev = v
		}
		lat, _ := s["latency"].(map[string]any)
		enc, _ := lat["histogram"].(string)
		h, err := result.DecodeHistogram(enc)
		if err != nil {
			t.Errorf("%s: histogram: %v", who, err)
		} else if float64(h.TotalCount()) != ops {
			t.Errorf("%s: histogram holds %d values, ops %v", who, h.TotalCount(), ops)
		}
		for _, p := range []string{"residency.before", "residency.after"} {
			if v := num(s, p); !(v >= 0 && v <= 1) {
				t.Errorf("%s: %s = %v, want a fraction", who, p, v)
			}
		}
	}
	if kinds["timed"] != 4 || kinds["counted"] != 4 {
		t.Errorf("sample kinds %v, want 4 timed and 4 counted", kinds)
	}
	env, _ := file["env"].(map[string]any)
	for _, path := range []string{"tool.version", "tool.commit", "kernel.release", "cpu.model", "go.version", "io_uring.features", "data_dir.fs_type"} {
		var v any = env
		for _, k := range strings.Split(path, ".") {
			mm, _ := v.(map[string]any)
			v = mm[k]
		}
		if v == nil || v == "" {
			t.Errorf("fingerprint field env.%s missing", path)
		}
	}
	if tool, _ := env["tool"].(map[string]any); tool["version"] != "test" || tool["commit"] != "testcommit" {
		t.Errorf("env.tool = %v, want the version and commit injected at build", tool)
	}
}

// ---- 6. interruption ----

// bgRun is a ringbench run in the background whose stderr is watched line by line.
type bgRun struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer
	mu     sync.Mutex
	stderr []string
	lines  chan string
	done   chan struct{}
}

func startRun(t *testing.T, d runDirs, a ...string) *bgRun {
	t.Helper()
	b := &bgRun{cmd: exec.Command(ringbenchBin, a...), lines: make(chan string, 1000), done: make(chan struct{})}
	b.cmd.Dir = d.cwd
	b.cmd.Env = append(os.Environ(), d.env()...)
	b.cmd.Stdout = &b.stdout
	pipe, err := b.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			b.mu.Lock()
			b.stderr = append(b.stderr, sc.Text())
			b.mu.Unlock()
			select {
			case b.lines <- sc.Text():
			default:
			}
		}
		_ = b.cmd.Wait() // the status is read from ProcessState
		close(b.done)
	}()
	t.Cleanup(func() {
		select {
		case <-b.done:
		default:
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	})
	return b
}

func (b *bgRun) pid() int { return b.cmd.Process.Pid }

func (b *bgRun) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(b.pid(), sig); err != nil {
		t.Fatalf("kill %d %v: %v", b.pid(), sig, err)
	}
}

func (b *bgRun) stderrText() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Join(b.stderr, "\n")
}

// wait waits for the run to end and returns its wait status.
func (b *bgRun) wait(t *testing.T, timeout time.Duration) syscall.WaitStatus {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(timeout):
		t.Fatalf("ringbench did not end within %v; stderr:\n%s", timeout, b.stderrText())
	}
	return b.cmd.ProcessState.Sys().(syscall.WaitStatus)
}

// waitLine waits for a stderr line containing s.
func (b *bgRun) waitLine(t *testing.T, timeout time.Duration, s string) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-b.lines:
			if strings.Contains(l, s) {
				return
			}
		case <-b.done:
			t.Fatalf("ringbench ended without printing %q; stderr:\n%s", s, b.stderrText())
		case <-deadline:
			t.Fatalf("no stderr line %q within %v; stderr:\n%s", s, timeout, b.stderrText())
		}
	}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitForRun is waitFor that also fails as soon as the run ends.
func (b *bgRun) waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	waitFor(t, timeout, what, func() bool {
		select {
		case <-b.done:
			t.Fatalf("ringbench ended while waiting for %s; stderr:\n%s", what, b.stderrText())
		default:
		}
		return cond()
	})
}

// procCPU is the CPU time pid has used (user and system, from /proc/PID/stat; clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // field 14 of stat, counting from pid
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// countFDs counts the descriptors of pid whose link target is target.
func countFDs(pid int, target string) int {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == target {
			n++
		}
	}
	return n
}

const ringFD = "anon_inode:[io_uring]"

// countFiles counts the entries of dir ("0" when it does not exist).
func countFiles(dir string) int {
	f, err := os.Open(dir)
	if err != nil {
		return 0
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	return len(names)
}

// setFiles counts the files of the data set directory set (they live in its subdirectories dNNNNN).
func setFiles(set string) int {
	subs, _ := filepath.Glob(filepath.Join(set, "d*"))
	n := 0
	for _, sub := range subs {
		n += countFiles(sub)
	}
	return n
}

// partialDir returns the directory of a data set being created in dir, if any.
func partialDir(dir string) string {
	m, _ := filepath.Glob(filepath.Join(dir, "ringbench-*.partial-*"))
	if len(m) == 0 {
		return ""
	}
	return m[0]
}

func exitCode(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return fmt.Sprintf("exit %d", ws.ExitStatus())
}

// firstSignalLine is what ringbench says when the first signal arrives.
const firstSignalLine = "interrupt again to quit at once"

// TestRunInterrupted signals real runs at several moments and checks what they leave.
func TestRunInterrupted(t *testing.T) {
	// A many-file set of 100,000 files: over ten seconds to create here, so an interrupt comes during it.
	bigSet := []string{"--backend", "epoll", "--workload", "many-file", "--files", "100000", "--file-size", "512"}

	t.Run("SIGINT while creating the data set", func(t *testing.T) {
		d := newRunDirs(t)
		b := startRun(t, d, args([]string{"run", "--dir", d.data}, bigSet, fast)...)
		var partial string
		b.waitFor(t, 30*time.Second, "1,000 files in the data set being created", func() bool {
			partial = partialDir(d.data)
			return partial != "" && setFiles(partial) >= 1000
		})
		atSignal := setFiles(partial)
		b.signal(t, syscall.SIGINT)
		// Creation must stop: the set may grow by the files under way, never towards its 100,000.
		most := atSignal
		for stopped := false; !stopped; {
			select {
			case <-b.done:
				stopped = true
			case <-time.After(20 * time.Millisecond):
				most = max(most, setFiles(partial))
			}
		}
		ws := b.wait(t, 30*time.Second)
		if ws.Signaled() || ws.ExitStatus() != exitInterrupted {
			t.Fatalf("%s, want exit %d; stderr:\n%s", exitCode(ws), exitInterrupted, b.stderrText())
		}
		if most > atSignal+1000 {
			t.Errorf("the data set grew from %d to %d files after SIGINT: its creation does not stop when interrupted", atSignal, most)
		}
		if !strings.Contains(b.stderrText(), "interrupted before any sample was measured; no result file written") {
			t.Errorf("stderr does not say nothing was measured:\n%s", b.stderrText())
		}
		assertEmpty(t, d.cwd, "the working directory")
		// Clean-up of the partial set gets a bounded time after an interrupt; on a slow machine the rest is
		// left, and the run must say so, and the next run in the same --dir must remove it.
		if partialDir(d.data) != "" {
			if !strings.Contains(b.stderrText(), "is left for the next run to remove") {
				t.Errorf("a partial data set is left in --dir and stderr does not say so:\n%s", b.stderrText())
			}
			if r := d.run(t, 2*time.Minute, "run", "--dir", d.data, "--backend", "epoll", "--workload", "many-file",
				"--files", "10", "--file-size", "512", "--warmup", "0", "--count", "1", "--duration", "10ms", "-q",
				"--out", filepath.Join(t.TempDir(), "next.json")); r.Code != 0 {
				t.Fatalf("the next run: exit %d\n%s", r.Code, r.Stderr)
			}
		}
		assertEmpty(t, d.data, "--dir")
		d.assertNoTempFiles(t)
	})

	t.Run("SIGTERM during warm-up with --keep", func(t *testing.T) {
		requireURing(t)
		d := newRunDirs(t)
		b := startRun(t, d, "run", "--backend", "uring", "--workload", "small-file", "--files", "1", "--file-size", "1M",
			"--dir", d.data, "--keep", "--warmup", "30s", "--duration", "1s", "--count", "1", "-q")
		// The data set is made after the environment probe (which opens a ring of its own for a moment); a
		// ring open once the set is complete is the warm-up's.
		b.waitFor(t, 30*time.Second, "the warm-up's ring", func() bool {
			m, _ := filepath.Glob(filepath.Join(d.data, "ringbench-small-file-*"))
			return len(m) == 1 && !strings.Contains(m[0], ".partial-") && countFDs(b.pid(), ringFD) > 0
		})
		sent := time.Now()
		b.signal(t, syscall.SIGTERM)
		ws := b.wait(t, 30*time.Second)
		if ws.Signaled() || ws.ExitStatus() != exitInterrupted {
			t.Fatalf("%s, want exit %d; stderr:\n%s", exitCode(ws), exitInterrupted, b.stderrText())
		}
		if took := time.Since(sent); took > 5*time.Second {
			t.Errorf("took %v to stop after SIGTERM in a 30 s warm-up", took)
		}
		if !strings.Contains(b.stderrText(), "interrupted before any sample was measured") {
			t.Errorf("stderr does not say nothing was measured:\n%s", b.stderrText())
		}
		assertEmpty(t, d.cwd, "the working directory")
		kept, _ := filepath.Glob(filepath.Join(d.data, "ringbench-small-file-*", ".ringbench-dataset"))
		if len(kept) != 1 {
			t.Errorf("--keep: the data set should stay; --dir holds %v", tree(t, d.data))
		}
		d.assertNoTempFiles(t)
	})

	t.Run("SIGINT during the second sample", func(t *testing.T) {
		requireURing(t)
		d := newRunDirs(t)
		const sample = 3 * time.Second
		b := startRun(t, d, "run", "--backend", "epoll,uring", "--workload", "small-file", "--files", "1", "--file-size", "1M",
			"--dir", d.data, "--warmup", "0", "--duration", sample.String(), "--count", "1", "-q", "--out", "r.json")
		// epoll's sample comes first; uring's opens a ring (the environment probe opens one too, before the
		// data set exists). Once the ring is there, the sample is under way when the process has burnt
		// 150 ms of CPU more: setting up the ring and the counters costs far less.
		b.waitFor(t, 30*time.Second, "the data set", func() bool {
			m, _ := filepath.Glob(filepath.Join(d.data, "ringbench-small-file-*"))
			return len(m) == 1 && !strings.Contains(m[0], ".partial-")
		})
		b.waitFor(t, 30*time.Second, "the uring sample's ring", func() bool { return countFDs(b.pid(), ringFD) > 0 })
		cpu0 := procCPU(b.pid())
		b.waitFor(t, 30*time.Second, "150 ms of CPU in the uring sample", func() bool { return procCPU(b.pid()) >= cpu0+150*time.Millisecond })
		b.signal(t, syscall.SIGINT)
		ws := b.wait(t, 30*time.Second)
		if ws.Signaled() || ws.ExitStatus() != exitInterrupted {
			t.Fatalf("%s, want exit %d; stderr:\n%s", exitCode(ws), exitInterrupted, b.stderrText())
		}
		if !strings.Contains(b.stderrText(), "partial result saved") {
			t.Errorf("stderr does not say a partial result was saved:\n%s", b.stderrText())
		}
		f := loadResult(t, filepath.Join(d.cwd, "r.json"))
		if !f.Interrupted {
			t.Error("the result is not marked interrupted")
		}
		if len(f.Samples) != 2 || f.Samples[0].Backend != "epoll" || f.Samples[1].Backend != "uring" {
			t.Fatalf("want epoll's whole sample and uring's interrupted one, got %d samples", len(f.Samples))
		}
		if s := f.Samples[0]; s.Seconds < sample.Seconds() || strings.Contains(fmt.Sprint(s.Warnings), "interrupted") {
			t.Errorf("epoll: %.3f s, warnings %v: want it whole, not marked interrupted", s.Seconds, s.Warnings)
		}
		s := f.Samples[1]
		if s.Seconds >= sample.Seconds() || s.Ops == 0 || !strings.Contains(fmt.Sprint(s.Warnings), "interrupted: cut short after") {
			t.Errorf("uring: %.3f s, %d ops, warnings %v: want it cut short, counted and marked", s.Seconds, s.Ops, s.Warnings)
		}
		assertEmpty(t, d.data, "--dir")
		d.assertNoTempFiles(t)
	})

	t.Run("second SIGINT quits at once", func(t *testing.T) {
		d := newRunDirs(t)
		b := startRun(t, d, args([]string{"run", "--dir", d.data}, bigSet, fast)...)
		b.waitFor(t, 30*time.Second, "8,000 files in the data set being created", func() bool {
			p := partialDir(d.data)
			return p != "" && setFiles(p) >= 8000
		})
		b.signal(t, syscall.SIGINT)
		// Removing the thousands of files made so far takes a while (a tenth of a second or more): the second
		// signal comes well before that ends.
		b.waitLine(t, 10*time.Second, firstSignalLine)
		b.signal(t, syscall.SIGINT)
		ws := b.wait(t, 10*time.Second)
		if !ws.Signaled() || ws.Signal() != syscall.SIGINT {
			t.Errorf("%s after the second SIGINT, want killed by it; stderr:\n%s", exitCode(ws), b.stderrText())
		}
		assertEmpty(t, d.cwd, "the working directory")
	})
}

// TestRunWithoutSyscallCounting: --count-syscalls=false measures throughput without tracepoints, and the
// result says syscalls were not counted (unavailable with the reason), never 0.
func TestRunWithoutSyscallCounting(t *testing.T) {
	d := newRunDirs(t)
	out := filepath.Join(d.cwd, "r.json")
	r := d.run(t, 60*time.Second, args([]string{"run"}, fast, []string{"--backend", "epoll", "--workload", "small-file", "--files", "1",
		"--file-size", "4M", "--dir", d.data, "--count-syscalls=false", "--out", out})...)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	f := loadResult(t, out)
	if len(f.Samples) != 1 || f.Samples[0].Ops == 0 {
		t.Fatalf("samples: %+v", f.Samples)
	}
	s := f.Samples[0].Syscalls
	if s.Available || s.Total != 0 || !strings.Contains(s.Reason, "--count-syscalls=false") {
		t.Fatalf("syscalls must be unavailable with the reason, got %+v", s)
	}
	if f.Samples[0].CPU.PerOpNs <= 0 || !f.Samples[0].ContextSwitches.Available {
		t.Fatalf("CPU and context switches are still measured: %+v %+v", f.Samples[0].CPU, f.Samples[0].ContextSwitches)
	}
}

// TestRunRecordsIntervals: --interval splits each timed sample of a file and an echo-proxy run into
// intervals holding all its ops; counted samples, whose timing the counters skew, have none.
func TestRunRecordsIntervals(t *testing.T) {
	d := newRunDirs(t)
	out := filepath.Join(d.cwd, "r.json")
	r := d.run(t, 120*time.Second, "run", "--backend", "epoll", "--workload", "small-file,echo-proxy", "--duration", "300ms",
		"--interval", "50ms", "--count", "1", "--warmup", "0", "--dir", d.data, "-q", "--out", out)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	f := loadResult(t, out)
	timed := 0
	for _, s := range f.Samples {
		if s.Kind == result.KindCounted {
			if len(s.Intervals) != 0 {
				t.Errorf("%s counted sample: %d intervals, want none", s.Workload, len(s.Intervals))
			}
			continue
		}
		timed++
		if n, ops := len(s.Intervals), intervalOps(s); n < 6 || n > int(s.Seconds/0.05)+1 || ops != s.Ops {
			t.Errorf("%s: %d intervals of 50ms over %.3fs holding %d ops, the sample %d", s.Workload, n, s.Seconds, ops, s.Ops)
		}
	}
	if timed != 2 {
		t.Errorf("%d timed samples, want 2", timed)
	}
}

func intervalOps(s result.Sample) int64 {
	var n int64
	for _, iv := range s.Intervals {
		n += iv.Ops
	}
	return n
}

// TestRunEchoProxyCountsSyscallsInEverySample: the counters are held open across a whole run, and threads
// the echo-proxy workload starts and ends meanwhile must not cost a sample its syscall counts (a read of a
// thread that had exited once failed with ECHILD, leaving every sample "unavailable").
func TestRunEchoProxyCountsSyscallsInEverySample(t *testing.T) {
	d := newRunDirs(t)
	out := filepath.Join(d.cwd, "r.json")
	r := d.run(t, 120*time.Second, "run", "--backend", "epoll,gostd", "--workload", "echo-proxy", "--duration", "200ms",
		"--count", "2", "--warmup", "100ms", "-q", "--out", out)
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	f := loadResult(t, out)
	if len(f.Samples) != 8 {
		t.Fatalf("%d samples, want 8 (4 timed, 4 counted)", len(f.Samples))
	}
	for _, s := range f.Samples {
		if s.Kind != result.KindCounted {
			continue
		}
		if !s.Syscalls.Available {
			if strings.Contains(s.Syscalls.Reason, "paranoid") || strings.Contains(s.Syscalls.Reason, "permission") {
				t.Skipf("syscall counting not permitted for this user: %s", s.Syscalls.Reason)
			}
			t.Errorf("%s sample %d: syscalls unavailable: %s", s.Backend, s.Repeat, s.Syscalls.Reason)
		} else if s.Syscalls.PerOp < 1 {
			t.Errorf("%s sample %d: %.3f syscalls per request; an echo on %s needs at least a read and a write", s.Backend, s.Repeat, s.Syscalls.PerOp, s.Backend)
		}
	}
}
