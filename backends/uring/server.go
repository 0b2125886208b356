package uring

// The io_uring server: accept, recv and send as io_uring requests on one ring, owned by one locked OS
// thread that makes one io_uring_enter per loop turn (submit everything queued, wait for at least one
// completion, reap every completion ready).
//
// Two receive modes:
//   - plain: one recv at a time per connection into that connection's own buffer (BufSize bytes, off the
//     Go heap); the echo is sent from the same buffer, and the next recv is queued once it has all gone.
//     That is also its backpressure: nothing more is read from a connection whose echo is not written.
//   - multishot (--multishot): multishot accept, and one multishot recv per connection that picks buffers
//     from a shared provided-buffer ring, so an idle connection holds no buffer. Chunks queue per
//     connection and are sent one at a time (sends on a socket are serialised); a buffer goes back to the
//     ring only when the send that used it has completed. A connection with more than pauseAt chunks
//     queued has its recv cancelled until its queue drains (backpressure); one whose recv ran out of
//     buffers (-ENOBUFS) is re-armed when buffers come back.
//
// --threads N runs N such servers, each a ring on its own thread with its own listening socket (SO_REUSEPORT),
// buffer ring and registered-file table: see backend.NewThreaded.
//
// Sockets live in a sparse registered-file table where the kernel has one (accept straight into it,
// upstream sockets installed with FILES_UPDATE), so no request takes a file reference of its own.

import (
	"fmt"
	"sync/atomic"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/netutil"
	"github.com/ringbench/ringbench/internal/ring"
	"github.com/ringbench/ringbench/internal/serverthread"
	"golang.org/x/sys/unix"
)

// NewServer implements backend.Builder: SINGLE_ISSUER|DEFER_TASKRUN, stepping down where the kernel
// lacks them.
// With cfg.Threads > 1 it is that many servers, each with its own ring (see backend.NewThreaded).
func (Backend) NewServer(cfg backend.ServerConfig) (backend.Server, error) {
	return backend.NewThreaded(cfg, func(c backend.ServerConfig) (backend.Server, error) {
		return NewServer(c, ring.Params{SingleIssuer: true, DeferTaskrun: true, NoSQArray: true, RegisterRingFD: true}, "uring")
	})
}

// Request kinds, in the kind byte of user data (ring.PackUD); the id is the connection slot.
const (
	kAccept uint8 = iota + 1
	kRecv
	kSend
	kWake
	kIgnore // close, shutdown, cancel: nothing to do on completion
	kUpReg  // FILES_UPDATE installing an upstream socket
	kConnect
	kAcceptRetry // timeout before re-arming accept after running out of descriptors
)

func ud(kind uint8, slot int32) uint64 { return ring.PackUD(kind, 0, uint32(slot)) }

// smallSend is the largest send counted on to complete inline (see expectBig).
const smallSend = 16 << 10

// Server is the io_uring (and, with SQPOLL, sqpoll) server.
type Server struct {
	name     string
	cfg      backend.ServerConfig
	params   ring.Params
	knobs    knobs
	lfd      int
	evfd     int
	upstream []byte // raw sockaddr of the upstream (proxy), copied off-heap at setup
	upFamily int
	warns    []backend.Warning

	r        *ring.Ring
	br       *ring.BufRing
	fixed    bool
	sqpoll   bool
	cqSpin   int64
	pollTID  int
	scratch  []byte // off-heap: eventfd read buffer, upstream sockaddr
	fdArr    []byte // off-heap: one int32 per slot, for FILES_UPDATE
	chunks   [][]byte
	cqes     []ring.CQE
	aux      []ring.CQE // for reaping while handling (a full SQ), handled after the current batch
	deferred []ring.CQE
	fatal    error
	conns    []conn
	free     []int32
	starved  []int32 // multishot connections whose recv ended with ENOBUFS
	recycled int     // buffers given back since the last Advance
	inflight int     // requests whose last CQE has not been reaped
	expect   int     // sends queued this turn: their completions come during the submitting enter
	// expectBig: a send this turn may well not complete at once (large, part of a bulk transfer, or
	// queued behind others). With DEFER_TASKRUN a waiter is not even woken to run completion work until
	// enough of it is queued, so waiting for a blocked send would also hold back the receives that could
	// unblock its peer: measured, 1 MiB echoes crawled at one turn per waitTimeout.
	expectBig bool
	// timedWait: the kernel takes a timeout with a wait (IORING_ENTER_EXT_ARG, 5.11+)
	timedWait bool
	accepts   bool // an accept (or its retry timer) is armed
	tableCap  int

	th  serverthread.Thread
	ctr serverthread.Counters
	// Names for parts of th and ctr, as the loop files (server_{loop,plain,multishot,conn}.go) use them.
	closing                     *atomic.Bool
	open, bytesIn, paused, errs *atomic.Int64

	enters, submitEnters, waitEnters atomic.Int64
}

