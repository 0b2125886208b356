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
// Sockets live in a sparse registered-file table where the kernel has one (accept straight into it,
// upstream sockets installed with FILES_UPDATE), so no request takes a file reference of its own.

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/clock"
	"github.com/ringbench/ringbench/internal/ring"
	"golang.org/x/sys/unix"
)

// NewServer implements backend.ServerBackend: SINGLE_ISSUER|DEFER_TASKRUN, stepping down where the kernel
// lacks them.
func (Backend) NewServer(cfg backend.ServerConfig) (backend.Server, error) {
	return NewServer(cfg, ring.Params{SingleIssuer: true, DeferTaskrun: true}, "uring")
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

// waitTimeout bounds a wait for this turn's sends plus one completion (see loop).
const waitTimeout = 100 * time.Millisecond

// smallSend is the largest send counted on to complete inline (see expectBig).
const smallSend = 16 << 10

// pauseAt is how many received chunks a multishot connection may have queued for sending before its
// recv is cancelled (backpressure); it is re-armed once the queue is empty.
const pauseAt = 16

// bufRingEntries is the size of the shared provided-buffer ring (multishot).
const bufRingEntries = 1024

// chunkSlots is how many per-connection buffers (plain mode) one mapping holds; mappings are made as
// connection slots are first used, and their pages are touched only by data.
const chunkSlots = 64

// The registered-file table: at most maxFixedFiles slots, fixedTableSlack more than two per connection.
const (
	maxFixedFiles   = 1 << 20
	fixedTableSlack = 64
)

// drainTimeout bounds how long cleanup waits for cancelled requests to complete.
const drainTimeout = 2 * time.Second

// Server is the io_uring (and, with SQPOLL, sqpoll) server.
type Server struct {
	name     string
	cfg      backend.ServerConfig
	params   ring.Params
	lfd      int
	evfd     int
	upstream []byte // raw sockaddr of the upstream (proxy), copied off-heap at setup
	upFamily int
	tid      int
	warns    []string

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

	start, quit, done chan struct{}
	started           atomic.Bool
	closing           atomic.Bool
	closeOnce         sync.Once
	evMu              sync.Mutex // guards evfd between Close (which writes to it) and cleanup (which closes it)
	err               error

	accepted, rejected, open, bytesIn, paused, errs atomic.Int64
	enters, submitEnters, waitEnters                atomic.Int64
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
	if err := cfg.Normalize(); err != nil {
		if cfg.ListenFD > 0 {
			unix.Close(cfg.ListenFD)
		}
		return nil, fmt.Errorf("%s server: %w", name, err)
	}
	s := &Server{name: name, cfg: cfg, params: p, lfd: cfg.ListenFD, evfd: -1, sqpoll: p.SQPoll, cqSpin: int64(cfg.CQSpin),
		start: make(chan struct{}), quit: make(chan struct{}), done: make(chan struct{})}
	if cfg.Topology == backend.TopologyProxy {
		sa, family, err := backend.ResolveSockaddr(cfg.Upstream, false)
		if err != nil {
			unix.Close(cfg.ListenFD)
			return nil, fmt.Errorf("%s server: upstream: %w", name, err)
		}
		s.upstream, s.upFamily = rawSockaddr(sa), family
	}
	ready := make(chan error, 1)
	go s.thread(ready)
	if err := <-ready; err != nil {
		<-s.done
		return nil, err
	}
	return s, nil
}

// AddWarning records a condition that makes this server's figures suspect.
func (s *Server) AddWarning(w string) {
	if w != "" {
		s.warns = append(s.warns, w)
	}
}

// Warnings implements backend.Warner.
func (s *Server) Warnings() []string { return s.warns }

func (s *Server) thread(ready chan<- error) {
	runtime.LockOSThread() // never unlocked: the ring is bound to this thread, which dies with the goroutine
	defer close(s.done)
	s.tid = unix.Gettid()
	if err := s.setup(); err != nil {
		s.cleanup()
		ready <- err
		return
	}
	ready <- nil
	select {
	case <-s.start:
		s.err = s.loop()
	case <-s.quit:
	}
	s.cleanup()
}

func (s *Server) setup() error {
	var err error
	before := sqpollThreads()
	p := s.params
	p.Entries = 1024
	p.CQEntries = 8192
	if s.r, err = ring.New(p); err != nil {
		return fmt.Errorf("%s server: %w", s.name, Explain(err))
	}
	if s.sqpoll {
		for tid := range sqpollThreads() {
			if !before[tid] {
				s.pollTID = tid
			}
		}
	}
	want := p.SingleIssuer || p.DeferTaskrun
	got := s.r.SetupFlags()
	if p.DeferTaskrun && got&ring.SetupDeferTaskrun == 0 {
		s.AddWarning(fmt.Sprintf("%s: DEFER_TASKRUN not available here; ring set up with %s", s.name, strings.Join(ring.SetupFlagNames(got), "|")))
	} else if want && got&ring.SetupSingleIssuer == 0 {
		s.AddWarning(fmt.Sprintf("%s: SINGLE_ISSUER not available here; ring set up with %s", s.name, strings.Join(ring.SetupFlagNames(got), "|")))
	}
	if s.evfd, err = unix.Eventfd(0, unix.EFD_CLOEXEC); err != nil {
		return fmt.Errorf("%s server: eventfd: %w", s.name, err)
	}
	if s.scratch, err = unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS); err != nil {
		return fmt.Errorf("%s server: mmap: %w", s.name, err)
	}
	copy(s.scratch[64:], s.upstream)
	maxSlots := 2*s.cfg.MaxConns + fixedTableSlack
	if s.fdArr, err = unix.Mmap(-1, 0, pageRound(4*maxSlots), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS); err != nil {
		return fmt.Errorf("%s server: mmap: %w", s.name, err)
	}
	// Registered files: a sparse table, as large as the descriptor limit allows.
	var lim unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
	n := uint64(maxSlots)
	n = min(n, lim.Cur, maxFixedFiles)
	if n >= 16 && s.r.RegisterFilesSparse(uint32(n)) == nil {
		s.fixed = true
		s.tableCap = int(n)
	} else {
		s.AddWarning(fmt.Sprintf("%s: no sparse registered-file table here (5.19+); sockets used as plain descriptors", s.name))
	}
	if s.cfg.Multishot {
		if s.br, err = s.r.NewBufRing(0, bufRingEntries, s.cfg.BufSize); err != nil {
			return fmt.Errorf("%s server: --multishot: provided-buffer ring (5.19+): %w", s.name, errors.Join(backend.ErrNotSupported, err))
		}
	}
	s.timedWait = s.r.Features()&ring.FeatExtArg != 0
	s.cqes = make([]ring.CQE, 1024)
	s.aux = make([]ring.CQE, 256)
	s.conns = make([]conn, 0, 64)
	return nil
}

