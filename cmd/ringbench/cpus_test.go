package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/cpuset"
	"github.com/ringbench/ringbench/internal/ring/caps"
)

// sqpollCPUs returns two CPUs of this process's cpuset: one for ringbench's threads, one for the poll
// thread. It skips without SQPOLL or a second CPU.
func sqpollCPUs(t *testing.T) (app, poll int) {
	t.Helper()
	if err := caps.SetupFlag(caps.FlagSQPoll); err != nil {
		t.Skip(err)
	}
	set := cpuset.Cpuset()
	if len(set) < 2 {
		t.Skipf("one CPU in this process's cpuset (%v)", set)
	}
	return set[0], set[len(set)-1]
}

const sharedCore = "SQPOLL SHARES A CORE"

// TestRunSQPollPlacement runs the real CLI: the poll thread on a CPU outside --cpus (or outside taskset's
// mask) is accepted and has a core of its own, on one of ringbench's CPUs it is warned about, and a CPU
// outside the cpuset is refused with exit 2 naming the flag.
func TestRunSQPollPlacement(t *testing.T) {
	app, poll := sqpollCPUs(t)
	quick := []string{"run", "--backend", "sqpoll", "--workload", "small-file", "--file-size", "4M", "--duration", "200ms",
		"--warmup", "0", "--count", "1", "-q", "--count-syscalls=false", "--format", "json"}
	run := func(t *testing.T, prefix []string, extra ...string) cmdResult {
		d := newRunDirs(t)
		argv := args(prefix, []string{ringbenchBin}, quick, []string{"--dir", d.data}, extra)
		return runCmd(t, d.cwd, 2*time.Minute, d.env(), argv...)
	}
	sq := fmt.Sprint(poll)
	t.Run("cpus", func(t *testing.T) {
		r := run(t, nil, "--cpus", fmt.Sprint(app), "--sq-cpu", sq)
		if r.Code != 0 || strings.Contains(r.Stdout+r.Stderr, sharedCore) {
			t.Fatalf("--cpus %d --sq-cpu %d: exit %d, want 0 and no shared-core warning\nstdout: %s\nstderr: %s", app, poll, r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("shared", func(t *testing.T) {
		r := run(t, nil, "--sq-cpu", sq)
		if r.Code != 0 || !strings.Contains(r.Stdout+r.Stderr, sharedCore) || !strings.Contains(r.Stdout+r.Stderr, "--cpus") {
			t.Fatalf("--sq-cpu %d: exit %d, want 0 and a shared-core warning suggesting --cpus\nstdout: %s\nstderr: %s", poll, r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("taskset", func(t *testing.T) {
		ts, err := exec.LookPath("taskset")
		if err != nil {
			t.Skip("no taskset")
		}
		r := run(t, []string{ts, "-c", fmt.Sprint(app)}, "--sq-cpu", sq)
		if r.Code != 0 || strings.Contains(r.Stdout+r.Stderr, sharedCore) {
			t.Fatalf("taskset -c %d ringbench --sq-cpu %d: exit %d, want 0 and no shared-core warning\nstdout: %s\nstderr: %s", app, poll, r.Code, r.Stdout, r.Stderr)
		}
	})
	t.Run("outside cpuset", func(t *testing.T) {
		assertUsageError(t, run(t, nil, "--sq-cpu", "99"), "--sq-cpu 99: not a CPU this process may use")
	})
}

// TestCPUsFlagBadValues: a bad --cpus or --sq-cpu ends run and serve with exit 2 and one line naming the
// flag and value, before anything runs.
func TestCPUsFlagBadValues(t *testing.T) {
	for _, cmd := range []string{"run", "serve"} {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--cpus", "0-3x"}, `--cpus "0-3x": not a CPU list`},
			{[]string{"--cpus", ""}, `--cpus "": not a CPU list`},
			{[]string{"--cpus", "3-1"}, `--cpus "3-1"`},
			{[]string{"--cpus", "0,999"}, `--cpus 0,999: CPU 999 not available`},
			{[]string{"--cpus", "4000"}, `--cpus "4000": CPU 4000 is beyond 1023`},
			{[]string{"--sq-cpu", "-2"}, `--sq-cpu -2: a CPU number, or -1`},
			{[]string{"--sq-cpu", "4000"}, `--sq-cpu 4000: not a CPU this process may use`},
		} {
			t.Run(cmd+" "+strings.Join(c.args, " "), func(t *testing.T) {
				d := newRunDirs(t)
				a := []string{cmd, "--backend", "sqpoll"}
				if cmd == "run" {
					a = append(a, "--dir", d.data, "--duration", "1m", "--warmup", "0", "--count", "1", "-q")
				} else {
					a = append(a, "--duration", "1m")
				}
				assertUsageError(t, runRingbench(t, d.cwd, 30*time.Second, append(a, c.args...)...), c.want)
			})
		}
	}
}

// TestServeSQPollOutsideCPUs: serve accepts a poll thread outside --cpus and then does not warn.
func TestServeSQPollOutsideCPUs(t *testing.T) {
	app, poll := sqpollCPUs(t)
	r := runRingbench(t, "", time.Minute, "serve", "--backend", "sqpoll", "--duration", "300ms", "--control", "off",
		"--cpus", fmt.Sprint(app), "--sq-cpu", fmt.Sprint(poll))
	if r.Code != 0 || strings.Contains(r.Stderr, sharedCore) || !strings.Contains(r.Stdout, "listening") {
		t.Fatalf("serve --cpus %d --sq-cpu %d: exit %d\nstdout: %s\nstderr: %s", app, poll, r.Code, r.Stdout, r.Stderr)
	}
	r = runRingbench(t, "", time.Minute, "serve", "--backend", "sqpoll", "--duration", "300ms", "--control", "off",
		"--sq-cpu", fmt.Sprint(poll))
	if r.Code != 0 || !strings.Contains(r.Stderr, sharedCore) {
		t.Fatalf("serve --sq-cpu %d: exit %d, want a shared-core warning\nstdout: %s\nstderr: %s", poll, r.Code, r.Stdout, r.Stderr)
	}
}
