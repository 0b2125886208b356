// Package loadgen is ringbench's network load generator and the plumbing that runs it (with the upstream
// echo server of the proxy topology) in a child process of its own.
//
// The generator is one level-triggered epoll loop on a locked OS thread over raw non-blocking sockets, the
// cheapest client Go can be: per request it makes one write and one read (plus a share of epoll_wait),
// allocates nothing and reads the clock once per read. It runs closed loop (Pipeline requests in flight
// per connection, the next sent the moment one completes) or open loop at a fixed total rate, where every
// request is timed from its scheduled send time, as wrk2 does, so a stalled server cannot hide its stall
// by delaying the requests that would have measured it (coordinated omission).
//
// Each connection's byte stream is a fixed pseudo-random pattern at a per-connection phase, so the echo
// can be checked byte for byte (Verify) and messages of any size (64 B to 1 MiB) need no copying: partial
// writes and reads just move a position in the pattern.
package loadgen

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/ringbench/ringbench/internal/rawsys"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/ringbench/ringbench/internal/clock"
	"github.com/ringbench/ringbench/internal/cpuset"
	"github.com/ringbench/ringbench/internal/fds"
	"github.com/ringbench/ringbench/internal/netutil"
	"github.com/ringbench/ringbench/internal/result"
	"golang.org/x/sys/unix"
)

// Limits on what one generator accepts.
const (
	MinMsgSize  = 1
	MaxMsgSize  = 1 << 20
	MaxConns    = 100_000
	MaxPipeline = 1024
	// DefaultMaxRequests bounds every run by count as well as by time.
	DefaultMaxRequests = int64(1) << 34
)

// Config is one load.
type Config struct {
	Target    string        `json:"target"`               // host:port of the server under test
	Conns     int           `json:"conns"`                // connections carrying load
	IdleConns int           `json:"idle_conns,omitempty"` // extra connections held idle (after one echo each)
	MsgSize   int           `json:"msg_size"`             // bytes per request (and per echo)
	Pipeline  int           `json:"pipeline"`             // requests in flight per connection (closed loop; open loop: at most)
	Rate      float64       `json:"rate,omitempty"`       // total requests/s (open loop); 0 = closed loop
	Verify    bool          `json:"verify,omitempty"`     // check every echoed byte
	Timeout   time.Duration `json:"timeout,omitempty"`    // give up when a connection with requests in flight gets nothing back for this long
	// MaxRequests bounds the run by count (0: DefaultMaxRequests); the Start command bounds it by time.
	MaxRequests int64 `json:"max_requests,omitempty"`
	// ConnectTimeout bounds connecting all connections (0: 30 s).
	ConnectTimeout time.Duration `json:"connect_timeout,omitempty"`
	// Engine is how the generator does its I/O: "uring" (io_uring: multishot recv from a buffer ring,
	// registered files, sends submitted in batches, one io_uring_enter per loop turn), "epoll", or ""/"auto"
	// (io_uring where the kernel has what it needs, else epoll). Connections held idle always use epoll.
	Engine string `json:"engine,omitempty"`
}

