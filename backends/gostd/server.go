package gostd

// The net-package server, as a Go programmer writes one: a goroutine per connection doing blocking Read and
// Write on a net.Conn, the runtime's netpoller underneath. A blocking Write is its backpressure: while an
// echo cannot be written the goroutine reads nothing more.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/serverthread"
)

// NewServer implements backend.Builder: it wraps cfg.ListenFD in a net.Listener.
//
// --threads N here means N accept loops, one per listening socket (SO_REUSEPORT, as the other backends);
// the connections' goroutines all run on the runtime's GOMAXPROCS threads whatever N is, so it is
// GOMAXPROCS (set by the echo-proxy workload to the server's CPUs) that decides how many cores serve.
func (Backend) NewServer(cfg backend.ServerConfig) (backend.Server, error) {
	return backend.NewThreaded(cfg, newServer)
}

func newServer(cfg backend.ServerConfig) (backend.Server, error) {
	if err := cfg.Prepare("gostd"); err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(cfg.ListenFD), "listener")
	ln, err := net.FileListener(f) // a duplicate; the original is closed below
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("gostd server: %w", err)
	}
	return &server{cfg: cfg, ln: ln, conns: map[net.Conn]struct{}{}}, nil
}

type server struct {
	cfg     backend.ServerConfig
	ln      net.Listener
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
	started atomic.Bool
	ctr     serverthread.Counters // Paused stays 0: a blocked Write is this server's backpressure
}

func (s *server) Serve() error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("gostd server: Serve called twice")
	}
	var tempDelay time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ECONNABORTED) {
				// Out of descriptors (or an aborted handshake): back off as net/http does.
				s.ctr.Errors.Add(1)
				tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
				time.Sleep(tempDelay)
				continue
			}
			return fmt.Errorf("gostd server: accept: %w", err)
		}
		tempDelay = 0
		s.ctr.Accepted.Add(1)
		if s.ctr.Open.Load() >= int64(s.cfg.MaxConns) || !s.track(c, true) {
			s.ctr.Rejected.Add(1)
			c.Close()
			continue
		}
		s.ctr.Open.Add(1)
		go s.handle(c)
	}
}

// track records c so that Close can close it (and, with goroutine, counts the goroutine that will serve
// it, under the same lock that Close takes, so that Close waits for it); false once closing.
func (s *server) track(c net.Conn, goroutine bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	if goroutine {
		s.wg.Add(1)
	}
	return true
}

func (s *server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
}

func (s *server) handle(c net.Conn) {
	defer s.wg.Done()
	defer s.ctr.Open.Add(-1)
	defer s.untrack(c)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true) // the default in Go; said for clarity
	}
	if s.cfg.Topology != backend.TopologyProxy {
		s.pump(c, c, true)
		return
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	up, err := d.Dial("tcp", s.cfg.Upstream)
	if err != nil {
		s.ctr.Errors.Add(1)
		return
	}
	if !s.track(up, false) {
		up.Close()
		return
	}
	defer s.untrack(up)
	s.wg.Add(1) // handle's own count keeps the group above zero here
	go func() {
		defer s.wg.Done()
		s.pump(up, c, false)
		c.Close() // upstream gone: the client's half stops too
	}()
	s.pump(c, up, true)
}

// pump copies src to dst with a bufSize buffer until either side fails.
func (s *server) pump(src, dst net.Conn, client bool) {
	buf := make([]byte, s.cfg.BufSize)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if client {
				s.ctr.BytesIn.Add(int64(n))
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				s.noteErr(werr)
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				s.noteErr(err)
			}
			dst.Close()
			return
		}
	}
}

func (s *server) noteErr(err error) {
	if errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return
	}
	s.ctr.Errors.Add(1)
}

func (s *server) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		s.ln.Close()
		for c := range s.conns {
			c.Close()
		}
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *server) Counters() backend.EngineCounters { return backend.EngineCounters{Enters: -1} }

// ThreadID is 0: the runtime spreads the server's work over its threads, so only the whole process counts.
func (s *server) ThreadID() int { return 0 }

func (s *server) Stats() backend.ServerStats { return s.ctr.Stats() }

// Warnings implements backend.Warner.
func (s *server) Warnings() []backend.Warning { return nil }
