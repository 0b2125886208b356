// Package loadgen is ringbench's network load generator and the plumbing that runs it (with the upstream
// echo server of the proxy topology) in a child process of its own.
//
// The generator is one level-triggered epoll loop on a locked OS thread over raw non-blocking sockets, the
// cheapest client Go can be: per request it makes one write and one read (plus a share of epoll_wait),
// allocates nothing and reads the clock once per read. It runs closed loop (Pipeline requests in flight
// per connection, the next sent the moment one completes) or open loop at a fixed total rate, where every
// request is timed from its scheduled send time, as wrk2 does, so a stalled server cannot hide its stall
// by delaying the requests that would have measured it (coordinated omission).
// With Config.Threads N there are N such loops, each on its own thread with its own share of the
// connections, merged into one result (threads.go).
//
// Each connection's byte stream is a fixed pseudo-random pattern at a per-connection phase, so the echo
// can be checked byte for byte (Verify) and messages of any size (1 B to 1 MiB) need no copying: partial
// writes and reads just move a position in the pattern.
package loadgen

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ringbench/ringbench/internal/result"
)

// Limits on what one generator accepts. They are the limits of the echo-proxy flags (--msg-size, --conns,
// --idle-conns, --pipeline) wherever those are given: run, load.
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
	// Threads is how many generator threads share the connections, each with its own loop (0: 1); see
	// Generator.
	Threads int `json:"threads,omitempty"`
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
	if c.Threads == 0 {
		c.Threads = 1
	}
	if c.Threads < 1 || c.Threads > MaxThreads {
		return fmt.Errorf("--threads %d: want 1 to %d", c.Threads, MaxThreads)
	}
	if c.Threads > 1 && c.Conns+c.IdleConns < c.Threads {
		return fmt.Errorf("--threads %d: more threads than connections (%d)", c.Threads, c.Conns+c.IdleConns)
	}
	if c.Threads > 1 && c.Conns > 0 && c.Conns < c.Threads {
		return fmt.Errorf("--threads %d: more threads than --conns %d", c.Threads, c.Conns)
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
	// Unfinished counts open-loop requests due before the window closed that had not completed by then
	// (in flight, or not yet sent). Each is in the histogram, timed from its scheduled send time to the
	// window's end, so a stall at the end of a window shows in the tail; none is in Ops.
	Unfinished int64 `json:"unfinished,omitempty"`
	// ThreadCPUNs is the generator thread's CPU time; ProcessCPUNs the whole generator process (with the
	// upstream echo server when it runs there).
	ThreadCPUNs  uint64 `json:"thread_cpu_ns"`
	ProcessCPUNs uint64 `json:"process_cpu_ns"`
	// Engine is the I/O engine the generator ran on (epoll or uring).
	Engine string `json:"engine,omitempty"`
	// Error is why the run stopped early ("" when it ran to Stop).
	Error string `json:"error,omitempty"`
	// Threads are each generator thread's own figures (only with more than one thread); ThreadCPUNs is
	// then their sum.
	Threads []ThreadResult `json:"threads,omitempty"`
}

// ThreadResult is one generator thread's part of a Result.
type ThreadResult struct {
	Conns       int     `json:"conns"`
	Ops         int64   `json:"ops"`
	Seconds     float64 `json:"seconds"`
	ThreadCPUNs uint64  `json:"thread_cpu_ns"`
}

// Busy is the fraction of the window the thread spent on CPU.
func (t ThreadResult) Busy() float64 {
	if t.Seconds <= 0 {
		return 0
	}
	return float64(t.ThreadCPUNs) / (t.Seconds * 1e9)
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