// Validate fills defaults and checks the config, naming the flag in any error.
func (c *Config) Validate() error {
	if c.Target == "" {
		return errors.New("--target: no address")
	}
	if c.Conns == 0 && c.IdleConns == 0 {
		c.Conns = 1
	}
	if c.Conns < 0 || c.Conns > MaxConns {
		return fmt.Errorf("--conns %d: want 0 to %d", c.Conns, MaxConns)
	}
	if c.IdleConns < 0 || c.IdleConns > MaxConns {
		return fmt.Errorf("--idle-conns %d: want 0 to %d", c.IdleConns, MaxConns)
	}
	if c.MsgSize == 0 {
		c.MsgSize = 64
	}
	if c.MsgSize < MinMsgSize || c.MsgSize > MaxMsgSize {
		return fmt.Errorf("--msg-size %d: want 1 B to 1 MiB", c.MsgSize)
	}
	if c.Pipeline == 0 {
		c.Pipeline = 1
	}
	if c.Pipeline < 1 || c.Pipeline > MaxPipeline {
		return fmt.Errorf("--pipeline %d: want 1 to %d", c.Pipeline, MaxPipeline)
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) || c.Rate > 1e8 {
		return fmt.Errorf("--rate %v: want 0 (closed loop) or a positive rate up to 1e8 requests/s", c.Rate)
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Timeout < 0 {
		return fmt.Errorf("--timeout %v: must be positive", c.Timeout)
	}
	if c.MaxRequests <= 0 {
		c.MaxRequests = DefaultMaxRequests
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = 30 * time.Second
	}
	switch c.Engine {
	case "", EngineAuto, EngineEpoll, EngineUring:
	default:
		return fmt.Errorf("--engine %q: want auto, epoll or uring", c.Engine)
	}
	return nil
}

// Generator I/O engines (Config.Engine).
const (
	EngineAuto  = "auto"
	EngineEpoll = "epoll"
	EngineUring = "uring"
)

// Result is what the generator measured between Mark and Stop.
type Result struct {
	Ops     int64   `json:"ops"`
	Bytes   int64   `json:"bytes"` // bytes of the requests completed (ops x msg-size)
	Seconds float64 `json:"seconds"`
	// Histogram is the round-trip latency histogram (ns), encoded as result.LatencyFrom does.
	Histogram string `json:"histogram"`
	// Corrected: open loop, every request timed from its scheduled send time.
	Corrected bool `json:"corrected,omitempty"`
	// Late counts open-loop requests sent more than 1 ms after their scheduled time.
	Late int64 `json:"late,omitempty"`
	// ThreadCPUNs is the generator thread's CPU time; ProcessCPUNs the whole generator process (with the
	// upstream echo server when it runs there).
	ThreadCPUNs  uint64 `json:"thread_cpu_ns"`
	ProcessCPUNs uint64 `json:"process_cpu_ns"`
	// Engine is the I/O engine the generator ran on (epoll or uring).
	Engine string `json:"engine,omitempty"`
	// Error is why the run stopped early ("" when it ran to Stop).
	Error string `json:"error,omitempty"`
}

// Latency decodes the histogram into the result's latency summary.
func (r *Result) Latency() (result.Latency, error) {
	if r.Histogram == "" {
		return result.Latency{}, nil
	}
	h, err := result.DecodeHistogram(r.Histogram)
	if err != nil {
		return result.Latency{}, err
	}
	l := result.LatencyFrom(h)
	l.Corrected = r.Corrected
	return l, nil
}

// ErrServerGone is wrapped by errors that mean the server stopped answering: a connection closed or reset,
// or nothing came back within the timeout.
var ErrServerGone = errors.New("server closed the connection or stopped answering")

// patternPeriod is the period of each connection's byte pattern: a prime, so that a duplicated, dropped or
// reordered chunk of any power-of-two size shows.
const patternPeriod = 4093

// yieldEvery is how often a busy loop thread yields to the Go scheduler. A locked goroutine that only
// ever makes syscalls is never rescheduled; after 10 ms of that the runtime's sysmon takes its P away in
// the middle of a syscall and goes back to polling every 20 us, which on this kind of machine cost 12% of
// a core and thousands of context switches a second (measured: Go 1.26, 2 vCPUs). Yielding every few
// milliseconds costs one handoff instead.
const yieldEvery = int64(4 * time.Millisecond)

// chunk is the most one read or write moves.
const chunk = 256 << 10

// Generator is a running load generator: Dial, Start, Mark, Stop, Close.
type Generator struct {
	cfg  Config
	cmds chan command // buffered: a command is queued, then the loop is woken through evfd
	done chan struct{}
	// failed is closed when a started run stops by itself (an error, or a limit) before Stop.
	failed chan struct{}
	tid    int
	evfd   int

	closeOnce sync.Once
	closed    bool
	mu        sync.Mutex // serialises commands
}

type command struct {
	op    string // "start", "mark", "stop", "close"
	limit time.Duration
	reply chan reply
}

type reply struct {
	res Result
	err error
}

// gconn is one connection's state, owned by the loop thread.
type gconn struct {
	fd    int
	idx   int32
	phase int // position of this connection's stream in the pattern

	issued    int64 // requests issued (queued for sending)
	completed int64 // requests whose echo came back whole
	sent      int64 // bytes written
	recvd     int64 // bytes read
	wantOut   bool  // EPOLLOUT registered
	starts    []int64
	nextDue   int64 // open loop: scheduled time of the next request
	lastSeen  int64 // last time bytes came back (or the connection went quiet)
	heapIdx   int   // position in the open-loop heap, -1 when not in it
	seq       int64 // open loop: index of this conn's next request in its own schedule
	idle      bool
	pingBytes int
}

// loop is the generator's thread state.
type loop struct {
	cfg    Config
	epfd   int
	evfd   int
	conns  []*gconn // active, then idle
	active int
	pool   []byte
	rbuf   []byte
	events []unix.EpollEvent
	hist   *hdrhistogram.Histogram

	running    bool
	openLoop   bool
	t0         int64
	interval   float64 // ns between requests of one connection (open loop)
	heap       []*gconn
	issuedAll  int64
	ops, bytes int64
	late       int64
	markAt     int64
	markThread uint64
	markProc   uint64
	err        error
	msgSize    int64
	pipeline   int64
	u          *uringIO // io_uring engine while running on it, else nil
	engine     string
	keepPool   bool // a request the kernel could not cancel may still point into pool: never unmap it
}

// Dial connects every connection of cfg (each idle one completes one echo of min(msg-size, 64) bytes
// first) and returns a generator ready to Start. The generator's thread is its own; cpus, when not empty,
// pins it.
func Dial(cfg Config, cpus []int) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if _, _, err := netutil.ResolveSockaddr(cfg.Target, false); err != nil {
		return nil, fmt.Errorf("--target: %w", err)
	}
	if err := fds.RaiseLimit(cfg.Conns + cfg.IdleConns + 256); err != nil {
		return nil, err
	}
	g := &Generator{cfg: cfg, cmds: make(chan command, 1), done: make(chan struct{}), failed: make(chan struct{}), evfd: -1}
	ready := make(chan error, 1)
	go g.thread(ready, cpus)
	if err := <-ready; err != nil {
		<-g.done
		if g.evfd >= 0 {
			unix.Close(g.evfd)
		}
		return nil, err
	}
	return g, nil
}

