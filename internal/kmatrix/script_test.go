package kmatrix

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const script = "../../scripts/kernel-matrix.sh"

func runScript(t *testing.T, timeout time.Duration, args ...string) (int, string) {
	t.Helper()
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

// The script's syntax and its option handling, which run before any download or boot.
func TestScriptOptions(t *testing.T) {
	if out, err := exec.Command("bash", "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("bash -n: %v\n%s", err, out)
	}
	if code, out := runScript(t, 10*time.Second, "--help"); code != 0 || !strings.Contains(out, "--kernels") {
		t.Fatalf("--help: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"--bogus"}, {"--timeout", "5"}, {"--timeout", "x"}, {"--accel", "hvf"}, {"--kernels"}, {"--kernels", ""},
		{"--retries", "-1"}, {"--run-args", `--dir "/tmp"`},
	} {
		if code, out := runScript(t, 10*time.Second, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, out)
		}
	}
}

// TestScriptBoots runs the whole kernel matrix for one kernel: a download, a build and a qemu boot (about
// a minute under TCG). It needs apt, network access to Debian's mirror and qemu-system-x86, so it runs
// only when RINGBENCH_KERNEL_MATRIX=1.
func TestScriptBoots(t *testing.T) {
	if os.Getenv("RINGBENCH_KERNEL_MATRIX") != "1" {
		t.Skip("set RINGBENCH_KERNEL_MATRIX=1 to boot a kernel in qemu (needs qemu-system-x86 and apt)")
	}
	out := t.TempDir()
	code, log := runScript(t, 10*time.Minute, "--kernels", "6.1", "--out", out, "--no-run")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, log)
	}
	boots, err := LoadBoots(out)
	if err != nil || len(boots) != 1 {
		t.Fatalf("boots %v: %v", boots, err)
	}
	r := boots[0].Row
	if SeriesOf(r.Release) != "6.1" || r.IOUringDisabled != "absent" || r.Setup != "ok" || r.Features != 0x1fff {
		t.Fatalf("row %+v", r)
	}
	if r.Run != "skipped: --no-run was given" {
		t.Fatalf("run %q", r.Run)
	}
	if _, err := os.Stat(filepath.Join(out, "matrix.md")); err != nil {
		t.Fatal(err)
	}
}
