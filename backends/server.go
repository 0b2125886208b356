package backend

// The server half of the backend interface: what the echo-proxy workload, `ringbench serve` and the load
// generator's upstream echo drive. A backend that can serve sockets implements ServerBackend; a workload
// type-asserts a Backend to it and skips (with the reason) a backend that does not.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Topologies of the network workload.
const (
	// TopologyEcho: client -> server under test, which echoes every byte back.
	TopologyEcho = "echo"
	// TopologyProxy: client -> server under test -> upstream echo server; the server forwards bytes both ways.
	TopologyProxy = "proxy"
)

// DefaultServerBufSize is the receive buffer per connection (plain io_uring) or per provided buffer
// (multishot): 4 KiB, as in the C servers of the anchor figures.
const DefaultServerBufSize = 4096

// ServerBackend is implemented by backends that serve the network workloads natively.
type ServerBackend interface {
	Backend
	// NewServer sets a server up on cfg.ListenFD. The server owns ListenFD from then on (Close closes it,
	// also when NewServer fails). NewServer starts the server's OS thread, so ThreadID is valid on return.
	NewServer(cfg ServerConfig) (Server, error)
}

// ServerConfig sets a server up.
type ServerConfig struct {
	// ListenFD is a bound, listening, non-blocking TCP socket (see Listen).
	ListenFD int
	// Topology is TopologyEcho or TopologyProxy ("" means echo).
	Topology string
	// Upstream is the echo server's host:port (proxy topology only): one upstream connection per client.
	Upstream string
	// Multishot asks io_uring backends for multishot accept and multishot recv from a provided-buffer ring
	// (otherwise one recv buffer per connection). Others ignore it.
	Multishot bool
	// MaxConns bounds client connections; connections beyond it are accepted and closed at once
	// (0: DefaultMaxConns).
	MaxConns int
	// BufSize is the receive buffer size (0: DefaultServerBufSize).
	BufSize int
	Options
}

// DefaultMaxConns is the client connection limit when ServerConfig.MaxConns is 0.
const DefaultMaxConns = 1 << 16

// Normalize fills defaults and checks the configuration; backends call it first.
func (c *ServerConfig) Normalize() error {
	if c.Topology == "" {
		c.Topology = TopologyEcho
	}
	switch c.Topology {
	case TopologyEcho:
	case TopologyProxy:
		if c.Upstream == "" {
			return errors.New("proxy topology needs an upstream address")
		}
	default:
		return fmt.Errorf("--topology %q: want %s or %s", c.Topology, TopologyEcho, TopologyProxy)
	}
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.BufSize <= 0 {
		c.BufSize = DefaultServerBufSize
	}
	if c.BufSize > 1<<20 {
		return fmt.Errorf("server buffer size %d: at most 1 MiB", c.BufSize)
	}
	if c.ListenFD <= 0 {
		return errors.New("no listening socket")
	}
	return nil
}

// Server is one running server.
//
// Every server bounds what it holds per connection: when the echo (or the forward to the other side)
// cannot be written, it stops reading from that connection until the backlog drains, so a client that
// stops reading cannot make it grow without bound, and it never blocks on one connection.
type Server interface {
	// Serve runs the server (on its own locked OS thread where the backend has one) until Close, and
	// returns nil after Close, or the error that stopped it. It may be called once.
	Serve() error
	// Close stops the server and releases everything it holds: every connection, the listening socket,
	// rings and buffers. It waits until that is done; it may be called more than once, and before Serve.
	Close() error
	// Counters reports the engine's own counts (io_uring_enter calls; Enters -1 without a ring).
	Counters() EngineCounters
	// ThreadID is the OS thread that does the server's I/O (0 when there is no single such thread).
	ThreadID() int
	// Stats reports connection and byte counts; safe to call from any goroutine while serving.
	Stats() ServerStats
}

// ServerStats are a server's connection and byte counts.
type ServerStats struct {
	Accepted int64 // client connections accepted (including rejected ones)
	Rejected int64 // closed at once because MaxConns was reached
	Open     int64 // client connections open now
	BytesIn  int64 // bytes received from clients
	// Paused counts the times the server stopped reading a connection because the bytes it owes cannot be
	// written yet (backpressure).
	Paused int64
	// Errors counts connections closed on an error other than an orderly close or reset by the peer.
	Errors int64
}

// Listen opens a non-blocking TCP listening socket on addr ("host:port"; port 0 picks one; an empty host
// means loopback, never every interface). It returns the fd and the address actually bound.
func Listen(addr string, backlog int) (fd int, bound string, err error) {
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

// RaiseNoFile makes sure this process may hold at least need descriptors, raising RLIMIT_NOFILE (the hard
// limit too, where privileged). The error says what the limit is and how to raise it.
func RaiseNoFile(need int) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur >= uint64(need) {
		return nil
	}
	want := lim
	want.Cur = uint64(need)
	if want.Max < want.Cur {
		want.Max = want.Cur
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &want); err != nil {
		if lim.Max >= uint64(need) {
			return fmt.Errorf("cannot raise RLIMIT_NOFILE to %d (soft %d, hard %d): %w", need, lim.Cur, lim.Max, err)
		}
		return fmt.Errorf("%d descriptors needed but RLIMIT_NOFILE hard limit is %d and raising it failed (%v): "+
			"run as root, raise it with `ulimit -Hn %d` or limits.conf, or use fewer connections", need, lim.Max, err, need)
	}
	return nil
}

// OpenFDs counts this process's open descriptors (for leak checks).
func OpenFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // the directory's own fd
}

// PinThread restricts OS thread tid (0: the calling thread) to cpus.
func PinThread(tid int, cpus []int) error {
	if len(cpus) == 0 {
		return nil
	}
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	return unix.SchedSetaffinity(tid, &set)
}

// PinProcess restricts every thread of this process to cpus; threads created later inherit the mask from
// the thread that creates them. Threads that cannot be moved (io_uring's kernel threads) are skipped.
func PinProcess(cpus []int) error {
	if len(cpus) == 0 {
		return nil
	}
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if err := PinThread(tid, cpus); err != nil && err != unix.ESRCH && err != unix.EINVAL {
			return fmt.Errorf("pin threads to CPUs %v: %w", cpus, err)
		}
	}
	return nil
}

// AllowedCPUs lists the CPUs this process may run on, lowest first.
func AllowedCPUs() []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		n := runtime.NumCPU()
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	var out []int
	for c := 0; c < len(set)*64 && len(out) < set.Count(); c++ {
		if set.IsSet(c) {
			out = append(out, c)
		}
	}
	return out
}