// Failed is closed when a started run has stopped by itself, on an error or a limit, before Stop: Stop
// then returns at once with the error.
func (g *Generator) Failed() <-chan struct{} { return g.failed }

// ThreadID is the generator's OS thread.
func (g *Generator) ThreadID() int { return g.tid }

func (g *Generator) do(c command) (Result, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return Result{}, errors.New("load generator closed")
	}
	c.reply = make(chan reply, 1)
	select {
	case g.cmds <- c:
	case <-g.done:
		return Result{}, errors.New("load generator stopped")
	}
	one := [8]byte{1}
	_, _ = unix.Write(g.evfd, one[:]) // the eventfd lives until the thread ends, after every command
	select {
	case r := <-c.reply:
		return r.res, r.err
	case <-g.done:
		return Result{}, errors.New("load generator stopped")
	}
}

// Start begins sending load. The generator stops by itself, with an error, if Stop has not come within
// limit (it is bounded in time as well as by Config.MaxRequests).
func (g *Generator) Start(limit time.Duration) error {
	_, err := g.do(command{op: "start", limit: limit})
	return err
}

// Mark starts the measured window: counts and the histogram start from zero.
func (g *Generator) Mark() error {
	_, err := g.do(command{op: "mark"})
	return err
}

// Stop ends the window and the load, and returns what was measured since Mark. An error means the run
// failed (the result still holds what was measured up to the failure).
func (g *Generator) Stop() (Result, error) {
	return g.do(command{op: "stop"})
}

// Close closes every connection and ends the generator's thread.
func (g *Generator) Close() error {
	g.closeOnce.Do(func() {
		_, _ = g.do(command{op: "close"})
		g.mu.Lock()
		g.closed = true
		g.mu.Unlock()
		<-g.done
		unix.Close(g.evfd)
	})
	<-g.done
	return nil
}

