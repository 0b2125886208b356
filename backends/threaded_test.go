package backend_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/netutil"
	"github.com/ringbench/ringbench/internal/perfcount"
	"github.com/ringbench/ringbench/internal/ring"
	"github.com/ringbench/ringbench/internal/testsupport"
)

// TestServerThreads: a server with Threads 2 on every backend serves connections on both loops (SO_REUSEPORT
// spreads them: with 64 connections, all on one of two listeners has probability 2^-63), each loop's
// accepted connections add up to the total, and syscalls are counted on both loop threads.
func TestServerThreads(t *testing.T) {
	const conns = 64
	for _, tc := range []struct {
		name      string
		multishot bool
	}{{"epoll", false}, {"uring", false}, {"uring", true}, {"sqpoll", false}, {"gostd", false}} {
		name := tc.name
		if tc.multishot {
			name += "/multishot"
		}
		t.Run(name, func(t *testing.T) {
			b := testsupport.Lookup(t, backend.Lookup, tc.name)
			if err := b.Available(); err != nil {
				t.Skip(err)
			}
			fds, addr, err := netutil.ListenN("127.0.0.1:0", 512, 2)
			if err != nil {
				t.Fatal(err)
			}
			srv, err := b.NewServer(backend.ServerConfig{ListenFD: fds[0], ListenFDs: fds, Threads: 2, Multishot: tc.multishot,
				Options: backend.Options{SQCPU: -1}})
			if errors.Is(err, backend.ErrNotSupported) || errors.Is(err, ring.ErrNotSupported) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			testsupport.Serve(t, srv)
			tids := backend.ServerThreadIDs(srv)
			var pc *perfcount.Counter
			if tc.name != "gostd" {
				if len(tids) != 2 || tids[0] == tids[1] {
					t.Fatalf("loop threads %v, want two", tids)
				}
				pc, err = perfcount.OpenThreads(tids, nil)
				if errors.Is(err, perfcount.ErrUnavailable) {
					t.Logf("syscalls not counted: %v", err)
					pc = nil
				} else if err != nil {
					t.Fatal(err)
				}
			}
			var cs []net.Conn
			for i := 0; i < conns; i++ {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				cs = append(cs, c)
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				msg := []byte{byte(i), 1, 2, 3}
				if _, err := c.Write(msg); err != nil {
					t.Fatal(err)
				}
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
					t.Fatalf("conn %d: echo %q, %v", i, got, err)
				}
			}
			th, ok := srv.(*backend.ThreadedServer)
			if !ok {
				t.Fatalf("%T is not a threaded server", srv)
			}
			per := th.ThreadStats()
			if len(per) != 2 {
				t.Fatalf("%d loops' stats, want 2", len(per))
			}
			if per[0].Accepted == 0 || per[1].Accepted == 0 || per[0].Accepted+per[1].Accepted != conns {
				t.Errorf("accepted per loop %d + %d, want both > 0 and %d in all", per[0].Accepted, per[1].Accepted, conns)
			}
			if st := srv.Stats(); st.Accepted != conns || st.Open != conns || st.BytesIn != 4*conns {
				t.Errorf("summed stats %+v, want %d accepted and open, %d bytes in", st, conns, 4*conns)
			}
			if pc != nil {
				rs, err := pc.ReadThreads()
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range rs {
					if r.Total == 0 {
						t.Errorf("loop thread %d: no syscalls counted", r.TID)
					}
				}
				pc.Close()
			}
			for _, c := range cs {
				c.Close()
			}
			t.Logf("accepted per loop: %d, %d", per[0].Accepted, per[1].Accepted)
		})
	}
}

func TestServerThreadsFlag(t *testing.T) {
	for _, n := range []int{-1, 257} {
		fds, _, err := netutil.ListenN("127.0.0.1:0", 16, 1)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := backend.Lookup("epoll")
		_, err = b.NewServer(backend.ServerConfig{ListenFD: fds[0], Threads: n})
		if err == nil || !strings.Contains(err.Error(), "--threads") {
			t.Errorf("Threads %d: %v, want an error naming --threads", n, err)
		}
	}
}
