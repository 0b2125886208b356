package epollserver

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/perfcount"
)

// countedNames are the server thread's syscalls the oneshot tests count.
var countedNames = []string{"epoll_ctl", "read", "sendto", "getsockopt"}

// roundTrips makes n closed-loop request/response round trips of 64 bytes on one connection to addr,
// each message different, checking every reply byte for byte; then closes the connection and waits until
// s has closed its side, so that every syscall the server makes for the connection has been made.
func roundTrips(t *testing.T, s *Server, addr string, n int) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	msg, got := make([]byte, 64), make([]byte, 64)
	for i := 0; i < n; i++ {
		for j := range msg {
			msg[j] = byte(i*7 + j)
		}
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("reply %d is %x, want %x", i, got, msg)
		}
	}
	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for s.Stats().Open != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the server did not close its side of the connection")
		}
		time.Sleep(time.Millisecond)
	}
}

// countThread counts the named syscalls of s's thread; it skips the test where syscalls cannot be counted.
func countThread(t *testing.T, s *Server) *perfcount.Counter {
	t.Helper()
	pc, err := perfcount.OpenThreads([]int{s.ThreadID()}, countedNames)
	if errors.Is(err, perfcount.ErrUnavailable) {
		t.Skipf("syscalls cannot be counted here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

func byName(t *testing.T, pc *perfcount.Counter) map[string]uint64 {
	t.Helper()
	r, err := pc.Read()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range countedNames {
		if why, ok := r.Unavailable[n]; ok {
			t.Skipf("%s cannot be counted here: %s", n, why)
		}
	}
	return r.ByName
}

// TestOneshotRearmsPerRequest: over one connection with N round trips, the echo server in oneshot mode
// calls epoll_ctl once to register the connection and once per request to re-arm it; in the default mode
// only the registration. Either way one read per request (and one for the end of the stream) and one
// sendto per request.
func TestOneshotRearmsPerRequest(t *testing.T) {
	const n = 200
	for _, oneshot := range []bool{false, true} {
		name := "edge"
		if oneshot {
			name = "oneshot"
		}
		t.Run(name, func(t *testing.T) {
			s, addr := start(t, Config{MaxConns: 8, Oneshot: oneshot})
			pc := countThread(t, s)
			roundTrips(t, s, addr, n)
			got := byName(t, pc)
			wantCtl := uint64(1) // EPOLL_CTL_ADD of the connection
			if oneshot {
				wantCtl += n // EPOLL_CTL_MOD after each request
			}
			if got["epoll_ctl"] != wantCtl || got["read"] != n+1 || got["sendto"] != n {
				t.Errorf("%d round trips: epoll_ctl %d, read %d, sendto %d; want %d, %d, %d",
					n, got["epoll_ctl"], got["read"], got["sendto"], wantCtl, n+1, n)
			}
		})
	}
}

// TestOneshotProxyRearmsBothSides: a proxy in oneshot mode re-arms both the client's connection and its
// upstream connection after each request's event on each: two epoll_ctl per request, besides the
// registrations (two, and two more changes of interest when the upstream connect completed later, which
// the getsockopt(SO_ERROR) that checks it tells).
func TestOneshotProxyRearmsBothSides(t *testing.T) {
	const n = 200
	_, echoAddr := start(t, Config{MaxConns: 8})
	for _, oneshot := range []bool{false, true} {
		name := "edge"
		if oneshot {
			name = "oneshot"
		}
		t.Run(name, func(t *testing.T) {
			s, addr := start(t, Config{MaxConns: 8, Upstream: echoAddr, Oneshot: oneshot})
			pc := countThread(t, s)
			roundTrips(t, s, addr, n)
			got := byName(t, pc)
			wantCtl := 2 + 2*got["getsockopt"]
			if oneshot {
				wantCtl += 2 * n
			}
			if got["getsockopt"] > 1 || got["epoll_ctl"] != wantCtl || got["read"] != 2*n+1 || got["sendto"] != 2*n {
				t.Errorf("%d round trips: epoll_ctl %d, read %d, sendto %d, getsockopt %d; want %d, %d, %d, at most 1",
					n, got["epoll_ctl"], got["read"], got["sendto"], got["getsockopt"], wantCtl, 2*n+1, 2*n)
			}
		})
	}
}

// TestOneshotBackpressure: with oneshot on both, a message larger than the socket buffers goes through a
// proxy and an echo server intact, though backlogs stop and restart reading while registrations are
// one-shot (how often depends on scheduling, so it is logged, not required).
func TestOneshotBackpressure(t *testing.T) {
	echo, echoAddr := start(t, Config{MaxConns: 8, Oneshot: true})
	proxy, proxyAddr := start(t, Config{MaxConns: 8, Upstream: echoAddr, Oneshot: true})
	msg := bytes.Repeat([]byte("ringbench"), 500_000)
	roundTrip(t, proxyAddr, msg)
	if st := proxy.Stats(); st.BytesIn != int64(len(msg)) {
		t.Errorf("proxy stats %+v, want %d bytes in", st, len(msg))
	}
	if st := echo.Stats(); st.BytesIn != int64(len(msg)) {
		t.Errorf("echo stats %+v, want %d bytes in", st, len(msg))
	}
	t.Logf("pauses: proxy %d, echo %d", proxy.Stats().Paused, echo.Stats().Paused)
}