func pageRound(n int) int {
	ps := unix.Getpagesize()
	return (n + ps - 1) &^ (ps - 1)
}

// sqpollThreads lists this process's SQPOLL kernel threads (iou-sqp-PID).
func sqpollThreads() map[int]bool {
	out := map[int]bool{}
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return out
	}
	for _, e := range ents {
		comm, err := os.ReadFile("/proc/self/task/" + e.Name() + "/comm")
		if err == nil && strings.HasPrefix(string(comm), "iou-sqp-") {
			if tid, err := strconv.Atoi(e.Name()); err == nil {
				out[tid] = true
			}
		}
	}
	return out
}

// Serve implements backend.Server.
func (s *Server) Serve() error {
	if !s.started.CompareAndSwap(false, true) {
		return fmt.Errorf("%s server: Serve called twice", s.name)
	}
	close(s.start)
	<-s.done
	return s.err
}

// Close implements backend.Server.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		close(s.quit)
		one := [8]byte{1}
		s.evMu.Lock()
		if s.evfd >= 0 {
			_, _ = unix.Write(s.evfd, one[:])
		}
		s.evMu.Unlock()
	})
	<-s.done
	return nil
}

// Counters implements backend.Server.
func (s *Server) Counters() backend.EngineCounters {
	return backend.EngineCounters{Enters: s.enters.Load(), SubmitEnters: s.submitEnters.Load(),
		WaitEnters: s.waitEnters.Load(), PollThreadTID: s.pollTID}
}

