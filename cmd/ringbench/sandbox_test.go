package main

import (
	"strings"
	"testing"
	"time"
)

// sandboxed runs ringbench ARGS inside `ringbench sandbox --deny io_uring --errno ERRNO`.
func sandboxed(t *testing.T, errno string, args ...string) cmdResult {
	t.Helper()
	argv := append([]string{"sandbox", "--deny", "io_uring", "--errno", errno, "--", ringbenchBin}, args...)
	return runRingbench(t, "", 30*time.Second, argv...)
}

func TestSandboxProbeJSONWithoutIOUring(t *testing.T) {
	for _, c := range []struct{ errno, explains string }{
		{"EPERM", "refused by a seccomp filter"},
		{"ENOSYS", "seccomp filter is active"},
	} {
		t.Run(c.errno, func(t *testing.T) {
			res := sandboxed(t, c.errno, "probe", "--json")
			if strings.Contains(res.Stderr, "panic") || strings.Contains(res.Stderr, "goroutine ") {
				t.Fatalf("crash: %s", res.Stderr)
			}
			r := decodeProbe(t, res)
			iu := r.IOUring
			if iu.SetupOK || iu.SetupErrno != c.errno || !strings.Contains(iu.SetupError, c.explains) || iu.SeccompMode != 2 {
				t.Errorf("io_uring under the sandbox: %+v", iu)
			}
			if c.errno == "EPERM" && !strings.Contains(iu.SetupError, "policy") {
				t.Errorf("EPERM not explained as a policy: %q", iu.SetupError)
			}
			for _, n := range []string{"uring", "sqpoll"} {
				if v := verdictOf(t, r, n); v.Runnable || !strings.Contains(v.Reason, c.explains) {
					t.Errorf("%s: %+v", n, v)
				}
			}
			for _, n := range []string{"epoll", "gostd"} {
				if v := verdictOf(t, r, n); !v.Runnable {
					t.Errorf("%s: %+v", n, v)
				}
			}
		})
	}
}

func TestSandboxProbeTextWithoutIOUring(t *testing.T) {
	res := sandboxed(t, "EPERM", "probe")
	if res.Code != 0 || res.Stderr != "" {
		t.Fatalf("exit %d, stderr %q", res.Code, res.Stderr)
	}
	for _, want := range []string{
		"  seccomp             filter active",
		"  setup               FAILS: refused by a seccomp filter on this process (EPERM)",
		"  uring    NOT RUNNABLE  io_uring setup fails: refused by a seccomp filter",
		"  sqpoll   NOT RUNNABLE  io_uring setup fails: refused by a seccomp filter",
		"  epoll    runnable",
		"  gostd    runnable",
	} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, res.Stdout)
		}
	}
}

func TestSandboxExecsWithFilter(t *testing.T) {
	// The command replaces the sandbox (its exit status comes through) and inherits the filter.
	res := runRingbench(t, "", 30*time.Second, "sandbox", "--deny", "io_uring", "--", "sh", "-c", "grep '^Seccomp:' /proc/self/status; exit 7")
	if res.Code != 7 || !strings.Contains(res.Stdout, "Seccomp:\t2") {
		t.Errorf("exit %d, stdout %q, stderr %q", res.Code, res.Stdout, res.Stderr)
	}
	res = runRingbench(t, "", 30*time.Second, "sandbox", "--deny", "io_uring", "--", "no-such-command-xyz")
	if res.Code != 127 || !strings.Contains(res.Stderr, "no-such-command-xyz") {
		t.Errorf("missing command: exit %d, stderr %q", res.Code, res.Stderr)
	}
}

func TestSandboxUsageErrors(t *testing.T) {
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "sandbox", "--deny", "io_uring"), "needs a command")
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "sandbox", "--deny", "bogus", "--", "true"), "bogus")
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "sandbox", "--deny", "io_uring", "--errno", "EFOO", "--", "true"), "EFOO")
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "sandbox", "--", "true"), "deny")
}

func TestSandboxIsHidden(t *testing.T) {
	res := runRingbench(t, "", 30*time.Second, "--help")
	if res.Code != 0 || strings.Contains(res.Stdout, "sandbox") {
		t.Errorf("sandbox must not be listed in --help (exit %d):\n%s", res.Code, res.Stdout)
	}
	if res := runRingbench(t, "", 30*time.Second, "sandbox", "--help"); res.Code != 0 || !strings.Contains(res.Stdout, "--deny") {
		t.Errorf("sandbox --help: exit %d\n%s", res.Code, res.Stdout)
	}
}
