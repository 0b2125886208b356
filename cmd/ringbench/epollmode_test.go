package main

import (
	"strings"
	"testing"
	"time"
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
