package echoproxy

import (
	"fmt"
	"strings"
	"testing"

	backend "github.com/ringbench/ringbench/backends"
)

// TestControlEpollMode: a load generator learns the server's --epoll-mode over the control channel ("" for
// the level-triggered default), and the hello carries what loads from before the edge-triggered mode
// understand: nothing for the default (which they record as their default), "oneshot" as they knew it,
// and for edge a name they refuse rather than record as their default (they knew "edge" as it).
func TestControlEpollMode(t *testing.T) {
	for _, tc := range []struct{ mode, wire, learnt string }{
		{"", "", ""}, {backend.EpollLevel, "", ""}, {backend.EpollEdge, wireEpollEdge, backend.EpollEdge},
		{backend.EpollOneshot, backend.EpollOneshot, backend.EpollOneshot},
	} {
		t.Run("mode="+tc.mode, func(t *testing.T) {
			r := startCtlRigInfo(t, ControlInfo{Topology: "echo", EpollMode: tc.mode})
			c, sc := dialRaw(t, r.addr)
			resp := rawCall(t, c, sc, fmt.Sprintf(`{"op":"hello","token":%q}`, r.token))
			if !resp.OK || resp.EpollMode != tc.wire {
				t.Errorf("hello: %+v, want epoll_mode %q", resp, tc.wire)
			}
			cc, err := DialControl(r.addr, r.token)
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			if cc.Info.EpollMode != tc.learnt {
				t.Errorf("load learnt epoll mode %q, want %q", cc.Info.EpollMode, tc.learnt)
			}
		})
	}
}

// TestEpollModeFromWire: what loads make of each name a server may send, older servers' included: their
// "edge" was the level-triggered default.
func TestEpollModeFromWire(t *testing.T) {
	for wire, want := range map[string]string{"": "", "edge": "", "level": "", wireEpollEdge: backend.EpollEdge, "oneshot": backend.EpollOneshot} {
		if got, err := epollModeFromWire(wire); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", wire, got, err, want)
		}
	}
	if _, err := epollModeFromWire("flat"); err == nil || !strings.Contains(err.Error(), "--epoll-mode") {
		t.Errorf("flat: %v, want an error naming --epoll-mode", err)
	}
	for _, mode := range []string{"", backend.EpollLevel, backend.EpollEdge, backend.EpollOneshot} {
		if got, err := epollModeFromWire(epollModeToWire(mode)); err != nil || !backend.EpollModeDefault(mode) && got != mode || backend.EpollModeDefault(mode) && got != "" {
			t.Errorf("mode %q round trip: %q, %v", mode, got, err)
		}
	}
}