func (g *Generator) thread(ready chan<- error, cpus []int) {
	runtime.LockOSThread() // never unlocked: a pinned thread dies with the goroutine
	defer close(g.done)
	g.tid = unix.Gettid()
	if len(cpus) > 0 {
		_ = cpuset.PinThread(0, cpus)
	}
	// Timers for open-loop sends fire within a microsecond, not the default 50 us slack.
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	l := &loop{cfg: g.cfg, epfd: -1, evfd: -1}
	defer l.closeAll()
	err := l.setup()
	g.evfd = l.evfd // closed by Dial or Close once the thread is gone, never while do() may write to it
	if err != nil {
		ready <- err
		return
	}
	if err := l.connectAll(); err != nil {
		ready <- err
		return
	}
	ready <- nil
	for c := range g.cmds {
		switch c.op {
		case "start":
			if l.running || l.err != nil {
				c.reply <- reply{err: errors.New("load generator: started twice")}
				continue
			}
			c.reply <- reply{}
			closed, stopped := l.run(g.cmds, c.limit)
			if closed {
				return
			}
			if !stopped {
				close(g.failed)
			}
		case "mark":
			err := l.err
			if err == nil {
				err = errors.New("load generator: mark before start")
			}
			c.reply <- reply{err: err}
		case "stop":
			// The run ended by itself (error, time or count limit) before Stop came.
			c.reply <- reply{res: l.result(), err: l.err}
		case "close":
			c.reply <- reply{}
			return
		}
	}
}

func (l *loop) setup() error {
	var err error
	if l.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("load generator: epoll_create1: %w", err)
	}
	if l.evfd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
		return fmt.Errorf("load generator: eventfd: %w", err)
	}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, l.evfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(l.evfd), Pad: -1}); err != nil {
		return fmt.Errorf("load generator: epoll_ctl: %w", err)
	}
	l.msgSize, l.pipeline = int64(l.cfg.MsgSize), int64(l.cfg.Pipeline)
	// phase + position (each < period) + one chunk. Off the Go heap: io_uring sends point into it.
	var err2 error
	if l.pool, err2 = unix.Mmap(-1, 0, 2*patternPeriod+chunk, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS); err2 != nil {
		return fmt.Errorf("load generator: mmap: %w", err2)
	}
	x := uint64(0x9e3779b97f4a7c15)
	for i := 0; i < patternPeriod; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		l.pool[i] = byte(x >> 24)
	}
	for i := patternPeriod; i < len(l.pool); i++ {
		l.pool[i] = l.pool[i-patternPeriod]
	}
	l.rbuf = make([]byte, chunk)
	l.events = make([]unix.EpollEvent, 512)
	l.hist = result.NewHistogram()
	return nil
}

func (l *loop) closeAll() {
	for _, c := range l.conns {
		if c != nil && c.fd >= 0 {
			unix.Close(c.fd)
			c.fd = -1
		}
	}
	if l.epfd >= 0 {
		unix.Close(l.epfd)
		l.epfd = -1
	}
	if l.pool != nil && !l.keepPool {
		_ = unix.Munmap(l.pool)
	}
	l.pool = nil
	l.conns = nil
}

// connectAll opens every connection, a window of non-blocking connects at a time, then has each idle one
// complete one small echo (so that a server's per-connection buffers have been used once, as on a
// keep-alive connection that went quiet).
func (l *loop) connectAll() error {
	sa, family, err := netutil.ResolveSockaddr(l.cfg.Target, false)
	if err != nil {
		return err
	}
	total := l.cfg.Conns + l.cfg.IdleConns
	l.active = l.cfg.Conns
	l.conns = make([]*gconn, 0, total)
	deadline := time.Now().Add(l.cfg.ConnectTimeout)
	const window = 512
	pending := 0
	next := 0
	for next < total || pending > 0 {
		for next < total && pending < window {
			fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
			if err != nil {
				return fmt.Errorf("load generator: socket for connection %d: %w", next, err)
			}
			c := &gconn{fd: fd, idx: int32(next), heapIdx: -1, idle: next >= l.cfg.Conns,
				phase: int((uint64(next) * 2654435761) % patternPeriod)}
			l.conns = append(l.conns, c)
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
			err = unix.Connect(fd, sa)
			if err != nil && err != unix.EINPROGRESS {
				return fmt.Errorf("load generator: connect %s (connection %d): %w", l.cfg.Target, next, err)
			}
			if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(fd), Pad: c.idx}); err != nil {
				return fmt.Errorf("load generator: epoll_ctl: %w", err)
			}
			pending++
			next++
		}
		n, err := unix.EpollWait(l.epfd, l.events, 100)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("load generator: epoll_wait: %w", err)
		}
		for i := 0; i < n; i++ {
			c := l.conns[l.events[i].Pad]
			soerr, gerr := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
			if gerr == nil && soerr != 0 {
				gerr = unix.Errno(soerr)
			}
			if gerr != nil {
				return fmt.Errorf("load generator: connect %s (connection %d): %w", l.cfg.Target, c.idx, gerr)
			}
			// Connected: watch for input only (idle connections too: a close by the server shows).
			if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(c.fd), Pad: c.idx}); err != nil {
				return fmt.Errorf("load generator: epoll_ctl: %w", err)
			}
			pending--
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("load generator: connecting %d connections to %s: %d still pending after %v: %w",
				total, l.cfg.Target, pending+total-next, l.cfg.ConnectTimeout, ErrServerGone)
		}
	}
	return l.pingIdle(deadline)
}

