package epoll

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/epollinfo"
	"github.com/ringbench/ringbench/internal/netutil"
	"github.com/ringbench/ringbench/internal/perfcount"
	"github.com/ringbench/ringbench/internal/testsupport"
	"golang.org/x/sys/unix"
)

// TestModesThreads: with two loops (--threads 2), every connection is registered once, and in oneshot
// mode re-armed once per request, whichever loop serves it: epoll_ctl summed over the loops' threads is
// conns*(1+rounds) in oneshot mode, conns in the others (the default, level and edge).
func TestModesThreads(t *testing.T) {
	const conns, rounds = 8, 50
	for _, mode := range []string{"", backend.EpollLevel, backend.EpollEdge, backend.EpollOneshot} {
		t.Run("mode="+mode, func(t *testing.T) {
			fds, addr, err := netutil.ListenN("127.0.0.1:0", 64, 2)
			if err != nil {
				t.Fatal(err)
			}
			srv, err := Backend{}.NewServer(backend.ServerConfig{ListenFD: fds[0], ListenFDs: fds, Threads: 2,
				Options: backend.Options{EpollMode: mode}})
			if err != nil {
				t.Fatal(err)
			}
			testsupport.Serve(t, srv)
			pc, err := perfcount.OpenThreads(backend.ServerThreadIDs(srv), []string{"epoll_ctl"})
			if errors.Is(err, perfcount.ErrUnavailable) {
				t.Skipf("syscalls cannot be counted here: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()

			var cs []net.Conn
			for i := 0; i < conns; i++ {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(20 * time.Second))
				cs = append(cs, c)
			}
			msg, got := make([]byte, 32), make([]byte, 32)
			for r := 0; r < rounds; r++ {
				for i, c := range cs {
					for j := range msg {
						msg[j] = byte(r*31 + i*7 + j)
					}
					if _, err := c.Write(msg); err != nil {
						t.Fatal(err)
					}
					if _, err := io.ReadFull(c, got); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, msg) {
						t.Fatalf("conn %d round %d: reply %x, want %x", i, r, got, msg)
					}
				}
			}
			et, oneshot := registeredWith(t, fds, unix.EPOLLET), registeredWith(t, fds, unix.EPOLLONESHOT)
			if wantET := mode == backend.EpollEdge; et != 0 && !wantET || et != conns && wantET {
				t.Errorf("%d registrations with EPOLLET over both loops' epoll instances (edge mode: %v)", et, wantET)
			}
			if wantOne := mode == backend.EpollOneshot; oneshot != 0 && !wantOne || oneshot != conns && wantOne {
				t.Errorf("%d registrations with EPOLLONESHOT over both loops' epoll instances (oneshot mode: %v)", oneshot, wantOne)
			}
			for _, c := range cs {
				c.Close()
			}
			deadline := time.Now().Add(10 * time.Second)
			for srv.Stats().Open != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("connections still open: %+v", srv.Stats())
				}
				time.Sleep(time.Millisecond)
			}
			rd, err := pc.Read()
			if err != nil {
				t.Fatal(err)
			}
			if why, ok := rd.Unavailable["epoll_ctl"]; ok {
				t.Skipf("epoll_ctl cannot be counted here: %s", why)
			}
			want := uint64(conns)
			if mode == backend.EpollOneshot {
				want += conns * rounds
			}
			if rd.ByName["epoll_ctl"] != want {
				t.Errorf("epoll_ctl %d over both loops, want %d", rd.ByName["epoll_ctl"], want)
			}
			if st := srv.Stats(); st.Accepted != conns || st.BytesIn != conns*rounds*int64(len(msg)) {
				t.Errorf("stats %+v, want %d accepted, %d bytes in", st, conns, conns*rounds*len(msg))
			}
		})
	}
}

// registeredWith counts the registrations that have flag, over the epoll instances that watch the
// listening sockets lfds (one per loop).
func registeredWith(t *testing.T, lfds []int, flag uint32) int {
	t.Helper()
	n := 0
	for _, lfd := range lfds {
		eps, err := epollinfo.Watching(lfd)
		if err != nil {
			t.Fatal(err)
		}
		for _, ep := range eps {
			regs, err := epollinfo.Registrations(ep)
			if err != nil {
				t.Fatal(err)
			}
			for _, mask := range regs {
				if mask&flag != 0 {
					n++
				}
			}
		}
	}
	return n
}

// TestBadEpollMode: a mode other than level, edge or oneshot is refused, naming the flag.
func TestBadEpollMode(t *testing.T) {
	fd, _, err := netutil.Listen("127.0.0.1:0", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Backend{}.NewServer(backend.ServerConfig{ListenFD: fd, Options: backend.Options{EpollMode: "flat"}})
	if err == nil || !strings.Contains(err.Error(), backend.FlagEpollMode) {
		t.Errorf("mode flat: %v, want an error naming %s", err, backend.FlagEpollMode)
	}
	if err := (backend.Options{Depth: 1, Batch: 1, EpollMode: "flat"}).Validate(); err == nil {
		t.Error("Validate accepts mode flat")
	}
	for _, mode := range []string{"", backend.EpollLevel, backend.EpollEdge, backend.EpollOneshot} {
		if err := (backend.Options{Depth: 1, Batch: 1, EpollMode: mode}).Validate(); err != nil {
			t.Errorf("Validate refuses mode %q: %v", mode, err)
		}
	}
}
