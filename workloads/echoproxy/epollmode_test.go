package echoproxy

import (
	"strings"
	"testing"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/workloads"
)

// TestEpollModeSamples: the epoll server in oneshot mode re-arms once per request (the server thread's
// epoll_ctl per request near 1, against near 0 in the default mode), and only the oneshot samples carry
// the mode in their parameters, so the default's series keep theirs.
func TestEpollModeSamples(t *testing.T) {
	for _, mode := range []string{"", backend.EpollOneshot} {
		t.Run("mode="+mode, func(t *testing.T) {
			base := takeBaseline()
			s, err := sample(t, variant{name: "epoll"}, workloads.Config{Conns: 4, Verify: true,
				Options: backend.Options{EpollMode: mode}}, 300*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := s.Params["epoll-mode"]; mode == "" && ok || mode != "" && got != mode {
				t.Errorf("params %v, want epoll-mode %q", s.Params, mode)
			}
			if s.Ops < 100 {
				t.Fatalf("implausible sample: %d ops", s.Ops)
			}
			if !s.Syscalls.Available || s.Syscalls.Backend == nil {
				t.Logf("syscalls not counted: %s", s.Syscalls.Reason)
			} else if ctl, ok := s.Syscalls.Backend.ByName["epoll_ctl"]; ok {
				// The window's edges cut a few requests; the per-request count is exact in
				// internal/epollserver's tests.
				if mode == "" && ctl > uint64(s.Ops)/10 || mode != "" && ctl < uint64(s.Ops)/2 {
					t.Errorf("server thread: %d epoll_ctl for %d requests", ctl, s.Ops)
				}
				t.Logf("%d requests: server thread %v", s.Ops, s.Syscalls.Backend.ByName)
			}
			base.check(t)
		})
	}
}

func TestEpollModeParams(t *testing.T) {
	if _, err := Check(workloads.Config{Options: backend.Options{EpollMode: "level"}}); err == nil || !strings.Contains(err.Error(), "--epoll-mode") {
		t.Errorf("mode level: %v, want an error naming --epoll-mode", err)
	}
	s, err := Check(workloads.Config{Options: backend.Options{EpollMode: backend.EpollOneshot}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ backend, mode, want string }{
		{"epoll", "oneshot", "oneshot"}, {"epoll", "edge", ""}, {"epoll", "", ""}, {"uring", "oneshot", ""}, {"gostd", "oneshot", ""},
	} {
		p := EpollModeParams(s.Params(), tc.backend, tc.mode)
		if p["epoll-mode"] != tc.want {
			t.Errorf("%s %q: params %v, want epoll-mode %q", tc.backend, tc.mode, p, tc.want)
		}
		if extra := len(p) - len(s.Params()); extra != 0 && tc.want == "" || extra != 1 && tc.want != "" {
			t.Errorf("%s %q: params %v, want only epoll-mode added", tc.backend, tc.mode, p)
		}
	}
}