// pingIdle sends each idle connection one small message and waits for all the echoes.
func (l *loop) pingIdle(deadline time.Time) error {
	if l.cfg.IdleConns == 0 {
		return nil
	}
	size := min(l.cfg.MsgSize, 64)
	waiting := 0
	for _, c := range l.conns[l.active:] {
		n, errno := rawsys.Send(c.fd, l.pool[c.phase:c.phase+size])
		if errno != 0 || n != size {
			return fmt.Errorf("load generator: first echo on idle connection %d: short write (%d, %v)", c.idx, n, errno)
		}
		c.pingBytes = size
		waiting++
	}
	for waiting > 0 {
		n, err := unix.EpollWait(l.epfd, l.events, 100)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("load generator: epoll_wait: %w", err)
		}
		for i := 0; i < n; i++ {
			c := l.conns[l.events[i].Pad]
			if !c.idle || c.pingBytes == 0 {
				continue
			}
			got, errno := rawsys.Read(c.fd, l.rbuf[:c.pingBytes])
			if errno == unix.EAGAIN {
				continue
			}
			if errno != 0 || got == 0 {
				return fmt.Errorf("load generator: first echo on idle connection %d: %w (%s)", c.idx, ErrServerGone, errnoText(errno, got))
			}
			off := c.phase + size - c.pingBytes
			if string(l.rbuf[:got]) != string(l.pool[off:off+got]) {
				return fmt.Errorf("load generator: idle connection %d: echo differs from what was sent", c.idx)
			}
			c.pingBytes -= got
			if c.pingBytes == 0 {
				waiting--
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("load generator: %d idle connections got no echo within %v: %w", waiting, l.cfg.ConnectTimeout, ErrServerGone)
		}
	}
	return nil
}

func errnoText(errno unix.Errno, n int) string {
	if errno != 0 {
		return errno.Error()
	}
	if n == 0 {
		return "EOF"
	}
	return "short"
}

