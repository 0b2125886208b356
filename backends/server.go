package backend

// The server half of the backend interface (Backend.NewServer): what the echo-proxy workload and
// `ringbench serve` drive. A backend that cannot serve sockets here returns an error wrapping
// ErrNotSupported from NewServer, and the workload skips it with that reason.

import (
	"errors"
	"fmt"

	"github.com/ringbench/ringbench/internal/serverthread"
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

// ServerConfig sets a server up.
type ServerConfig struct {
	// ListenFD is a bound, listening, non-blocking TCP socket (see netutil.Listen).
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
	// Threads is how many event loops serve (0: 1), each with its own listening socket, ListenFDs[i];
	// see NewThreaded. MaxConns then bounds each loop's connections.
	Threads int
	// ListenFDs are the listening sockets of the Threads loops (netutil.ListenN: one address, SO_REUSEPORT);
	// with them ListenFD is ListenFDs[0]. Empty with one thread: ListenFD is the listener.
	ListenFDs []int
	Options
}

// MaxThreads bounds ServerConfig.Threads (and the load generator's threads).
const MaxThreads = 256

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
	if c.Threads == 0 {
		c.Threads = 1
	}
	if c.Threads < 1 || c.Threads > MaxThreads {
		return fmt.Errorf("--threads %d: want 1 to %d", c.Threads, MaxThreads)
	}
	if c.Threads > 1 && len(c.ListenFDs) != c.Threads {
		return fmt.Errorf("--threads %d: %d listening sockets, want one per thread", c.Threads, len(c.ListenFDs))
	}
	if len(c.ListenFDs) > 0 {
		c.ListenFD = c.ListenFDs[0]
	}
	if c.ListenFD <= 0 {
		return errors.New("no listening socket")
	}
	return nil
}

// Prepare is Normalize for a server's constructor, which owns ListenFD from the start: on an error it
// closes ListenFD, and the error names the server (name: "epoll", "uring", ...).
func (c *ServerConfig) Prepare(name string) error {
	if err := c.Normalize(); err != nil {
		if c.ListenFD > 0 {
			unix.Close(c.ListenFD)
		}
		return fmt.Errorf("%s server: %w", name, err)
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

// ServerStats are a server's connection and byte counts; every server keeps them in a
// serverthread.Counters.
type ServerStats = serverthread.Stats
