// Package serverthread is what the native servers share: the life of the locked OS thread that does a
// server's I/O (internal/epollserver, and backends/uring for uring and sqpoll), and the connection and
// byte counters every server reports (gostd's too). It imports nothing of the backends, so both the
// backends and internal/epollserver can use it.
package serverthread

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Stats are a server's connection and byte counts.
type Stats struct {
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

// Counters are the live counts behind Stats: the server's thread updates them, and Stats may be read
// from any goroutine while it serves.
type Counters struct {
	Accepted, Rejected, Open, BytesIn, Paused, Errors atomic.Int64
}

// Stats reads the counters.
func (c *Counters) Stats() Stats {
	return Stats{Accepted: c.Accepted.Load(), Rejected: c.Rejected.Load(), Open: c.Open.Load(),
		BytesIn: c.BytesIn.Load(), Paused: c.Paused.Load(), Errors: c.Errors.Load()}
}

// Thread is the life of a server's I/O thread: Start sets the server up on a goroutine locked to its own
// OS thread, Serve runs the server's loop there, and Close stops it (before or after Serve) and waits
// until the server's cleanup has run. The server's loop learns of Close from Closing and from the wake
// eventfd (OpenWake), which Close writes to.
type Thread struct {
	// Closing is set by Close before it wakes the thread; the loop stops when it sees it.
	Closing atomic.Bool

	name              string
	start, quit, done chan struct{}
	started           atomic.Bool
	closeOnce         sync.Once
	wakeMu            sync.Mutex // guards wakeFD between Close (which writes to it) and the thread's end (which closes it)
	wakeFD            int
	tid               int
	err               error
}

// Start runs setup on a new goroutine locked to its OS thread and returns its error. When setup fails,
// cleanup has run and the thread has ended by the time Start returns; otherwise the thread waits for
// Serve (which runs loop, then cleanup) or Close (which runs cleanup alone). name labels errors
// ("epoll", "uring"). ThreadID is valid once Start has returned nil.
func (t *Thread) Start(name string, setup, loop func() error, cleanup func()) error {
	t.name = name
	t.start, t.quit, t.done = make(chan struct{}), make(chan struct{}), make(chan struct{})
	t.wakeFD = -1
	ready := make(chan error, 1)
	go t.run(ready, setup, loop, cleanup)
	if err := <-ready; err != nil {
		<-t.done
		return err
	}
	return nil
}

func (t *Thread) run(ready chan<- error, setup, loop func() error, cleanup func()) {
	// The thread stays locked until the goroutine exits, and then dies with it: the workload may have
	// pinned it to a CPU, and a ring may be bound to it; such a thread must not go back to the runtime's
	// pool.
	runtime.LockOSThread()
	defer close(t.done)
	t.tid = unix.Gettid()
	if err := setup(); err != nil {
		t.end(cleanup)
		ready <- err
		return
	}
	ready <- nil
	select {
	case <-t.start:
	case <-t.quit:
	}
	// Once Serve has been called the loop runs, even when Close came as well (a select between two
	// closed channels picks either): the loop sees Closing and the wake eventfd and returns at once.
	select {
	case <-t.start:
		t.err = loop()
	default:
	}
	t.end(cleanup)
}

// end runs the server's cleanup, then closes the wake eventfd.
func (t *Thread) end(cleanup func()) {
	cleanup()
	t.wakeMu.Lock()
	if t.wakeFD >= 0 {
		unix.Close(t.wakeFD)
		t.wakeFD = -1
	}
	t.wakeMu.Unlock()
}

// OpenWake creates the eventfd (with flags, as for eventfd(2)) that Close writes to, for the loop to
// watch; it is closed when the thread ends, after cleanup. Call it from setup.
func (t *Thread) OpenWake(flags int) (int, error) {
	fd, err := unix.Eventfd(0, flags)
	if err != nil {
		return -1, err
	}
	t.wakeMu.Lock()
	t.wakeFD = fd
	t.wakeMu.Unlock()
	return fd, nil
}

// Serve runs the server's loop on its thread until Close, and returns nil after Close, or the error
// that stopped it. It may be called once.
func (t *Thread) Serve() error {
	if !t.started.CompareAndSwap(false, true) {
		return fmt.Errorf("%s server: Serve called twice", t.name)
	}
	close(t.start)
	<-t.done
	return t.err
}

// Close stops the server and waits until its cleanup has run; it may be called more than once, and
// before Serve.
func (t *Thread) Close() error {
	t.closeOnce.Do(func() {
		t.Closing.Store(true)
		close(t.quit)
		t.wakeMu.Lock()
		if t.wakeFD >= 0 {
			one := [8]byte{1}
			_, _ = unix.Write(t.wakeFD, one[:])
		}
		t.wakeMu.Unlock()
	})
	<-t.done
	return nil
}

// ThreadID is the OS thread that does the server's I/O.
func (t *Thread) ThreadID() int { return t.tid }
