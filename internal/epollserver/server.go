// Package epollserver is the classic epoll server: non-blocking sockets driven by one epoll_wait loop on a
// locked OS thread, as a C server written the classic way does. Config.Mode picks how connections are
// registered.
//
// Level (the default) registers them level-triggered. Per request and connection it makes one read and one
// write; it calls epoll_ctl only when a descriptor's interest changes (a write backlog appears or drains,
// an upstream connect completes), never per request.
//
// Edge registers each connection once with EPOLLIN|EPOLLOUT|EPOLLET and never changes the registration.
// An edge is reported once, so each readiness is drained: reads until read says EAGAIN (each read's bytes
// written at once), and a write backlog is written until send says EAGAIN, to be resumed on the next
// EPOLLOUT edge. Reading stops while a backlog waits; when it drains, or an upstream connect completes,
// the connection is read until EAGAIN at once, since the edges that came meanwhile will not come again.
// Per request: epoll_wait (shared by the connections ready at once), read, write, and the read that finds
// the socket empty (shared by the requests drained at once); no epoll_ctl.
//
// Oneshot registers connections with EPOLLONESHOT and re-arms each one with epoll_ctl(EPOLL_CTL_MOD)
// after handling each of its events: the pattern of servers whose threads share one epoll instance, where
// oneshot guarantees that one event of a socket goes to one thread at a time. Here each loop still owns its
// instance (see backend.NewThreaded); the mode exists to measure what that thread-safe pattern costs: one
// epoll_ctl more per event, so per request epoll_wait, read, write and epoll_ctl. Its registrations are
// level-triggered and its request handling is Level's: one read per wake; data left unread is reported
// again as soon as the connection is re-armed.
//
// It echoes, or forwards to an upstream echo server (proxy). It is the epoll backend's server and the load
// generator's upstream echo server; it knows nothing of the backend registry.
package epollserver

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/ringbench/ringbench/internal/clock"
	"github.com/ringbench/ringbench/internal/netutil"
	"github.com/ringbench/ringbench/internal/serverthread"
	"golang.org/x/sys/unix"
)

// Config sets a server up.
type Config struct {
	// ListenFD is a bound, listening, non-blocking TCP socket (see netutil.Listen).
	ListenFD int
	// Upstream, when set, makes the server a proxy: each client gets its own connection to this host:port
	// (an echo server), and bytes are forwarded both ways. Empty: the server echoes.
	Upstream string
	// MaxConns bounds client connections; connections beyond it are accepted and closed at once. It must be
	// at least 1.
	MaxConns int
	// Mode is how connections are registered (see the package doc). The listening socket and the wake
	// eventfd are level-triggered in every mode: only this thread ever waits.
	Mode Mode
}

// Mode is how the server registers its connections with epoll.
type Mode int

// The modes; see the package doc.
const (
	Level Mode = iota
	Edge
	Oneshot
)