// ThreadID implements backend.Server.
func (s *Server) ThreadID() int { return s.tid }

// Stats implements backend.Server.
func (s *Server) Stats() backend.ServerStats {
	return backend.ServerStats{Accepted: s.accepted.Load(), Rejected: s.rejected.Load(), Open: s.open.Load(),
		BytesIn: s.bytesIn.Load(), Paused: s.paused.Load(), Errors: s.errs.Load()}
}

// sqe returns a free SQE, submitting what is queued when the SQ is full.
func (s *Server) sqe() *ring.SQE {
	s.reserve(1)
	s.inflight++
	return s.r.GetSQE()
}

// reserve makes room for n SQEs (a linked pair must go to the kernel in one submission).
func (s *Server) reserve(n int) {
	for i := 0; ; i++ {
		if s.r.SQSpace() >= n {
			return
		}
		if _, err := s.r.Submit(); err != nil && i > 1000 {
			panic(fmt.Sprintf("%s server: submission queue stuck: %v", s.name, err))
		}
		if i > 0 {
			// The kernel may want room in the CQ first: reap aside, handle after the current batch.
			k := s.r.Reap(s.aux)
			for _, c := range s.aux[:k] {
				if c.Flags&ring.CQEFMore == 0 {
					s.inflight--
				}
			}
			s.deferred = append(s.deferred, s.aux[:k]...)
		}
	}
}

func (s *Server) loop() error {
	if err := s.armWake(); err != nil {
		return err
	}
	s.armAccept()
	lastYield := clock.Now()
	for iter := 0; ; iter++ {
		if s.closing.Load() {
			return nil
		}
		if iter&63 == 63 {
			// A locked goroutine that only makes syscalls is never rescheduled; after 10 ms the runtime's
			// sysmon takes its P mid-syscall and polls every 20 us (12% of a core on a 2-vCPU VM, Go
			// 1.26). A yield every few milliseconds costs one handoff instead.
			if now := clock.Now(); now-lastYield > int64(4*time.Millisecond) {
				runtime.Gosched()
				lastYield = now
			}
		}
		if s.sqpoll && s.cqSpin > 0 && s.r.CQReady() == 0 {
			if _, err := s.r.Submit(); err != nil && !retryable(err) {
				return fmt.Errorf("%s server: io_uring_enter: %w", s.name, err)
			}
			s.spin()
		}
		// Sends to loopback sockets complete inline, during the enter that submits them. Waiting for
		// them and one completion more lets a single enter both submit this turn's sends and wait for the
		// next request: one enter per turn instead of two. The timeout only matters when a send does not
		// complete at once (its socket is full) and nothing else happens: the loop then still wakes within
		// waitTimeout. It is long on purpose: a 1 ms timer, which is re-armed on every enter, cost 25% more
		// CPU per request at one connection on this VM (timer reprogramming), a 100 ms one nothing measurable.
		var err error
		if expect := s.expect; expect > 0 && s.timedWait && !s.expectBig {
			_, err = s.r.SubmitAndWaitTimeout(uint32(expect)+1, waitTimeout)
			if err == unix.ETIME {
				err = nil
			}
		} else {
			_, err = s.r.SubmitAndWait(1)
		}
		s.expect, s.expectBig = 0, false
		if err != nil && !retryable(err) && err != unix.EINTR {
			return fmt.Errorf("%s server: io_uring_enter: %w", s.name, err)
		}
		if stop := s.reapAll(); stop {
			return nil
		}
		if s.fatal != nil {
			return s.fatal
		}
		st := s.r.Stats()
		s.enters.Store(int64(st.Enters))
		s.submitEnters.Store(int64(st.SubmitEnters))
		s.waitEnters.Store(int64(st.WaitEnters))
	}
}

