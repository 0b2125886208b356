package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/result"
)

// TestEpollModeFlag: --epoll-mode takes edge or oneshot on run and serve; another value, or oneshot with no
// epoll backend selected, exits 2 with one line naming the flag.
func TestEpollModeFlag(t *testing.T) {
	for _, args := range [][]string{
		{"run", "-b", "epoll", "-w", "echo-proxy", "--epoll-mode", "level"},
		{"run", "-b", "uring,gostd", "-w", "echo-proxy", "--epoll-mode", "oneshot"},
		{"serve", "-b", "epoll", "--epoll-mode", "level"},
		{"serve", "-b", "gostd", "--epoll-mode", "oneshot"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			assertUsageError(t, runRingbench(t, "", 30*time.Second, args...), "--epoll-mode")
		})
	}
}

// TestEpollModeOneshotSeries: run --epoll-mode oneshot records the mode in the epoll samples' parameters,
// and so does load against serve --epoll-mode oneshot, told the mode over the control channel.
func TestEpollModeOneshotSeries(t *testing.T) {
	check := func(t *testing.T, out string) {
		t.Helper()
		f, err := result.Load(out)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Samples) == 0 {
			t.Fatal("no samples")
		}
		for _, s := range f.Samples {
			if s.Params["epoll-mode"] != "oneshot" {
				t.Errorf("%s sample params %v, want epoll-mode oneshot", s.Backend, s.Params)
			}
		}
	}
	t.Run("run", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "r.json")
		r := runRingbench(t, "", 90*time.Second, "run", "-b", "epoll", "-w", "echo-proxy", "--epoll-mode", "oneshot",
			"--count", "1", "--duration", "200ms", "--warmup", "0", "--out", out, "--quiet")
		if r.Code != 0 {
			t.Fatalf("run: exit %d\n%s", r.Code, r.Stderr)
		}
		check(t, out)
	})
	t.Run("serve and load", func(t *testing.T) {
		before := listening()
		srv := startServe(t, nil, "--backend", "epoll", "--epoll-mode", "oneshot")
		out := filepath.Join(t.TempDir(), "l.json")
		r := runRingbench(t, "", 60*time.Second, "load", "--target", srv.listen, "--control", srv.control, "--control-token-file", srv.tokenFile,
			"--conns", "4", "--duration", "200ms", "--verify", "--out", out)
		if r.Code != 0 {
			t.Fatalf("load: exit %d\n%s", r.Code, r.Stderr)
		}
		check(t, out)
		srv.stop(t, syscall.SIGTERM)
		noLeaks(t, before)
	})
}
