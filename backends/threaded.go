package backend

// Threaded servers: N event loops, each a complete one-thread server (its own locked thread, its own ring
// or epoll instance, buffer ring and registered files) on a listening socket of its own. The N sockets
// share one address through SO_REUSEPORT (netutil.ListenN), and the kernel spreads incoming connections
// over them by a hash of each connection's addresses.
//
// Why SO_REUSEPORT rather than one acceptor handing connections to the loops: it is how thread-per-core
// servers (nginx reuseport, seastar, the io_uring ports of them) are built; accepting stays on the loop
// that serves the connection (multishot accept straight into that ring's registered-file table, which
// a handed-over socket could not use without a descriptor passing step and a cross-thread wake-up per
// connection); and the loops share nothing, so a loop's syscalls per request are the same as with one.
// The price: the spread is by hash, not by load, so with few connections it can be uneven.

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// NewThreaded builds cfg.Threads servers with newOne, each given one of cfg.ListenFDs (and Threads 1),
// and combines them; with one thread it is newOne(cfg). As with Backend.NewServer, every listening socket
// is closed when it fails.
func NewThreaded(cfg ServerConfig, newOne func(ServerConfig) (Server, error)) (Server, error) {
	if cfg.Threads <= 1 && len(cfg.ListenFDs) <= 1 {
		if len(cfg.ListenFDs) == 1 {
			cfg.ListenFD = cfg.ListenFDs[0]
		}
		cfg.ListenFDs = nil
		return newOne(cfg)
	}
	if err := cfg.Normalize(); err != nil {
		for _, fd := range cfg.ListenFDs {
			unix.Close(fd)
		}
		return nil, err
	}
	t := &ThreadedServer{}
	for i, fd := range cfg.ListenFDs {
		c := cfg
		c.Threads, c.ListenFD, c.ListenFDs = 1, fd, nil
		s, err := newOne(c)
		if err != nil {
			for _, rest := range cfg.ListenFDs[i+1:] {
				unix.Close(rest)
			}
			_ = t.Close()
			return nil, fmt.Errorf("server thread %d of %d: %w", i+1, cfg.Threads, err)
		}
		t.servers = append(t.servers, s)
	}
	return t, nil
}

// ThreadedServer is cfg.Threads one-thread servers run as one: stats and counters are their sums.
type ThreadedServer struct {
	servers []Server
	started atomic.Bool
}

// Serve implements Server: it runs every loop and returns when all have stopped; the first error stops
// the others.
func (t *ThreadedServer) Serve() error {
	if !t.started.CompareAndSwap(false, true) {
		return errors.New("server: Serve called twice")
	}
	errs := make(chan error, len(t.servers))
	for _, s := range t.servers {
		go func() { errs <- s.Serve() }()
	}
	var first error
	for range t.servers {
		if err := <-errs; err != nil && first == nil {
			first = err
			go func() { _ = t.Close() }()
		}
	}
	return first
}

// Close implements Server.
func (t *ThreadedServer) Close() error {
	var wg sync.WaitGroup
	for _, s := range t.servers {
		wg.Add(1)
		go func() { defer wg.Done(); _ = s.Close() }()
	}
	wg.Wait()
	return nil
}

// Counters implements Server: the sums over the loops (Enters -1 when they have no ring); PollThreadTID
// is the first loop's.
func (t *ThreadedServer) Counters() EngineCounters {
	var out EngineCounters
	for i, s := range t.servers {
		c := s.Counters()
		if i == 0 {
			out = c
			continue
		}
		if out.Enters >= 0 && c.Enters >= 0 {
			out.Enters += c.Enters
			out.SubmitEnters += c.SubmitEnters
			out.WaitEnters += c.WaitEnters
		}
	}
	return out
}

// ThreadID implements Server: the first loop's thread (ThreadIDs has them all).
func (t *ThreadedServer) ThreadID() int { return t.servers[0].ThreadID() }

// ThreadIDs are the loops' OS threads (none when the servers have no thread of their own).
func (t *ThreadedServer) ThreadIDs() []int {
	var out []int
	for _, s := range t.servers {
		if tid := s.ThreadID(); tid > 0 {
			out = append(out, tid)
		}
	}
	return out
}

// Stats implements Server: the sums over the loops.
func (t *ThreadedServer) Stats() ServerStats {
	var out ServerStats
	for _, st := range t.ThreadStats() {
		out.Accepted += st.Accepted
		out.Rejected += st.Rejected
		out.Open += st.Open
		out.BytesIn += st.BytesIn
		out.Paused += st.Paused
		out.Errors += st.Errors
	}
	return out
}

// ThreadStats are each loop's own counts.
func (t *ThreadedServer) ThreadStats() []ServerStats {
	out := make([]ServerStats, len(t.servers))
	for i, s := range t.servers {
		out[i] = s.Stats()
	}
	return out
}

// Warnings implements Warner: every loop's, each text once.
func (t *ThreadedServer) Warnings() []Warning {
	var out []Warning
	seen := map[string]bool{}
	for _, s := range t.servers {
		w, ok := s.(Warner)
		if !ok {
			continue
		}
		for _, x := range w.Warnings() {
			if !seen[x.Text] {
				seen[x.Text] = true
				out = append(out, x)
			}
		}
	}
	return out
}

// ServerThreadIDs are the OS threads doing s's I/O: every loop's for a threaded server, else
// s.ThreadID() (none when 0).
func ServerThreadIDs(s Server) []int {
	if t, ok := s.(interface{ ThreadIDs() []int }); ok {
		return t.ThreadIDs()
	}
	if tid := s.ThreadID(); tid > 0 {
		return []int{tid}
	}
	return nil
}