func (s *Server) spin() {
	deadline := clock.Now() + s.cqSpin
	for i := 0; s.r.CQReady() == 0; i++ {
		if i&15 == 15 && clock.Now() >= deadline {
			return
		}
	}
}

// reapAll handles every ready completion; true when the wake-up (Close) arrived.
func (s *Server) reapAll() bool {
	stop := false
	for {
		n := s.r.Reap(s.cqes)
		if n == 0 {
			break
		}
		for i := 0; i < n; i++ {
			c := s.cqes[i]
			if c.Flags&ring.CQEFMore == 0 {
				s.inflight--
			}
			if s.handle(c) {
				stop = true
			}
		}
		if n < len(s.cqes) {
			break
		}
	}
	for k := 0; k < len(s.deferred); k++ {
		if s.handle(s.deferred[k]) {
			stop = true
		}
	}
	s.deferred = s.deferred[:0]
	if s.br != nil && s.recycled > 0 {
		s.br.Advance()
		s.rearmStarved()
		s.recycled = 0
	}
	return stop
}

func (s *Server) handle(c ring.CQE) bool {
	kind, _, id := ring.UnpackUD(c.UserData)
	slot := int32(id)
	switch kind {
	case kWake:
		return true
	case kIgnore:
	case kAccept:
		s.onAccept(c)
	case kAcceptRetry:
		s.accepts = false
		s.armAccept()
	case kRecv:
		if s.br != nil {
			s.onRecvMultishot(slot, c)
		} else {
			s.onRecv(slot, c.Res)
		}
	case kSend:
		if s.br != nil {
			s.onSendMultishot(slot, c.Res)
		} else {
			s.onSend(slot, c.Res)
		}
	case kUpReg:
		s.onUpReg(slot, c.Res)
	case kConnect:
		s.onConnect(slot, c.Res)
	}
	return false
}

func (s *Server) armWake() error {
	q := s.sqe()
	ring.Read{FD: int32(s.evfd), Buf: unsafe.Pointer(&s.scratch[0]), Len: 8, Offset: ^uint64(0)}.Prep(q)
	q.SetUserData(ud(kWake, 0))
	return nil
}

func (s *Server) armAccept() {
	if s.accepts {
		return
	}
	s.accepts = true
	q := s.sqe()
	a := ring.Accept{FD: int32(s.lfd), Flags: unix.SOCK_CLOEXEC, Multishot: s.cfg.Multishot}
	if s.fixed {
		a.FileIndex = ring.FileIndexAlloc
		a.Flags = 0 // SOCK_CLOEXEC is EINVAL for a registered-file slot (and meaningless)
	}
	a.Prep(q)
	q.SetUserData(ud(kAccept, 0))
}

