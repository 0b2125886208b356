package epollserver

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/netutil"
	"github.com/ringbench/ringbench/internal/testsupport"
)

func start(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	s, addr, _ := startFD(t, cfg)
	return s, addr
}

// startFD is start, also returning the listening socket (read before the server owns it, so that a test
// need not read the server's fields while it runs).
func startFD(t *testing.T, cfg Config) (*Server, string, int) {
	t.Helper()
	fd, addr, err := netutil.Listen("127.0.0.1:0", 0)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ListenFD = fd
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.ThreadID() == 0 {
		t.Error("no thread id on return from New")
	}
	testsupport.Serve(t, s)
	return s, addr, fd
}

// dial connects to addr, every operation due within d from now, and closes the connection when the test
// ends.
func dial(t *testing.T, addr string, d time.Duration) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(d))
	return c
}

// echo sends msg on c and wants it back.
func echo(t *testing.T, c net.Conn, msg []byte) {
	t.Helper()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("echo differs from what was sent")
	}
}

// roundTrip has msg echoed on a connection of its own.
func roundTrip(t *testing.T, addr string, msg []byte) {
	t.Helper()
	c := dial(t, addr, 5*time.Second)
	echo(t, c, msg)
	c.Close()
}

// TestEchoAndProxy: a proxy in front of an echo server returns every byte, and both count them.
func TestEchoAndProxy(t *testing.T) {
	echo, echoAddr := start(t, Config{MaxConns: 8})
	proxy, proxyAddr := start(t, Config{MaxConns: 8, Upstream: echoAddr})
	msg := bytes.Repeat([]byte("ringbench"), 50_000) // larger than a socket buffer: backpressure
	roundTrip(t, echoAddr, msg[:64])
	roundTrip(t, proxyAddr, msg)
	if st := proxy.Stats(); st.Accepted != 1 || st.BytesIn != int64(len(msg)) {
		t.Errorf("proxy stats %+v, want 1 accepted, %d bytes in", st, len(msg))
	}
	if st := echo.Stats(); st.Accepted != 2 || st.BytesIn != int64(64+len(msg)) {
		t.Errorf("echo stats %+v, want 2 accepted, %d bytes in", st, 64+len(msg))
	}
}

// TestMaxConns: a connection beyond MaxConns is accepted and closed at once.
func TestMaxConns(t *testing.T) {
	s, addr := start(t, Config{MaxConns: 1})
	echo(t, dial(t, addr, 5*time.Second), []byte("a")) // the first connection is served
	c2 := dial(t, addr, 5*time.Second)
	if n, err := c2.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Fatalf("second connection: read %d bytes, %v; want it closed", n, err)
	}
	if st := s.Stats(); st.Rejected != 1 || st.Open != 1 {
		t.Errorf("stats %+v, want 1 rejected, 1 open", st)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("no listening socket accepted")
	}
	fd, _, err := netutil.Listen("127.0.0.1:0", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{ListenFD: fd, MaxConns: 1, Upstream: "nohost:1"}); err == nil {
		t.Error("an upstream host name accepted")
	}
}
