package loadgen

// The Generator's API, and its OS thread, which owns the loop and takes commands (start, mark, stop,
// close) through a channel, woken by an eventfd the loop waits on.

import (
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/ringbench/ringbench/internal/cpuset"
	"golang.org/x/sys/unix"
)

// worker is one generator thread with its own connections and loop (a Generator has Config.Threads).
type worker struct {
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
	at    int64 // start: the open-loop schedule's start (clock.Now), shared by every thread
	reply chan reply
}

type reply struct {
	res Result
	err error
}

// dialWorker connects the connections of cfg (a thread's share) on a new thread, pinned to cpus when not
// empty; sched places them in the whole generator's open-loop schedule.
func dialWorker(cfg Config, cpus []int, sched schedule) (*worker, error) {
	g := &worker{cfg: cfg, cmds: make(chan command, 1), done: make(chan struct{}), failed: make(chan struct{}), evfd: -1}
	ready := make(chan error, 1)
	go g.thread(ready, cpus, sched)
	if err := <-ready; err != nil {
		<-g.done
		if g.evfd >= 0 {
			unix.Close(g.evfd)
		}
		return nil, err
	}
	return g, nil
}

func (g *worker) do(c command) (Result, error) {
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
func (g *worker) Start(limit time.Duration, at int64) error {
	_, err := g.do(command{op: "start", limit: limit, at: at})
	return err
}

// Mark starts the measured window: counts and the histogram start from zero.
func (g *worker) Mark() error {
	_, err := g.do(command{op: "mark"})
	return err
}

// Stop ends the window and the load, and returns what was measured since Mark. An error means the run
// failed (the result still holds what was measured up to the failure).
func (g *worker) Stop() (Result, error) {
	return g.do(command{op: "stop"})
}

// Close closes every connection and ends the generator's thread.
func (g *worker) Close() error {
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

func (g *worker) thread(ready chan<- error, cpus []int, sched schedule) {
	runtime.LockOSThread() // never unlocked: a pinned thread dies with the goroutine
	defer close(g.done)
	g.tid = unix.Gettid()
	if len(cpus) > 0 {
		_ = cpuset.PinThread(0, cpus)
	}
	// Timers for open-loop sends fire within a microsecond, not the default 50 us slack.
	_ = unix.Prctl(unix.PR_SET_TIMERSLACK, 1, 0, 0, 0)
	l := &loop{cfg: g.cfg, epfd: -1, evfd: -1, sched: sched}
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
			closed, stopped := l.run(g.cmds, c.limit, c.at)
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