// run is the measured loop: it sends load until Stop (or an error, or a limit), answering Mark on the way.
// It reports whether Close came (the thread then ends), and whether Stop did.
func (l *loop) run(cmds <-chan command, limit time.Duration) (closed, stopped bool) {
	l.running = true
	l.openLoop = l.cfg.Rate > 0
	now := clock.Now()
	end := now + int64(limit)
	if limit <= 0 {
		end = now + int64(time.Hour)
	}
	l.t0 = now
	l.markAt = now
	l.markThread, l.markProc = threadCPU(), processCPU()
	for _, c := range l.conns {
		c.lastSeen = now
	}
	if l.openLoop {
		// Connection i's k-th request is due at t0 + (k*conns + i) / rate: requests evenly spread in time
		// and across connections.
		l.interval = float64(l.active) * 1e9 / l.cfg.Rate
		l.heap = make([]*gconn, 0, l.active)
		for i, c := range l.conns[:l.active] {
			c.nextDue = l.t0 + int64(float64(i)*1e9/l.cfg.Rate)
			l.heapPush(c)
		}
	}
	l.engine = EngineEpoll
	if l.cfg.Engine != EngineEpoll && l.active > 0 && l.cfg.IdleConns == 0 {
		u, err := newUringIO(l)
		switch {
		case err == nil:
			l.u, l.engine = u, EngineUring
		case l.cfg.Engine == EngineUring:
			l.err = err
			l.running = false
			return false, false
		}
	}
	if !l.openLoop {
		for _, c := range l.conns[:l.active] {
			for k := int64(0); k < l.pipeline; k++ {
				l.issue(c, now, now)
			}
			l.flush(c)
			if l.err != nil {
				break
			}
		}
	}
	if l.u != nil {
		defer l.u.close()
		return l.runUring(cmds, end, limit)
	}
	lastCheck, lastYield := now, now
	for l.err == nil {
		timeoutNs := int64(-1)
		if l.openLoop {
			l.issueDue(clock.Now())
			if len(l.heap) > 0 {
				timeoutNs = max(l.heap[0].nextDue-clock.Now(), 0)
			}
		}
		// Wake at least every 100 ms to check the time limit and stalled connections.
		if timeoutNs < 0 || timeoutNs > int64(100*time.Millisecond) {
			timeoutNs = int64(100 * time.Millisecond)
		}
		n, errno := epollPwait2(l.epfd, l.events, timeoutNs)
		if errno != 0 && errno != unix.EINTR {
			l.err = fmt.Errorf("load generator: epoll_pwait2: %w", errno)
			break
		}
		now = clock.Now()
		if now-lastYield > yieldEvery {
			// Let the scheduler see this goroutine move (see yieldEvery).
			runtime.Gosched()
			lastYield = now
		}
		for i := 0; i < n && l.err == nil; i++ {
			ev := &l.events[i]
			if int(ev.Fd) == l.evfd {
				var b [8]byte
				_, _ = unix.Read(l.evfd, b[:])
				continue
			}
			c := l.conns[ev.Pad]
			if ev.Events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 && ev.Events&unix.EPOLLIN == 0 {
				l.fail(c, "connection reset")
				break
			}
			if ev.Events&unix.EPOLLIN != 0 {
				l.read(c, now)
			}
			if ev.Events&unix.EPOLLOUT != 0 && l.err == nil {
				l.flush(c)
			}
		}
		if now-lastCheck > int64(100*time.Millisecond) {
			lastCheck = now
			l.periodic(now, end, limit)
		}
		if done, closed, stopped := l.command(cmds, now); done {
			return closed, stopped
		}
	}
	l.running = false
	return false, false
}

// periodic checks the run's limits and stalled connections (every 100 ms).
func (l *loop) periodic(now, end int64, limit time.Duration) {
	l.checkStalls(now)
	if now > end {
		l.err = fmt.Errorf("load generator: no Stop within its time limit of %v", limit)
	}
	if l.issuedAll >= l.cfg.MaxRequests {
		l.err = fmt.Errorf("load generator: reached its request limit of %d", l.cfg.MaxRequests)
	}
}

// command answers a queued command, if any; done says the run ends (closed: Close came; stopped: Stop).
func (l *loop) command(cmds <-chan command, now int64) (done, closed, stopped bool) {
	select {
	case c := <-cmds:
		switch c.op {
		case "mark":
			l.mark(now)
			c.reply <- reply{}
		case "stop":
			c.reply <- reply{res: l.result(), err: l.err}
			l.running = false
			l.err = errors.New("load generator: stopped")
			return true, false, true
		case "close":
			c.reply <- reply{}
			l.running = false
			return true, true, false
		default:
			c.reply <- reply{err: fmt.Errorf("load generator: %s while running", c.op)}
		}
	default:
	}
	return false, false, false
}

func (l *loop) mark(now int64) {
	l.hist.Reset()
	l.ops, l.bytes, l.late = 0, 0, 0
	l.markAt = now
	l.markThread, l.markProc = threadCPU(), processCPU()
}

func (l *loop) result() Result {
	now := clock.Now()
	r := Result{Ops: l.ops, Bytes: l.bytes, Seconds: float64(now-l.markAt) / 1e9, Corrected: l.openLoop, Late: l.late,
		ThreadCPUNs: threadCPU() - l.markThread, ProcessCPUNs: processCPU() - l.markProc, Engine: l.engine}
	if enc, err := l.hist.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err == nil {
		r.Histogram = string(enc)
	}
	if l.err != nil {
		r.Error = l.err.Error()
	}
	return r
}