func (m Mode) String() string {
	switch m {
	case Level:
		return "level"
	case Edge:
		return "edge"
	case Oneshot:
		return "oneshot"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// New starts a server's thread on cfg.ListenFD; Serve runs it. The server owns ListenFD from then on
// (Close closes it, also when New fails). ThreadID is valid on return.
//
// Every server bounds what it holds per connection: when the echo (or the forward to the other side)
// cannot be written, it stops reading from that connection until the backlog drains, so a client that
// stops reading cannot make it grow without bound, and it never blocks on one connection.
func New(cfg Config) (*Server, error) {
	if cfg.ListenFD <= 0 {
		return nil, errors.New("epoll server: no listening socket")
	}
	if cfg.MaxConns < 1 {
		unix.Close(cfg.ListenFD)
		return nil, fmt.Errorf("epoll server: MaxConns %d: must be at least 1", cfg.MaxConns)
	}
	if cfg.Mode < Level || cfg.Mode > Oneshot {
		unix.Close(cfg.ListenFD)
		return nil, fmt.Errorf("epoll server: unknown %v", cfg.Mode)
	}
	s := &Server{
		maxConns: int64(cfg.MaxConns),
		mode:     cfg.Mode,
		lfd:      cfg.ListenFD,
		epfd:     -1,
		evfd:     -1,
	}
	if cfg.Upstream != "" {
		sa, family, err := netutil.ResolveSockaddr(cfg.Upstream, false)
		if err != nil {
			unix.Close(cfg.ListenFD)
			return nil, fmt.Errorf("epoll server: upstream: %w", err)
		}
		s.upstream, s.upFamily = sa, family
	}
	if err := s.th.Start("epoll", s.setup, s.loop, s.cleanup); err != nil {
		return nil, err
	}
	return s, nil
}

// readSize is the most the server reads at once into its one shared buffer; a write backlog never holds
// more than this per connection.
const readSize = 64 << 10

// maxEvents is the epoll_wait batch.
const maxEvents = 256

// Server is one running epoll server.
type Server struct {
	maxConns int64
	mode     Mode
	lfd      int
	epfd     int
	evfd     int
	upstream unix.Sockaddr
	upFamily int

	conns  []*conn // by fd
	gen    uint32
	buf    []byte
	spares [][]byte // drained backlog buffers, reused
	events []unix.EpollEvent

	th  serverthread.Thread
	ctr serverthread.Counters
}

// conn is one socket: a client, or (proxy) its upstream connection. Bytes read from a conn are written to
// its peer (itself when echoing); what the peer cannot take yet waits in the peer's out backlog, and the
// conn stops reading until the backlog has drained.
type conn struct {
	fd         int
	gen        uint32
	peer       *conn
	out        []byte // backlog to write to fd
	outOff     int
	events     uint32 // interest registered with epoll
	paused     bool   // not reading: the peer's backlog is full
	connecting bool   // upstream connect in progress
	client     bool
	registered bool // added to the epoll set (in Edge mode, registered for good)
	// armed (Oneshot only): the registration can still report an event. An event disarms it until the
	// next epoll_ctl(EPOLL_CTL_MOD).
	armed bool
}

func (s *Server) setup() error {
	var err error
	if s.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("epoll server: epoll_create1: %w", err)
	}
	if s.evfd, err = s.th.OpenWake(unix.EFD_NONBLOCK | unix.EFD_CLOEXEC); err != nil {
		return fmt.Errorf("epoll server: eventfd: %w", err)
	}
	if err := unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, s.lfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(s.lfd)}); err != nil {
		return fmt.Errorf("epoll server: watch listener: %w", err)
	}
	if err := unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, s.evfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(s.evfd)}); err != nil {
		return fmt.Errorf("epoll server: watch eventfd: %w", err)
	}
	s.buf = make([]byte, readSize)
	s.events = make([]unix.EpollEvent, maxEvents)
	return nil
}

// Serve runs the server on its locked OS thread until Close, and returns nil after Close, or the error
// that stopped it. It may be called once.
func (s *Server) Serve() error { return s.th.Serve() }

// Close stops the server and releases every connection, the listening socket and the epoll set. It waits
// until that is done; it may be called more than once, and before Serve.
func (s *Server) Close() error { return s.th.Close() }

// ThreadID is the OS thread that does the server's I/O.
func (s *Server) ThreadID() int { return s.th.ThreadID() }

// Stats reports connection and byte counts; safe to call from any goroutine while serving.
func (s *Server) Stats() serverthread.Stats { return s.ctr.Stats() }

func (s *Server) cleanup() {
	for fd, c := range s.conns {
		if c != nil {
			unix.Close(fd)
			s.conns[fd] = nil
		}
	}
	s.ctr.Open.Store(0)
	for _, fd := range []*int{&s.lfd, &s.epfd} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
	s.evfd = -1 // closed by s.th after cleanup
	s.conns, s.spares, s.buf = nil, nil, nil
}

// yieldEvery is how often the loop yields to the Go scheduler: a locked goroutine that only ever makes
// syscalls is never rescheduled, and after 10 ms of that the runtime's sysmon starts taking its P away
// mid-syscall and polling every 20 us, which cost 12% of a core on a 2-vCPU VM (Go 1.26). A yield every
// few milliseconds costs one handoff instead.
const yieldEvery = int64(4 * time.Millisecond)

func (s *Server) loop() error {
	lastYield := clock.Now()
	for iter := 0; !s.th.Closing.Load(); iter++ {
		if iter&63 == 63 {
			if now := clock.Now(); now-lastYield > yieldEvery {
				runtime.Gosched()
				lastYield = now
			}
		}
		n, err := unix.EpollWait(s.epfd, s.events, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return fmt.Errorf("epoll server: epoll_wait: %w", err)
		}
		for i := 0; i < n; i++ {
			ev := &s.events[i]
			fd := int(ev.Fd)
			switch fd {
			case s.lfd:
				if err := s.accept(); err != nil {
					return err
				}
				continue
			case s.evfd:
				return nil
			}
			if fd >= len(s.conns) {
				continue
			}
			c := s.conns[fd]
			// Pad carries the connection's generation: an event for a descriptor closed earlier in this
			// batch, whose number a new connection already reuses, is dropped.
			if c == nil || c.gen != uint32(ev.Pad) {
				continue
			}
			if s.mode != Oneshot {
				s.handle(c, ev.Events)
				continue
			}
			c.armed = false
			s.handle(c, ev.Events)
			if s.conns[fd] == c { // still open: re-arm, unless handling it already has
				s.setInterest(c, s.interest(c))
			}
		}
	}
	return nil
}

