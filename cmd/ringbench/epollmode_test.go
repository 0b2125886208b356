package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEpollModeFlag: --epoll-mode takes level, edge or oneshot on run and serve; another value, or edge or
// oneshot with no epoll backend selected, exits 2 with one line naming the flag.
func TestEpollModeFlag(t *testing.T) {
	for _, args := range [][]string{
		{"run", "-b", "epoll", "-w", "echo-proxy", "--epoll-mode", "flat"},
		{"run", "-b", "uring,gostd", "-w", "echo-proxy", "--epoll-mode", "oneshot"},
		{"run", "-b", "uring,gostd", "-w", "echo-proxy", "--epoll-mode", "edge"},
		{"serve", "-b", "epoll", "--epoll-mode", "flat"},
		{"serve", "-b", "gostd", "--epoll-mode", "oneshot"},
		{"serve", "-b", "gostd", "--epoll-mode", "edge"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			assertUsageError(t, runRingbench(t, "", 30*time.Second, args...), "--epoll-mode")
		})
	}
}

// TestEpollModeSeries: run --epoll-mode edge or oneshot records the mode in the epoll samples'
// parameters, and so does load against serve in that mode, told the mode over the control channel; the
// level-triggered default records none, as before there were modes.
func TestEpollModeSeries(t *testing.T) {
	check := func(t *testing.T, out, mode string) {
		t.Helper()
		f := loadResult(t, out)
		if len(f.Samples) == 0 {
			t.Fatal("no samples")
		}
		want := mode
		if mode == "level" {
			want = ""
		}
		for _, s := range f.Samples {
			if got, ok := s.Params["epoll-mode"]; got != want || ok && want == "" {
				t.Errorf("%s sample params %v, want epoll-mode %q", s.Backend, s.Params, want)
			}
		}
	}
	for _, mode := range []string{"edge", "oneshot"} {
		t.Run("run/"+mode, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "r.json")
			r := runRingbench(t, "", 90*time.Second, "run", "-b", "epoll", "-w", "echo-proxy", "--epoll-mode", mode,
				"--count", "1", "--duration", "200ms", "--warmup", "0", "--verify", "--out", out, "--quiet")
			if r.Code != 0 {
				t.Fatalf("run: exit %d\n%s", r.Code, r.Stderr)
			}
			check(t, out, mode)
		})
	}
	for _, mode := range []string{"level", "edge", "oneshot"} {
		t.Run("serve and load/"+mode, func(t *testing.T) {
			before := listening()
			srv := startServe(t, nil, "--backend", "epoll", "--epoll-mode", mode)
			out := filepath.Join(t.TempDir(), "l.json")
			r := runRingbench(t, "", 60*time.Second, "load", "--target", srv.listen, "--control", srv.control, "--control-token-file", srv.tokenFile,
				"--conns", "4", "--duration", "200ms", "--verify", "--out", out)
			if r.Code != 0 {
				t.Fatalf("load: exit %d\n%s", r.Code, r.Stderr)
			}
			check(t, out, mode)
			srv.stop(t, syscall.SIGTERM)
			noLeaks(t, before)
		})
	}
}