// issue queues one more request on c, timed from start.
func (l *loop) issue(c *gconn, start, now int64) {
	if c.starts == nil {
		c.starts = make([]int64, l.pipeline)
	}
	if c.issued == c.completed {
		c.lastSeen = now // it was quiet: the stall clock starts now
	}
	c.starts[c.issued%l.pipeline] = start
	c.issued++
	l.issuedAll++
}

// flush sends what c owes: at once with epoll (registering for writability only when the socket is
// full), as a queued send with io_uring.
func (l *loop) flush(c *gconn) {
	if l.u != nil {
		l.u.send(c)
		return
	}
	for {
		owe := c.issued*l.msgSize - c.sent
		if owe <= 0 {
			break
		}
		off := c.phase + int(c.sent%patternPeriod)
		n, errno := rawsys.Send(c.fd, l.pool[off:off+int(min(owe, chunk))])
		if errno == unix.EAGAIN {
			if !c.wantOut {
				l.watch(c, unix.EPOLLIN|unix.EPOLLOUT)
				c.wantOut = true
			}
			return
		}
		if errno != 0 {
			l.fail(c, errno.Error())
			return
		}
		c.sent += int64(n)
	}
	if c.wantOut {
		l.watch(c, unix.EPOLLIN)
		c.wantOut = false
	}
}

func (l *loop) watch(c *gconn, events uint32) {
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: events, Fd: int32(c.fd), Pad: c.idx}); err != nil {
		l.err = fmt.Errorf("load generator: epoll_ctl: %w", err)
	}
}

// read takes what arrived on c, checks it, and completes the requests it finishes.
func (l *loop) read(c *gconn, now int64) {
	if c.idle {
		n, errno := rawsys.Read(c.fd, l.rbuf)
		if errno == unix.EAGAIN {
			return
		}
		if errno != 0 || n == 0 {
			l.fail(c, errnoText(errno, n))
		} else {
			l.err = fmt.Errorf("load generator: idle connection %d received %d unexpected bytes", c.idx, n)
		}
		return
	}
	want := c.sent - c.recvd // never read more than has been sent: anything more is the server's error
	if want <= 0 {
		want = 1 // to see a close, or unexpected bytes
	}
	n, errno := rawsys.Read(c.fd, l.rbuf[:min(want, chunk)])
	if errno != 0 {
		if errno == unix.EAGAIN || errno == unix.EINTR {
			return
		}
		l.fail(c, errno.Error())
		return
	}
	if n == 0 {
		l.fail(c, "EOF")
		return
	}
	l.deliver(c, l.rbuf[:n], now)
}

// deliver checks bytes that came back on c and completes the requests they finish.
func (l *loop) deliver(c *gconn, data []byte, now int64) {
	n := len(data)
	if c.recvd+int64(n) > c.sent {
		l.err = fmt.Errorf("load generator: connection %d received more bytes than it sent", c.idx)
		return
	}
	if l.cfg.Verify {
		off := c.phase + int(c.recvd%patternPeriod)
		if string(data) != string(l.pool[off:off+n]) {
			at := 0
			for at < n && data[at] == l.pool[off+at] {
				at++
			}
			pos := c.recvd + int64(at)
			l.err = fmt.Errorf("load generator: --verify: connection %d, request %d, byte %d of the echo differs from what was sent",
				c.idx, pos/l.msgSize, pos%l.msgSize)
			return
		}
	}
	c.recvd += int64(n)
	c.lastSeen = now
	done := c.recvd / l.msgSize
	for c.completed < done {
		lat := now - c.starts[c.completed%l.pipeline]
		if lat < result.HistMin {
			lat = result.HistMin
		} else if lat > result.HistMax {
			lat = result.HistMax
		}
		_ = l.hist.RecordValue(lat)
		c.completed++
		l.ops++
		l.bytes += l.msgSize
		if !l.openLoop {
			if l.issuedAll < l.cfg.MaxRequests {
				l.issue(c, now, now)
			}
		} else if c.heapIdx < 0 {
			l.heapPush(c)
		}
	}
	if !l.openLoop {
		l.flush(c)
	}
}