// accept takes every pending connection (at most a batch, to stay fair to established ones).
func (s *Server) accept() error {
	for i := 0; i < 64; i++ {
		nfd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(s.lfd), 0, 0, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		if errno != 0 {
			switch errno {
			case unix.EAGAIN, unix.EINTR, unix.ECONNABORTED:
				return nil
			case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
				// Out of descriptors: leave the connection in the backlog rather than spin; it is retried on
				// the next readiness event.
				s.ctr.Errors.Add(1)
				return nil
			}
			return fmt.Errorf("epoll server: accept4: %w", errno)
		}
		fd := int(nfd)
		s.ctr.Accepted.Add(1)
		if s.ctr.Open.Load() >= s.maxConns {
			s.ctr.Rejected.Add(1)
			unix.Close(fd)
			continue
		}
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		c := s.newConn(fd, true)
		s.ctr.Open.Add(1)
		if s.upstream == nil {
			c.peer = c
			s.setInterest(c, unix.EPOLLIN)
			continue
		}
		if !s.dialUpstream(c) {
			s.closeConn(c)
		}
	}
	return nil
}

func (s *Server) newConn(fd int, client bool) *conn {
	for fd >= len(s.conns) {
		s.conns = append(s.conns, make([]*conn, len(s.conns)+64)...)
	}
	s.gen++
	c := &conn{fd: fd, gen: s.gen, client: client}
	s.conns[fd] = c
	return c
}

// dialUpstream opens the upstream connection of client c; c reads nothing until it is connected.
func (s *Server) dialUpstream(c *conn) bool {
	ufd, err := unix.Socket(s.upFamily, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		s.ctr.Errors.Add(1)
		return false
	}
	_ = unix.SetsockoptInt(ufd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	u := s.newConn(ufd, false)
	u.peer, c.peer = c, u
	err = unix.Connect(ufd, s.upstream)
	switch err {
	case nil:
		s.setInterest(u, unix.EPOLLIN)
		s.setInterest(c, unix.EPOLLIN)
	case unix.EINPROGRESS:
		u.connecting = true
		c.connecting = true
		s.setInterest(u, unix.EPOLLOUT)
		s.setInterest(c, 0) // still told of hang-ups
	default:
		s.ctr.Errors.Add(1)
		return false
	}
	return true
}

// setInterest registers want for c, calling epoll_ctl only when it changes or (Oneshot) when c's
// registration has been disarmed by an event. In Edge mode c is registered once for both directions,
// whatever want is: what c waits for is then told by its state (paused, connecting, out).
func (s *Server) setInterest(c *conn, want uint32) {
	if s.mode == Edge {
		if c.registered {
			return
		}
		want = unix.EPOLLIN | unix.EPOLLOUT
	}
	if c.registered && c.events == want && (s.mode != Oneshot || c.armed) {
		return
	}
	flags := want
	switch s.mode {
	case Oneshot:
		flags |= unix.EPOLLONESHOT
		c.armed = true
	case Edge:
		flags |= unix.EPOLLET
	}
	ev := unix.EpollEvent{Events: flags, Fd: int32(c.fd), Pad: int32(c.gen)}
	op := unix.EPOLL_CTL_MOD
	if !c.registered {
		op = unix.EPOLL_CTL_ADD
	}
	if err := unix.EpollCtl(s.epfd, op, c.fd, &ev); err != nil {
		s.ctr.Errors.Add(1)
	}
	c.events, c.registered = want, true
}

// interest computes what c should be watched for.
func (s *Server) interest(c *conn) uint32 {
	var ev uint32
	if c.connecting {
		return unix.EPOLLOUT
	}
	if !c.paused {
		ev |= unix.EPOLLIN
	}
	if len(c.out) > 0 {
		ev |= unix.EPOLLOUT
	}
	return ev
}

func (s *Server) spare() []byte {
	if n := len(s.spares); n > 0 {
		b := s.spares[n-1]
		s.spares = s.spares[:n-1]
		return b
	}
	return make([]byte, 0, readSize)
}

// closeConn closes c and its peer (the two halves of one proxied connection).
func (s *Server) closeConn(c *conn) {
	for _, x := range []*conn{c, c.peer} {
		if x == nil || s.conns[x.fd] != x {
			continue
		}
		s.conns[x.fd] = nil
		unix.Close(x.fd) // also drops it from the epoll set
		if x.out != nil {
			s.spares = append(s.spares, x.out)
			x.out = nil
		}
		if x.client {
			s.ctr.Open.Add(-1)
		}
	}
	// Bound the cache of backlog buffers.
	if len(s.spares) > 64 {
		clear(s.spares[64:])
		s.spares = s.spares[:64]
	}
}