type conn struct {
	inUse   bool
	client  bool
	closing bool
	ready   bool // proxy: the upstream side is connected, both sides may receive
	fd      int32
	rawFD   int32 // an upstream socket's fd while FILES_UPDATE installs it (-1 otherwise)
	peer    int32
	pending int32 // this side's requests in flight (recv, send, connect, install)
	// plain mode: the chunk being sent from this connection's buffer to the peer
	sendOff, sendLen int32
	// multishot mode
	recvArmed bool
	paused    bool
	starved   bool
	sending   bool
	q         []qitem
}

type qitem struct {
	bid      uint16
	off, len int32
}

// NewServer starts a server thread with ring parameters p; name labels errors ("uring", "sqpoll").
func NewServer(cfg backend.ServerConfig, p ring.Params, name string) (*Server, error) {
	return newServer(cfg, p, name, knobs{})
}

// knobs are test-only sizes (0: the defaults): a tiny SQ and reap batch make a full SQ, and reaping
// while one is handled, common.
type knobs struct {
	sqEntries, cqEntries uint32
	reapBatch            int
	bufRingEntries       uint32
}

func newServer(cfg backend.ServerConfig, p ring.Params, name string, k knobs) (*Server, error) {
	if err := cfg.Prepare(name); err != nil {
		return nil, err
	}
	s := &Server{name: name, cfg: cfg, params: p, knobs: k, lfd: cfg.ListenFD, evfd: -1, sqpoll: p.SQPoll, cqSpin: int64(cfg.CQSpin)}
	s.closing = &s.th.Closing
	s.open, s.bytesIn, s.paused, s.errs = &s.ctr.Open, &s.ctr.BytesIn, &s.ctr.Paused, &s.ctr.Errors
	if cfg.Topology == backend.TopologyProxy {
		sa, family, err := netutil.ResolveSockaddr(cfg.Upstream, false)
		if err != nil {
			unix.Close(cfg.ListenFD)
			return nil, fmt.Errorf("%s server: upstream: %w", name, err)
		}
		s.upstream, s.upFamily = rawSockaddr(sa), family
	}
	if err := s.th.Start(name, s.setup, s.loop, s.cleanup); err != nil {
		return nil, err
	}
	return s, nil
}

// AddWarning records a condition that makes this server's figures suspect.
func (s *Server) AddWarning(w backend.Warning) {
	if w.Text != "" {
		s.warns = append(s.warns, w)
	}
}

// Warnings implements backend.Warner.
func (s *Server) Warnings() []backend.Warning { return s.warns }

// Serve implements backend.Server.
func (s *Server) Serve() error { return s.th.Serve() }

// Close implements backend.Server.
func (s *Server) Close() error { return s.th.Close() }

// Counters implements backend.Server.
func (s *Server) Counters() backend.EngineCounters {
	return backend.EngineCounters{Enters: s.enters.Load(), SubmitEnters: s.submitEnters.Load(),
		WaitEnters: s.waitEnters.Load(), PollThreadTID: s.pollTID}
}

// ThreadID implements backend.Server.
func (s *Server) ThreadID() int { return s.th.ThreadID() }

// Stats implements backend.Server.
func (s *Server) Stats() backend.ServerStats { return s.ctr.Stats() }