// issueDue sends every open-loop request whose time has come, on connections with room in the pipeline.
func (l *loop) issueDue(now int64) {
	for len(l.heap) > 0 {
		c := l.heap[0]
		if c.nextDue > now {
			return
		}
		if c.issued-c.completed >= l.pipeline {
			l.heapPop() // back in when a request completes
			continue
		}
		if now-c.nextDue > int64(time.Millisecond) {
			l.late++
		}
		l.issue(c, c.nextDue, now)
		c.seq++
		c.nextDue = l.t0 + int64((float64(c.seq)*float64(l.active)+float64(c.idx))*1e9/l.cfg.Rate)
		l.heapFix(0)
		l.flush(c)
		if l.err != nil {
			return
		}
	}
}

// checkStalls fails the run when a connection with requests in flight has heard nothing for Timeout.
func (l *loop) checkStalls(now int64) {
	limit := int64(l.cfg.Timeout)
	for _, c := range l.conns[:l.active] {
		if c.issued > c.completed && now-c.lastSeen > limit {
			l.err = fmt.Errorf("load generator: connection %d: no echo for %v with %d requests in flight: %w",
				c.idx, l.cfg.Timeout, c.issued-c.completed, ErrServerGone)
			return
		}
	}
}

func (l *loop) fail(c *gconn, why string) {
	kind := "connection"
	if c.idle {
		kind = "idle connection"
	}
	l.err = fmt.Errorf("load generator: %s %d to %s: %s: %w", kind, c.idx, l.cfg.Target, why, ErrServerGone)
}

// The open-loop heap orders connections by next due time.
func (l *loop) heapLess(i, j int) bool { return l.heap[i].nextDue < l.heap[j].nextDue }

func (l *loop) heapSwap(i, j int) {
	l.heap[i], l.heap[j] = l.heap[j], l.heap[i]
	l.heap[i].heapIdx = i
	l.heap[j].heapIdx = j
}

func (l *loop) heapPush(c *gconn) {
	c.heapIdx = len(l.heap)
	l.heap = append(l.heap, c)
	l.heapUp(c.heapIdx)
}

func (l *loop) heapPop() {
	last := len(l.heap) - 1
	l.heapSwap(0, last)
	l.heap[last].heapIdx = -1
	l.heap[last] = nil
	l.heap = l.heap[:last]
	if last > 0 {
		l.heapDown(0)
	}
}

func (l *loop) heapFix(i int) {
	if !l.heapDown(i) {
		l.heapUp(i)
	}
}

func (l *loop) heapUp(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !l.heapLess(j, i) {
			break
		}
		l.heapSwap(i, j)
		j = i
	}
}

func (l *loop) heapDown(i0 int) bool {
	i, n := i0, len(l.heap)
	for {
		j1 := 2*i + 1
		if j1 >= n {
			break
		}
		j := j1
		if j2 := j1 + 1; j2 < n && l.heapLess(j2, j1) {
			j = j2
		}
		if !l.heapLess(j, i) {
			break
		}
		l.heapSwap(i, j)
		i = j
	}
	return i > i0
}

// epollPwait2 waits with a nanosecond timeout (epoll_pwait2, 5.11+; epoll_wait in milliseconds before).
func epollPwait2(epfd int, events []unix.EpollEvent, timeoutNs int64) (int, unix.Errno) {
	if !noPwait2 {
		ts := unix.NsecToTimespec(timeoutNs)
		n, _, errno := unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])),
			uintptr(len(events)), uintptr(unsafe.Pointer(&ts)), 0, 0)
		if errno != unix.ENOSYS {
			return int(n), errno
		}
		noPwait2 = true
	}
	ms := int((timeoutNs + 999_999) / 1_000_000)
	n, err := unix.EpollWait(epfd, events, ms)
	if err != nil {
		return 0, err.(unix.Errno)
	}
	return n, 0
}

var noPwait2 bool

// threadCPU is the calling thread's CPU time in ns.
func threadCPU() uint64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return uint64(ts.Nano())
}

// processCPU is this process's CPU time (user + system, every thread) in ns.
func processCPU() uint64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return uint64(ru.Utime.Nano() + ru.Stime.Nano())
}
