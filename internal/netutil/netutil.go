// Package netutil opens listening sockets and turns addresses into sockaddrs and back, the way every
// ringbench server and client does it: numeric addresses only, never a name looked up over the network.
package netutil

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Listen opens a non-blocking TCP listening socket on addr ("host:port"; port 0 picks one; an empty host
// means loopback, never every interface). It returns the fd and the address actually bound.
func Listen(addr string, backlog int) (fd int, bound string, err error) {
	return listen(addr, backlog, false)
}

// ListenN opens n listening sockets on one address, each with SO_REUSEPORT, so the kernel spreads
// incoming connections over them (by a hash of the connection's addresses): one per server thread. Port 0
// picks a free port for the first; the others bind to the same. n 1 is Listen without SO_REUSEPORT.
func ListenN(addr string, backlog, n int) (fds []int, bound string, err error) {
	if n <= 1 {
		fd, bound, err := Listen(addr, backlog)
		if err != nil {
			return nil, "", err
		}
		return []int{fd}, bound, nil
	}
	for i := 0; i < n; i++ {
		fd, got, err := listen(addr, backlog, true)
		if err != nil {
			for _, f := range fds {
				unix.Close(f)
			}
			return nil, "", err
		}
		if i == 0 {
			addr, bound = got, got
		}
		fds = append(fds, fd)
	}
	return fds, bound, nil
}

func listen(addr string, backlog int, reusePort bool) (fd int, bound string, err error) {
	sa, family, err := ResolveSockaddr(addr, true)
	if err != nil {
		return -1, "", err
	}
	if backlog <= 0 {
		backlog = unix.SOMAXCONN
	}
	fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return -1, "", fmt.Errorf("listen %s: socket: %w", addr, err)
	}
	fail := func(what string, e error) (int, string, error) {
		unix.Close(fd)
		return -1, "", fmt.Errorf("listen %s: %s: %w", addr, what, e)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fail("SO_REUSEADDR", err)
	}
	if reusePort {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return fail("SO_REUSEPORT", err)
		}
	}
	// Accepted sockets inherit TCP_NODELAY from the listener: servers whose sockets live only in an
	// io_uring registered-file table cannot set it themselves.
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return fail("TCP_NODELAY", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		return fail("listen", err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	return fd, SockaddrString(got), nil
}

// ResolveSockaddr turns "host:port" into a sockaddr. Only numeric addresses and "localhost" are accepted:
// ringbench never resolves names through the network. With emptyIsLoopback, an empty host is 127.0.0.1.
func ResolveSockaddr(addr string, emptyIsLoopback bool) (unix.Sockaddr, int, error) {
	host, portS, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, 0, fmt.Errorf("address %q: %v (want host:port)", addr, err)
	}
	port, err := strconv.Atoi(portS)
	if err != nil || port < 0 || port > 65535 {
		return nil, 0, fmt.Errorf("address %q: bad port %q", addr, portS)
	}
	switch {
	case host == "" && emptyIsLoopback, host == "localhost":
		host = "127.0.0.1"
	case host == "":
		return nil, 0, fmt.Errorf("address %q: no host", addr)
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if err != nil {
		return nil, 0, fmt.Errorf("address %q: host must be a numeric IP address or localhost", addr)
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return &unix.SockaddrInet4{Port: port, Addr: ip.As4()}, unix.AF_INET, nil
	}
	if ip.Zone() != "" {
		return nil, 0, fmt.Errorf("address %q: zones are not supported", addr)
	}
	return &unix.SockaddrInet6{Port: port, Addr: ip.As16()}, unix.AF_INET6, nil
}

// SockaddrString renders an inet sockaddr as host:port.
func SockaddrString(sa unix.Sockaddr) string {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port)).String()
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port)).String()
	}
	return fmt.Sprintf("%v", sa)
}
