package loadgen

// The Generator: Config.Threads workers, each a thread with its own share of the connections and its own
// loop (epoll or io_uring), run as one. Connections are split evenly, the first Conns%Threads threads
// taking one more; idle connections likewise. In open loop every thread keeps the total rate and the same
// start and sends its connections' requests of the one-thread schedule (see schedule), so the rate is
// split in proportion to connections and every request is still timed from its scheduled send time.
// Results are merged: counts summed, histograms merged, the window the longest thread's.

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/ringbench/ringbench/internal/clock"
	"github.com/ringbench/ringbench/internal/fds"
	"github.com/ringbench/ringbench/internal/netutil"
	"github.com/ringbench/ringbench/internal/result"
)

// MaxThreads bounds Config.Threads.
const MaxThreads = 256

// Generator is a running load generator: Dial, Start, Mark, Stop, Close.
type Generator struct {
	cfg     Config
	workers []*worker
	conns   []int // active connections of each worker
	// failed is closed when a started run stops by itself (an error, or a limit) on any thread, before Stop.
	failed   chan struct{}
	failOnce sync.Once
	done     chan struct{}
	doneOnce sync.Once
}

// share is thread i's part of n split over threads: n/threads, plus one for the first n%threads threads.
func share(n, i, threads int) int {
	s := n / threads
	if i < n%threads {
		s++
	}
	return s
}

// Dial connects every connection of cfg (each idle one completes one echo of min(msg-size, 64) bytes
// first) and returns a generator ready to Start. Each of its Config.Threads threads is its own; cpus, when
// not empty, pins them.
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
	g := &Generator{cfg: cfg, failed: make(chan struct{}), done: make(chan struct{})}
	subs, scheds := split(cfg)
	for i, sub := range subs {
		w, err := dialWorker(sub, cpus, scheds[i])
		if err != nil {
			_ = g.Close()
			if cfg.Threads > 1 {
				err = fmt.Errorf("load generator thread %d of %d: %w", i+1, cfg.Threads, err)
			}
			return nil, err
		}
		g.workers = append(g.workers, w)
		g.conns = append(g.conns, sub.Conns)
	}
	return g, nil
}

// split is each thread's config (its share of the connections and of the request limit) and its place
// in the open-loop schedule.
func split(cfg Config) ([]Config, []schedule) {
	var subs []Config
	var scheds []schedule
	first := 0
	for i := 0; i < cfg.Threads; i++ {
		sub := cfg
		sub.Threads = 1
		sub.Conns = share(cfg.Conns, i, cfg.Threads)
		sub.IdleConns = share(cfg.IdleConns, i, cfg.Threads)
		sub.MaxRequests = max(share64(cfg.MaxRequests, i, cfg.Threads), 1)
		subs = append(subs, sub)
		scheds = append(scheds, schedule{first: first, all: cfg.Conns})
		first += sub.Conns
	}
	return subs, scheds
}

func share64(n int64, i, threads int) int64 {
	s := n / int64(threads)
	if int64(i) < n%int64(threads) {
		s++
	}
	return s
}

// Failed is closed when a started run has stopped by itself, on an error or a limit, before Stop: Stop
// then returns at once with the error.
func (g *Generator) Failed() <-chan struct{} { return g.failed }

// ThreadID is the generator's (first) OS thread.
func (g *Generator) ThreadID() int { return g.workers[0].tid }

// ThreadIDs are the generator's OS threads.
func (g *Generator) ThreadIDs() []int {
	out := make([]int, len(g.workers))
	for i, w := range g.workers {
		out[i] = w.tid
	}
	return out
}

// ThreadConns are the active connections each thread carries.
func (g *Generator) ThreadConns() []int { return append([]int(nil), g.conns...) }

// Start begins sending load on every thread, with one open-loop schedule start. The generator stops by
// itself, with an error, if Stop has not come within limit (it is bounded in time as well as by
// Config.MaxRequests).
func (g *Generator) Start(limit time.Duration) error {
	at := clock.Now()
	for _, w := range g.workers {
		if err := w.Start(limit, at); err != nil {
			return err
		}
		go func() {
			select {
			case <-w.failed:
				g.failOnce.Do(func() { close(g.failed) })
			case <-g.done:
			}
		}()
	}
	return nil
}

// Mark starts the measured window: counts and the histogram start from zero.
func (g *Generator) Mark() error {
	for _, w := range g.workers {
		if err := w.Mark(); err != nil {
			return err
		}
	}
	return nil
}

// Stop ends the window and the load, and returns what was measured since Mark, merged over the threads.
// An error means the run failed (the result still holds what was measured up to the failure).
func (g *Generator) Stop() (Result, error) {
	rs := make([]Result, len(g.workers))
	var errs []error
	for i, w := range g.workers {
		r, err := w.Stop()
		rs[i] = r
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(rs) == 1 {
		return rs[0], errors.Join(errs...)
	}
	m, err := merge(rs, g.conns)
	return m, errors.Join(append(errs, err)...)
}

// Close closes every connection and ends the generator's threads.
func (g *Generator) Close() error {
	for _, w := range g.workers {
		_ = w.Close()
	}
	g.doneOnce.Do(func() { close(g.done) })
	return nil
}

// merge combines the threads' results: counts and CPU summed, the histograms merged, Seconds and the
// process CPU the longest window's; Threads has each thread's own figures.
func merge(rs []Result, conns []int) (Result, error) {
	var out Result
	var h *hdrhistogram.Histogram
	var errText []string
	for i, r := range rs {
		out.Ops += r.Ops
		out.Bytes += r.Bytes
		out.Late += r.Late
		out.Unfinished += r.Unfinished
		out.ThreadCPUNs += r.ThreadCPUNs
		out.Corrected = out.Corrected || r.Corrected
		if r.Seconds > out.Seconds {
			out.Seconds, out.ProcessCPUNs = r.Seconds, r.ProcessCPUNs
		}
		if !strings.Contains(out.Engine, r.Engine) {
			if out.Engine != "" {
				out.Engine += "+"
			}
			out.Engine += r.Engine
		}
		if r.Error != "" {
			errText = append(errText, fmt.Sprintf("thread %d: %s", i+1, r.Error))
		}
		out.Threads = append(out.Threads, ThreadResult{Conns: conns[i], Ops: r.Ops, Seconds: r.Seconds, ThreadCPUNs: r.ThreadCPUNs})
		if r.Histogram == "" {
			continue
		}
		th, err := result.DecodeHistogram(r.Histogram)
		if err != nil {
			return out, fmt.Errorf("load generator thread %d: histogram: %w", i+1, err)
		}
		if h == nil {
			h = result.NewHistogram()
		}
		if dropped := h.Merge(th); dropped != 0 {
			return out, fmt.Errorf("load generator thread %d: %d latencies outside the histogram", i+1, dropped)
		}
	}
	out.Error = strings.Join(errText, "; ")
	if h != nil {
		enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			return out, fmt.Errorf("load generator: histogram: %w", err)
		}
		out.Histogram = string(enc)
	}
	return out, nil
}