func (s *Server) onAccept(c ring.CQE) {
	if !c.More() {
		s.accepts = false
	}
	if c.Res < 0 {
		switch unix.Errno(-c.Res) {
		case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
			// Out of descriptors or table slots: try again in 10 ms rather than spin.
			s.errs.Add(1)
			if !s.accepts {
				s.accepts = true
				q := s.sqe()
				ts := (*unix.Timespec)(unsafe.Pointer(&s.scratch[32]))
				*ts = unix.NsecToTimespec(10e6)
				ring.Timeout{TS: ts}.Prep(q)
				q.SetUserData(ud(kAcceptRetry, 0))
			}
			return
		case unix.ECANCELED, unix.EBADF:
			if s.closing.Load() {
				return
			}
		case unix.EINVAL, unix.EOPNOTSUPP:
			s.fatal = fmt.Errorf("%s server: accept: %w (multishot accept needs 5.19+, accepting into registered files 5.15+)",
				s.name, unix.Errno(-c.Res))
			return
		}
		s.armAccept()
		return
	}
	s.armAccept()
	fd := c.Res
	s.accepted.Add(1)
	if s.open.Load() >= int64(s.cfg.MaxConns) {
		s.rejected.Add(1)
		s.closeFD(fd)
		return
	}
	if !s.fixed {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	// (Registered sockets cannot be setsockopt'ed; they inherit TCP_NODELAY from the listener, see Listen.)
	i := s.newConn(fd, true)
	s.open.Add(1)
	if s.upstream == nil {
		cn := &s.conns[i]
		cn.peer, cn.ready = i, true
		s.startRecv(i)
		return
	}
	s.dialUpstream(i)
}

func (s *Server) newConn(fd int32, client bool) int32 {
	var i int32
	if n := len(s.free); n > 0 {
		i = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		s.conns = append(s.conns, conn{})
		i = int32(len(s.conns) - 1)
	}
	q := s.conns[i].q[:0]
	s.conns[i] = conn{inUse: true, client: client, fd: fd, rawFD: -1, peer: -1, q: q}
	return i
}

// closeFD closes a socket that has no requests in flight.
func (s *Server) closeFD(fd int32) {
	if !s.fixed {
		unix.Close(int(fd))
		return
	}
	q := s.sqe()
	ring.Close{FileIndex: uint32(fd) + 1}.Prep(q)
	q.SetUserData(ud(kIgnore, 0))
}

// dialUpstream opens client i's upstream connection.
func (s *Server) dialUpstream(i int32) {
	fd, err := unix.Socket(s.upFamily, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		s.errs.Add(1)
		s.closePair(i)
		return
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	u := s.newConn(int32(fd), false)
	s.conns[i].peer, s.conns[u].peer = u, i
	if !s.fixed {
		s.connect(u)
		return
	}
	// Install the socket in the registered table (the kernel picks the slot and writes it back), then
	// connect through the slot.
	s.conns[u].rawFD = int32(fd)
	*s.fdSlot(u) = int32(fd)
	q := s.sqe()
	ring.FilesUpdate{FDs: s.fdSlot(u), N: 1, Offset: ring.FileIndexAlloc}.Prep(q)
	q.SetUserData(ud(kUpReg, u))
	s.conns[u].pending++
}

func (s *Server) fdSlot(i int32) *int32 { return (*int32)(unsafe.Pointer(&s.fdArr[4*int(i)])) }

func (s *Server) onUpReg(u int32, res int32) {
	cn := &s.conns[u]
	cn.pending--
	unix.Close(int(cn.rawFD)) // the table holds its own reference now (or the install failed)
	cn.rawFD = -1
	if res < 1 {
		cn.fd = -1
		s.errs.Add(1)
		s.closePair(u)
		return
	}
	cn.fd = *s.fdSlot(u)
	if cn.closing {
		s.maybeRelease(u)
		return
	}
	s.connect(u)
}

func (s *Server) connect(u int32) {
	q := s.sqe()
	ring.Connect{FD: s.conns[u].fd, Addr: unsafe.Pointer(&s.scratch[64]), AddrLen: uint32(len(s.upstream)), Fixed: s.fixed}.Prep(q)
	q.SetUserData(ud(kConnect, u))
	s.conns[u].pending++
}

func (s *Server) onConnect(u int32, res int32) {
	cn := &s.conns[u]
	cn.pending--
	if cn.closing {
		s.maybeRelease(u)
		return
	}
	if res < 0 {
		s.errs.Add(1)
		s.closePair(u)
		return
	}
	c := cn.peer
	cn.ready, s.conns[c].ready = true, true
	s.startRecv(u)
	s.startRecv(c)
}

// buf returns the plain-mode buffer of slot i, mapping its chunk on first use.
func (s *Server) buf(i int32) unsafe.Pointer {
	ch := int(i) / chunkSlots
	for ch >= len(s.chunks) {
		m, err := unix.Mmap(-1, 0, chunkSlots*s.cfg.BufSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			panic(fmt.Sprintf("%s server: mmap receive buffers: %v", s.name, err))
		}
		s.chunks = append(s.chunks, m)
	}
	return unsafe.Pointer(&s.chunks[ch][(int(i)%chunkSlots)*s.cfg.BufSize])
}

func (s *Server) startRecv(i int32) {
	cn := &s.conns[i]
	if cn.closing {
		return
	}
	q := s.sqe()
	if s.br != nil {
		ring.Recv{FD: cn.fd, Multishot: true, BufferSelect: true, BufGroup: s.br.Group(), Fixed: s.fixed}.Prep(q)
		cn.recvArmed, cn.starved = true, false
	} else {
		ring.Recv{FD: cn.fd, Buf: s.buf(i), Len: uint32(s.cfg.BufSize), Fixed: s.fixed}.Prep(q)
	}
	q.SetUserData(ud(kRecv, i))
	cn.pending++
}

// Plain mode.

func (s *Server) onRecv(i int32, res int32) {
	cn := &s.conns[i]
	cn.pending--
	if cn.closing {
		s.maybeRelease(i)
		return
	}
	if res <= 0 {
		s.noteErr(res)
		s.closePair(i)
		return
	}
	if cn.client {
		s.bytesIn.Add(int64(res))
	}
	cn.sendOff, cn.sendLen = 0, res
	s.sendPlain(i)
}

// sendPlain sends what connection i received to its peer, linked to i's next recv into the same buffer:
// MSG_WAITALL makes the kernel finish a partial send itself, and the link starts the recv only once the
// whole echo is out (a failed send cancels it). One submission, no buffer reused early.
func (s *Server) sendPlain(i int32) {
	cn := &s.conns[i]
	s.reserve(2)
	q := s.sqe()
	ring.Send{FD: s.conns[cn.peer].fd, Buf: unsafe.Add(s.buf(i), cn.sendOff), Len: uint32(cn.sendLen - cn.sendOff),
		Flags: unix.MSG_NOSIGNAL | unix.MSG_WAITALL, Fixed: s.fixed}.Prep(q)
	q.SetFlags(ring.FlagIOLink)
	q.SetUserData(ud(kSend, i))
	r := s.sqe()
	ring.Recv{FD: cn.fd, Buf: s.buf(i), Len: uint32(s.cfg.BufSize), Fixed: s.fixed}.Prep(r)
	r.SetUserData(ud(kRecv, i))
	cn.pending += 2
	s.expect++
	// A full buffer means a bulk transfer (more data waiting): its sends are likely to block.
	s.expectBig = s.expectBig || cn.sendLen-cn.sendOff > smallSend || int(cn.sendLen) == s.cfg.BufSize
}

func (s *Server) onSend(i int32, res int32) {
	cn := &s.conns[i]
	cn.pending--
	if cn.closing {
		s.maybeRelease(i)
		return
	}
	if res != cn.sendLen-cn.sendOff {
		// An error, or (MSG_WAITALL) a send cut short by one: the linked recv is cancelled.
		s.noteErr(res)
		s.closePair(i)
	}
}

// Multishot mode.

func (s *Server) onRecvMultishot(i int32, c ring.CQE) {
	cn := &s.conns[i]
	if !c.More() {
		cn.pending--
		cn.recvArmed = false
	}
	if c.Res > 0 {
		bid, ok := c.BufferID()
		if !ok {
			s.errs.Add(1)
			s.closePair(i)
			return
		}
		if cn.closing {
			s.recycle(bid)
			s.maybeRelease(i)
			return
		}
		if cn.client {
			s.bytesIn.Add(int64(c.Res))
		}
		cn.q = append(cn.q, qitem{bid: bid, len: c.Res})
		if !cn.sending {
			s.sendNext(i)
		}
		cn = &s.conns[i]
		switch {
		case len(cn.q) >= pauseAt && cn.recvArmed && !cn.paused:
			cn.paused = true
			s.paused.Add(1)
			q := s.sqe()
			ring.Cancel{UserData: ud(kRecv, i)}.Prep(q)
			q.SetUserData(ud(kIgnore, i))
		case !cn.recvArmed && !cn.paused:
			s.startRecv(i) // the multishot recv ended without error: re-arm
		}
		return
	}
	if cn.closing {
		s.maybeRelease(i)
		return
	}
	switch {
	case c.Res == -int32(unix.ENOBUFS):
		// The buffer ring is empty: re-armed when buffers come back.
		if !cn.starved {
			cn.starved = true
			s.starved = append(s.starved, i)
		}
	case c.Res == -int32(unix.ECANCELED) && cn.paused:
		// Cancelled for backpressure: re-armed when the queue drains.
		if len(cn.q) == 0 && !cn.sending {
			cn.paused = false
			s.startRecv(i)
		}
	default:
		s.noteErr(c.Res)
		s.closePair(i)
	}
}

func (s *Server) sendNext(i int32) {
	cn := &s.conns[i]
	if len(cn.q) == 0 {
		cn.sending = false
		if cn.paused && !cn.recvArmed && !cn.closing {
			cn.paused = false
			s.startRecv(i)
		}
		return
	}
	it := cn.q[0]
	q := s.sqe()
	ring.Send{FD: s.conns[cn.peer].fd, Buf: unsafe.Pointer(&s.br.Buf(it.bid)[it.off]), Len: uint32(it.len - it.off),
		Flags: unix.MSG_NOSIGNAL, Fixed: s.fixed}.Prep(q)
	q.SetUserData(ud(kSend, i))
	cn.sending = true
	cn.pending++
	s.expect++
	// A full buffer or a queue means a bulk transfer or a slow reader: this send may well block.
	s.expectBig = s.expectBig || it.len-it.off > smallSend || int(it.len) == s.cfg.BufSize || len(cn.q) > 1
}

func (s *Server) onSendMultishot(i int32, res int32) {
	cn := &s.conns[i]
	cn.pending--
	cn.sending = false
	if cn.closing {
		s.maybeRelease(i)
		return
	}
	if res <= 0 {
		s.noteErr(res)
		s.closePair(i)
		return
	}
	it := &cn.q[0]
	it.off += res
	if it.off < it.len {
		s.paused.Add(1)
	} else {
		s.recycle(it.bid)
		copy(cn.q, cn.q[1:])
		cn.q = cn.q[:len(cn.q)-1]
	}
	s.sendNext(i)
}

func (s *Server) recycle(bid uint16) {
	s.br.Recycle(bid)
	s.recycled++
}

// rearmStarved re-arms recvs that ran out of buffers, as many as buffers came back.
func (s *Server) rearmStarved() {
	n := min(s.recycled, len(s.starved))
	for _, i := range s.starved[:n] {
		cn := &s.conns[i]
		if cn.inUse && cn.starved && !cn.closing && !cn.recvArmed {
			s.startRecv(i)
		}
		cn.starved = false
	}
	s.starved = append(s.starved[:0], s.starved[n:]...)
}

func (s *Server) noteErr(res int32) {
	switch {
	case res == 0, res == -int32(unix.ECONNRESET), res == -int32(unix.EPIPE), res == -int32(unix.ECANCELED):
	default:
		s.errs.Add(1)
	}
}

// closePair starts closing connection i and its peer: both sockets are shut down, which ends their
// requests in flight; each is closed and its slot freed once its last request has completed.
func (s *Server) closePair(i int32) {
	for _, j := range []int32{i, s.conns[i].peer} {
		if j < 0 {
			continue
		}
		cn := &s.conns[j]
		if !cn.inUse || cn.closing {
			continue
		}
		cn.closing = true
		if cn.client {
			s.open.Add(-1)
		}
		if cn.pending > 0 && cn.fd >= 0 && cn.rawFD < 0 {
			q := s.sqe()
			ring.Shutdown{FD: cn.fd, How: unix.SHUT_RDWR, Fixed: s.fixed}.Prep(q)
			q.SetUserData(ud(kIgnore, j))
			if cn.paused && !cn.recvArmed {
				cn.paused = false
			}
		}
		s.maybeRelease(j)
	}
}

// maybeRelease frees a closing connection whose requests have all completed.
func (s *Server) maybeRelease(i int32) {
	cn := &s.conns[i]
	if !cn.closing || cn.pending > 0 || !cn.inUse {
		return
	}
	if s.br != nil {
		for _, it := range cn.q {
			s.recycle(it.bid)
		}
		cn.q = cn.q[:0]
	}
	if cn.rawFD >= 0 {
		unix.Close(int(cn.rawFD))
		cn.rawFD = -1
	}
	if cn.fd >= 0 {
		s.closeFD(cn.fd)
	}
	cn.inUse = false
	cn.fd = -1
	s.free = append(s.free, i)
}

// cleanup cancels every request, waits (boundedly) for their completions, and releases the ring, the
// sockets, the buffers and the listener.
func (s *Server) cleanup() {
	drained := true
	if s.r != nil {
		drained = s.r.CancelAndDrain(ud(kIgnore, 0), &s.inflight, s.cqes, drainTimeout) == nil
	}
	for i := range s.conns {
		cn := &s.conns[i]
		if cn.rawFD >= 0 {
			unix.Close(int(cn.rawFD))
		}
		if cn.inUse && !s.fixed && cn.fd >= 0 {
			unix.Close(int(cn.fd))
		}
		cn.inUse = false
	}
	s.open.Store(0)
	if s.r != nil {
		_ = s.r.Close() // the registered table (and the sockets in it) and the buffer ring go with it
		s.r = nil
	}
	if drained {
		// Only memory no request can still write to is unmapped.
		for _, m := range s.chunks {
			_ = unix.Munmap(m)
		}
		if s.scratch != nil {
			_ = unix.Munmap(s.scratch)
		}
		if s.fdArr != nil {
			_ = unix.Munmap(s.fdArr)
		}
	}
	s.chunks, s.scratch, s.fdArr, s.conns = nil, nil, nil, nil
	if s.lfd >= 0 {
		unix.Close(s.lfd)
		s.lfd = -1
	}
	s.evMu.Lock()
	if s.evfd >= 0 {
		unix.Close(s.evfd)
		s.evfd = -1
	}
	s.evMu.Unlock()
}

// rawSockaddr lays out sa as the kernel's struct sockaddr_in / sockaddr_in6.
func rawSockaddr(sa unix.Sockaddr) []byte {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		b := make([]byte, unix.SizeofSockaddrInet4)
		*(*uint16)(unsafe.Pointer(&b[0])) = unix.AF_INET
		b[2], b[3] = byte(a.Port>>8), byte(a.Port)
		copy(b[4:8], a.Addr[:])
		return b
	case *unix.SockaddrInet6:
		b := make([]byte, unix.SizeofSockaddrInet6)
		*(*uint16)(unsafe.Pointer(&b[0])) = unix.AF_INET6
		b[2], b[3] = byte(a.Port>>8), byte(a.Port)
		copy(b[8:24], a.Addr[:])
		return b
	}
	return nil
}
