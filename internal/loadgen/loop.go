package loadgen

// The loop: the generator thread's state, its setup and teardown, and the measured run on epoll (the
// io_uring run is in uring.go), with the commands it answers while running and the result it reports.

import (
	"container/heap"
	"errors"
	"fmt"
	"runtime"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/ringbench/ringbench/internal/clock"
	"github.com/ringbench/ringbench/internal/result"
	"golang.org/x/sys/unix"
)

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
	heap       dueHeap
	issuedAll  int64
	ops, bytes int64
	late       int64
	markAt     int64
	markThread uint64
	markProc   uint64
	err        error
	msgSize    int64
	pipeline   int64
	sched      schedule // where this thread's connections sit in the whole generator's open-loop schedule
	u          *uringIO // io_uring engine while running on it, else nil
	engine     string
	keepPool   bool // a request the kernel could not cancel may still point into pool: never unmap it
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

// run is the measured loop: it sends load until Stop (or an error, or a limit), answering Mark on the way.
// It reports whether Close came (the thread then ends), and whether Stop did.
// at, when not 0, is the open-loop schedule's start (the same for every thread of a generator).
func (l *loop) run(cmds <-chan command, limit time.Duration, at int64) (closed, stopped bool) {
	l.running = true
	l.openLoop = l.cfg.Rate > 0
	now := clock.Now()
	end := now + int64(limit)
	if limit <= 0 {
		end = now + int64(time.Hour)
	}
	l.t0 = now
	if at != 0 {
		l.t0 = at
	}
	l.markAt = now
	l.markThread, l.markProc = threadCPU(), processCPU()
	for _, c := range l.conns {
		c.lastSeen = now
	}
	if l.openLoop {
		// Connection i's k-th request is due at t0 + (k*conns + i) / rate: requests evenly spread in time
		// and across connections (see schedule.due).
		l.sched = l.sched.orAll(l.active)
		l.interval = float64(l.sched.all) * 1e9 / l.cfg.Rate
		l.heap = make(dueHeap, 0, l.active)
		for _, c := range l.conns[:l.active] {
			c.nextDue = l.sched.due(l.t0, l.cfg.Rate, c.idx, 0)
			heap.Push(&l.heap, c)
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
	p := pacer{lastCheck: now, lastYield: now}
	for l.err == nil {
		timeoutNs := l.turnTimeout()
		n, errno := epollPwait2(l.epfd, l.events, timeoutNs)
		if errno != 0 && errno != unix.EINTR {
			l.err = fmt.Errorf("load generator: epoll_pwait2: %w", errno)
			break
		}
		now = clock.Now()
		p.yield(now)
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
		if done, closed, stopped := l.endTurn(&p, now, end, limit, cmds); done {
			return closed, stopped
		}
	}
	l.running = false
	return false, false
}

// turnTimeout issues the open-loop requests now due and says how long (ns) a loop turn may wait: until
// the next one is due, and at most 100 ms, to check the time limit and stalled connections.
func (l *loop) turnTimeout() int64 {
	timeout := int64(100 * time.Millisecond)
	if l.openLoop {
		l.issueDue(clock.Now())
		if len(l.heap) > 0 {
			timeout = min(timeout, max(l.heap[0].nextDue-clock.Now(), 0))
		}
	}
	return timeout
}

// pacer is when a running loop last yielded to the scheduler and last ran its periodic checks.
type pacer struct{ lastCheck, lastYield int64 }

// yield lets the scheduler see this goroutine move (see yieldEvery) when it has not for a while.
func (p *pacer) yield(now int64) {
	if now-p.lastYield > yieldEvery {
		runtime.Gosched()
		p.lastYield = now
	}
}

// endTurn ends a loop turn, on either engine: the periodic checks every 100 ms, then the commands;
// done: the run is over.
func (l *loop) endTurn(p *pacer, now, end int64, limit time.Duration, cmds <-chan command) (done, closed, stopped bool) {
	if now-p.lastCheck > int64(100*time.Millisecond) {
		p.lastCheck = now
		l.periodic(now, end, limit)
	}
	return l.command(cmds, now)
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

// result is what the window since Mark measured. It is called once, when the window closes.
func (l *loop) result() Result {
	now := clock.Now()
	r := Result{Ops: l.ops, Bytes: l.bytes, Seconds: float64(now-l.markAt) / 1e9, Corrected: l.openLoop, Late: l.late,
		ThreadCPUNs: threadCPU() - l.markThread, ProcessCPUNs: processCPU() - l.markProc, Engine: l.engine}
	if l.openLoop && l.running {
		r.Unfinished = l.recordUnfinished(now)
	}
	if enc, err := l.hist.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err == nil {
		r.Histogram = string(enc)
	}
	if l.err != nil {
		r.Error = l.err.Error()
	}
	return r
}

// unfinishedGroups bounds the histogram records one connection's backlog of unsent requests costs: beyond
// it, consecutive due times are recorded together at their middle (their spread is then below the
// histogram's own resolution for any backlog that long).
const unfinishedGroups = 1 << 16

// recordUnfinished records, as of now (the window's end), every open-loop request that was due but has
// not completed: those in flight from their scheduled send time, and those not even sent (their
// connection's pipeline was full) from the time they were due. A server that stalls at the end of a
// window would otherwise lose exactly the requests that measure the stall. It returns how many it
// recorded; they are in the histogram but not in Ops.
func (l *loop) recordUnfinished(now int64) int64 {
	var n int64
	record := func(lat, count int64) {
		_ = l.hist.RecordValues(min(max(lat, result.HistMin), result.HistMax), count)
		n += count
	}
	for _, c := range l.conns[:l.active] {
		for k := c.completed; k < c.issued; k++ {
			record(now-c.starts[k%l.pipeline], 1)
		}
		if c.nextDue > now {
			continue
		}
		// Due times of c's unsent requests: c.nextDue, then one interval apart (see issueDue).
		due := func(seq int64) int64 { return l.sched.due(l.t0, l.cfg.Rate, c.idx, seq) }
		backlog := int64(float64(now-c.nextDue)/l.interval) + 1
		for backlog > 0 && due(c.seq+backlog-1) > now {
			backlog--
		}
		step := max(backlog/unfinishedGroups, 1)
		for k := int64(0); k < backlog; k += step {
			cnt := min(step, backlog-k)
			record(now-due(c.seq+k+cnt/2), cnt)
		}
	}
	return n
}
