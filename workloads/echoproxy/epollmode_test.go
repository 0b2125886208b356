package echoproxy

import (
	"strings"
	"testing"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/workloads"
)

// TestEpollModeSamples: every mode echoes correctly (--verify) under pipelining on two loops; the epoll
// server in oneshot mode re-arms per event (epoll_ctl a good part of the requests, against none in the
// level and edge modes once the connections are registered), in edge mode each drain ends in a read that
// finds the socket empty (more reads than sends); and only the edge and oneshot samples carry the mode in
// their parameters, so the default's series keep theirs.
func TestEpollModeSamples(t *testing.T) {
	for _, mode := range []string{"", backend.EpollLevel, backend.EpollEdge, backend.EpollOneshot} {
		t.Run("mode="+mode, func(t *testing.T) {
			base := takeBaseline()
			s, err := sampleAtLeast(t, variant{name: "epoll"}, workloads.Config{Conns: 4, Pipeline: 4, Threads: 2, Verify: true,
				Options: backend.Options{EpollMode: mode}}, 300*time.Millisecond, 100)
			if err != nil {
				t.Fatal(err)
			}
			want := mode
			if backend.EpollModeDefault(mode) {
				want = ""
			}
			if got, ok := s.Params["epoll-mode"]; want == "" && ok || want != "" && got != want {
				t.Errorf("params %v, want epoll-mode %q", s.Params, want)
			}
			if s.Ops < 100 {
				t.Fatalf("implausible sample: %d ops", s.Ops)
			}
			if !s.Syscalls.Available || s.Syscalls.Backend == nil {
				t.Logf("syscalls not counted: %s", s.Syscalls.Reason)
			} else if by := s.Syscalls.Backend.ByName; by != nil {
				// The window's edges cut a few requests, and a read may take several pipelined requests;
				// the per-request counts are exact in internal/epollserver's tests.
				ctl, reads, sends := by["epoll_ctl"], by["read"], by["sendto"]
				if mode != backend.EpollOneshot && ctl > uint64(s.Ops)/10 || mode == backend.EpollOneshot && ctl < uint64(s.Ops)/10 {
					t.Errorf("server threads: %d epoll_ctl for %d requests", ctl, s.Ops)
				}
				if mode == backend.EpollEdge && reads <= sends {
					t.Errorf("server threads: %d reads, %d sends: edge mode drains until a read finds nothing", reads, sends)
				}
				t.Logf("%d requests: server thread %v", s.Ops, s.Syscalls.Backend.ByName)
			}
			base.check(t)
		})
	}
}

func TestEpollModeParams(t *testing.T) {
	if _, err := Check(workloads.Config{Options: backend.Options{EpollMode: "flat"}}); err == nil || !strings.Contains(err.Error(), "--epoll-mode") {
		t.Errorf("mode flat: %v, want an error naming --epoll-mode", err)
	}
	s, err := Check(workloads.Config{Options: backend.Options{EpollMode: backend.EpollOneshot}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ backend, mode, want string }{
		{"epoll", "oneshot", "oneshot"}, {"epoll", "edge", "edge"}, {"epoll", "level", ""}, {"epoll", "", ""},
		{"uring", "oneshot", ""}, {"uring", "edge", ""}, {"gostd", "oneshot", ""},
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
