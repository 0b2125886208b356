package loadgen

// The Generator's API, and its OS thread, which owns the loop and takes commands (start, mark, stop,
// close) through a channel, woken by an eventfd the loop waits on.

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/ringbench/ringbench/internal/cpuset"
	"github.com/ringbench/ringbench/internal/fds"
	"github.com/ringbench/ringbench/internal/netutil"
	"golang.org/x/sys/unix"
)

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
