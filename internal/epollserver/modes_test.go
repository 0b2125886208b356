package epollserver

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/perfcount"
)

// countedNames are the server thread's syscalls the mode tests count.
var countedNames = []string{"epoll_ctl", "read", "sendto", "getsockopt"}

// roundTrips makes n closed-loop request/response round trips of 64 bytes on one connection to addr,
// each message different, checking every reply byte for byte; then closes the connection and waits until
// s has closed its side, so that every syscall the server makes for the connection has been made. After
// the k-th reply (from 1) it calls settled(k) when that is not nil, before sending the next request.
func roundTrips(t *testing.T, s *Server, addr string, n int, settled func(k int)) {
	t.Helper()
	c := dial(t, addr, 20*time.Second)
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
		if settled != nil {
			settled(i + 1)
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

// TestModesSyscallsPerRequest: over one connection with N round trips, the echo server calls epoll_ctl
// once to register the connection, and in oneshot mode once more per request to re-arm it. Level and
// oneshot read once per request (and once for the end of the stream); edge reads until EAGAIN, so twice
// per request when each request comes alone (the client waits until the server has drained before it
// sends the next). One sendto per request in every mode.
func TestModesSyscallsPerRequest(t *testing.T) {
	const n = 200
	for _, mode := range []Mode{Level, Edge, Oneshot} {
		t.Run(mode.String(), func(t *testing.T) {
			s, addr := start(t, Config{MaxConns: 8, Mode: mode})
			pc := countThread(t, s)
			wantCtl, wantRead := uint64(1), uint64(n+1) // EPOLL_CTL_ADD of the connection; the last read sees EOF
			var settled func(k int)
			switch mode {
			case Oneshot:
				wantCtl += n // EPOLL_CTL_MOD after each request
			case Edge:
				wantRead += n // the read that finds the socket empty
				settled = func(k int) { waitCount(t, pc, "read", uint64(2*k)) }
			}
			roundTrips(t, s, addr, n, settled)
			got := byName(t, pc)
			if got["epoll_ctl"] != wantCtl || got["read"] != wantRead || got["sendto"] != n {
				t.Errorf("%d round trips: epoll_ctl %d, read %d, sendto %d; want %d, %d, %d",
					n, got["epoll_ctl"], got["read"], got["sendto"], wantCtl, wantRead, n)
			}
		})
	}
}

// waitCount waits until pc has counted want calls of name: the server thread has made them.
func waitCount(t *testing.T, pc *perfcount.Counter, name string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := byName(t, pc)[name]
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server thread made %d %s, want %d", got, name, want)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// TestProxyModesEpollCtl: a proxy in oneshot mode re-arms both the client's connection and its upstream
// connection after each request's event on each: two epoll_ctl per request, besides the registrations
// (two, and in level and oneshot modes two more changes of interest when the upstream connect completed
// later, which the getsockopt(SO_ERROR) that checks it tells). In edge mode the two registrations are all:
// they cover both directions for good.
func TestProxyModesEpollCtl(t *testing.T) {
	const n = 200
	_, echoAddr := start(t, Config{MaxConns: 8})
	for _, mode := range []Mode{Level, Edge, Oneshot} {
		t.Run(mode.String(), func(t *testing.T) {
			s, addr := start(t, Config{MaxConns: 8, Upstream: echoAddr, Mode: mode})
			pc := countThread(t, s)
			roundTrips(t, s, addr, n, nil)
			got := byName(t, pc)
			wantCtl, wantRead := 2+2*got["getsockopt"], uint64(2*n+1)
			switch mode {
			case Oneshot:
				wantCtl += 2 * n
			case Edge:
				// Each side read until EAGAIN per request (the client waits for the reply, and the reply
				// waits for the proxy): four reads per request, and the EOF. A connect that completed later
				// drains the client once more, and the client's input event reported with it may find it
				// drained already: up to two reads more.
				wantCtl, wantRead = 2, uint64(4*n+1)
				if got["getsockopt"] == 1 && got["read"] >= wantRead && got["read"] <= wantRead+2 {
					wantRead = got["read"]
				}
			}
			if got["getsockopt"] > 1 || got["epoll_ctl"] != wantCtl || got["read"] != wantRead || got["sendto"] != 2*n {
				t.Errorf("%d round trips: epoll_ctl %d, read %d, sendto %d, getsockopt %d; want %d, %d, %d, at most 1",
					n, got["epoll_ctl"], got["read"], got["sendto"], got["getsockopt"], wantCtl, wantRead, 2*n)
			}
		})
	}
}

// TestOneshotBackpressure: with oneshot on both, a message larger than the socket buffers goes through a
// proxy and an echo server intact, though backlogs stop and restart reading while registrations are
// one-shot (how often depends on scheduling, so it is logged, not required).
func TestOneshotBackpressure(t *testing.T) {
	echo, echoAddr := start(t, Config{MaxConns: 8, Mode: Oneshot})
	proxy, proxyAddr := start(t, Config{MaxConns: 8, Upstream: echoAddr, Mode: Oneshot})
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
