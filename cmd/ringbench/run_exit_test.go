package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ---- exit status of a named backend that measured nothing ----

// lowMemlock runs ringbench with RLIMIT_MEMLOCK at 64 KiB and without CAP_IPC_LOCK (which lifts the
// limit for root): io_uring then refuses rings and registered buffers that do not fit, with ENOMEM.
func lowMemlock(t *testing.T) []string {
	t.Helper()
	requireURing(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root to drop CAP_IPC_LOCK with setpriv")
	}
	for _, tool := range []string{"prlimit", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	return []string{"prlimit", "--memlock=65536", "--", "setpriv", "--bounding-set", "-ipc_lock", "--inh-caps", "-ipc_lock", ringbenchBin}
}

// TestRunNamedBackendOverTheMemlockLimitIsExit3: a limit that forbids the backend is "cannot run here":
// named, exit 3 naming the backend and the reason, and no result file (nothing was measured); under
// --backend all, the backend is skipped and the others measured (exit 0).
func TestRunNamedBackendOverTheMemlockLimitIsExit3(t *testing.T) {
	limited := lowMemlock(t)
	run := []string{"run", "--workload", "small-file", "--file-size", "1M", "--fixed-bufs", "--depth", "4096", "--batch", "32"}

	d := newRunDirs(t)
	r := runCmd(t, d.cwd, 60*time.Second, d.env(), args(limited, run, []string{"--backend", "uring", "--dir", d.data}, fast)...)
	if r.Code != exitUnsupported || !strings.Contains(r.Stderr, "--backend uring cannot run small-file here") ||
		!strings.Contains(r.Stderr, "ENOMEM") {
		t.Fatalf("uring by name over RLIMIT_MEMLOCK: exit %d, want %d naming --backend uring and ENOMEM; stderr %q", r.Code, exitUnsupported, r.Stderr)
	}
	if files := d.resultFiles(t); len(files) != 0 {
		t.Errorf("result files %v written for a run that measured nothing", files)
	}

	d = newRunDirs(t)
	r = runCmd(t, d.cwd, 60*time.Second, d.env(), args(limited, run, []string{"--backend", "all", "--dir", d.data, "--out", "r.json"}, fast)...)
	if r.Code != 0 {
		t.Fatalf("all over RLIMIT_MEMLOCK: exit %d\nstderr:\n%s", r.Code, r.Stderr)
	}
	f := loadResult(t, filepath.Join(d.cwd, "r.json"))
	skipped := map[string]bool{}
	for _, s := range f.Skipped {
		skipped[s.Backend] = true
	}
	if !skipped["uring"] || len(f.Samples) == 0 {
		t.Errorf("all: skipped %v, %d samples; want uring skipped and the others measured", f.Skipped, len(f.Samples))
	}
}

// TestRunNamedBackendFailingWhileSamplingIsExit1: io_uring_enter failing with EINVAL (a seccomp filter
// stands in for a kernel that rejects what ringbench asks) is a failure, not "not supported": exit 1,
// named or under all, where it is not skipped quietly either.
func TestRunNamedBackendFailingWhileSamplingIsExit1(t *testing.T) {
	requireURing(t)
	sandbox := []string{ringbenchBin, "sandbox", "--deny", "io_uring_enter", "--errno", "EINVAL", "--", ringbenchBin}
	run := []string{"run", "--workload", "small-file", "--file-size", "1M"}
	for _, b := range []string{"uring", "all"} {
		d := newRunDirs(t)
		r := runCmd(t, d.cwd, 60*time.Second, d.env(), args(sandbox, run, []string{"--backend", b, "--dir", d.data}, fast)...)
		if r.Code != exitFailure || !strings.Contains(r.Stderr, "small-file on uring") || !strings.Contains(r.Stderr, "io_uring_enter") {
			t.Errorf("--backend %s, io_uring_enter denied with EINVAL: exit %d, want %d naming uring and io_uring_enter; stderr %q",
				b, r.Code, exitFailure, r.Stderr)
		}
	}
}
