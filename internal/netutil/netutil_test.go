package netutil

import (
	"net"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestResolveSockaddr(t *testing.T) {
	for _, tc := range []struct {
		addr     string
		loopback bool
		want     string // SockaddrString of the result; "" when an error is wanted
	}{
		{"127.0.0.1:80", false, "127.0.0.1:80"},
		{"localhost:8080", false, "127.0.0.1:8080"},
		{":9", true, "127.0.0.1:9"},
		{":9", false, ""},
		{"[::1]:7", false, "[::1]:7"},
		{"example.com:80", false, ""},
		{"127.0.0.1:70000", false, ""},
		{"127.0.0.1", false, ""},
	} {
		sa, _, err := ResolveSockaddr(tc.addr, tc.loopback)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%q: no error, want one", tc.addr)
		case tc.want != "" && err != nil:
			t.Errorf("%q: %v", tc.addr, err)
		case tc.want != "" && SockaddrString(sa) != tc.want:
			t.Errorf("%q: got %s, want %s", tc.addr, SockaddrString(sa), tc.want)
		}
	}
}

// TestListen: the socket is non-blocking, listens on loopback with the port the kernel picked, and a
// client connects to the address Listen reports.
func TestListen(t *testing.T) {
	fd, bound, err := Listen(":0", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if !strings.HasPrefix(bound, "127.0.0.1:") || strings.HasSuffix(bound, ":0") {
		t.Fatalf("bound %q, want 127.0.0.1 and a real port", bound)
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_NONBLOCK == 0 {
		t.Fatalf("listening socket not non-blocking (flags %#x, %v)", fl, err)
	}
	c, err := net.Dial("tcp", bound)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, _, err := Listen("nohost:1", 0); err == nil {
		t.Fatal("a host name was accepted")
	}
}
