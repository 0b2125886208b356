// Package filedrive is the one request loop that file workloads run on every backend: keep --depth
// requests in flight, hand the engine --batch new ones at a time, and reap what completed. It allocates
// nothing per request and reads the clock once per Submit call, just after Submit returns with its
// completions.
//
// Latency is the driver's to stamp, the same for every backend and measured like fio's latency `lat`
// (its slat + clat, which starts when fio takes a request to prepare it): from the clock read that
// ended the driver's previous Submit call, after which it makes the next batch (it reaps the completions
// that call returned, fills and hands over the new requests), to the clock read after the Submit that
// returned the request's completion. It therefore includes the driver's own work on the batch (tens of
// nanoseconds a request), whatever an engine does between accepting a request and issuing it (a
// goroutine hand-off, the earlier requests of a synchronous batch) and the wait until the driver reaps.
// One read per Submit rather than a second one just before it: at --batch 1 a clock read is a few
// percent of a page-cache read's CPU.
//
// NewWorkload makes a file workload of what is its own (a Spec: its defaults, checks, what it opens and
// the requests it makes); the rest (the flags every file workload reads, its data set, the page cache,
// --mlock, a sample's common params) is done here, once.
package filedrive

import (
	"context"
	"fmt"
	"runtime"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/clock"
	"github.com/ringbench/ringbench/internal/interval"
	"github.com/ringbench/ringbench/internal/result"
	"golang.org/x/sys/unix"
)

// Source fills requests. Fill sets everything but Buf and Tag in reqs[i] (the driver assigns buffer
// slots); it is called once per batch, never per request.
type Source interface {
	Fill(reqs []backend.Request)
	// Check inspects one completion and the request it answers (ops and bytes are counted by the driver
	// only when Check returns nil): it verifies content under --verify, and rejects short or failed I/O.
	Check(req *backend.Request, c *backend.Completion, buf []byte) error
}

// Totals is what one drive measured.
type Totals struct {
	Ops, Bytes int64
	Seconds    float64
	Hist       *hdrhistogram.Histogram
	// Intervals are the drive as a time series (DriveEvery); nil when not asked for.
	Intervals []result.Interval
}

// Drive runs the loop on eng for d (or until ctx ends), then drains requests in flight. It must run on the
// goroutine that created eng.
func Drive(ctx context.Context, eng backend.FileEngine, opts backend.Options, d time.Duration, src Source) (Totals, error) {
	return DriveEvery(ctx, eng, opts, d, 0, src)
}

// DriveEvery is Drive that also records ops and p99 in each interval of length every (0: none); see
// package interval. It uses the clock readings the loop takes anyway.
func DriveEvery(ctx context.Context, eng backend.FileEngine, opts backend.Options, d, every time.Duration, src Source) (Totals, error) {
	depth, batch := opts.Depth, opts.Batch
	free := make([]int32, depth)
	for i := range free {
		free[i] = int32(depth - 1 - i)
	}
	pending := make([]backend.Request, depth) // by buffer slot: the request each slot serves
	handed := make([]int64, depth)            // by buffer slot: its request's hand-over stamp
	reqs := make([]backend.Request, batch)
	out := make([]backend.Completion, depth)
	bufs := make([][]byte, depth) // eng.Buffer(i), valid until Close: no interface call per completion
	for i := range bufs {
		bufs[i] = eng.Buffer(i)
	}
	hist := result.NewHistogram()

	var tot Totals
	inflight := 0
	start := clock.Now()
	deadline := start + int64(d)
	series := interval.New(start, every, d)
	stopping := false
	var firstErr error
	done := ctx.Done() // polled every batch: a non-blocking receive takes no lock, so an interrupt stops the next batch
	reaped := start    // the clock read after the last Submit: the next batch's hand-over stamp; it also decides when to stop
	for {
		if !stopping && (reaped >= deadline || firstErr != nil || closed(done)) {
			stopping = true
		}
		k := 0
		if !stopping {
			k = min(batch, len(free))
		}
		if k > 0 {
			src.Fill(reqs[:k])
			for i := 0; i < k; i++ {
				slot := free[len(free)-1]
				free = free[:len(free)-1]
				// Copy first, then set the slot in both: reading reqs[i] whole right after storing two of
				// its fields defeats store forwarding, a stall per request.
				pending[slot] = reqs[i]
				pending[slot].Buf, pending[slot].Tag = slot, uint64(slot)
				reqs[i].Buf, reqs[i].Tag = slot, uint64(slot)
			}
		}
		after := inflight + k
		// Wait for enough completions that the next batch fits; when stopping, drain everything.
		minComplete := after - (depth - batch)
		if stopping {
			minComplete = after
		}
		minComplete = max(minComplete, 0)
		if k == 0 && minComplete == 0 {
			if after == 0 {
				break
			}
			minComplete = 1
		}
		for i := 0; i < k; i++ {
			handed[reqs[i].Buf] = reaped
		}
		n, err := eng.Submit(reqs[:k], minComplete, out)
		reaped = clock.Now()
		if err != nil {
			return tot, err
		}
		inflight = after - n
		if series != nil {
			series.At(reaped)
		}
		for i := 0; i < n; i++ {
			c := &out[i]
			req := &pending[c.Buf]
			if cerr := src.Check(req, c, bufs[c.Buf]); cerr != nil {
				if firstErr == nil {
					firstErr = cerr
				}
			} else {
				tot.Ops++
				tot.Bytes += int64(c.Res)
				lat := max(reaped-handed[c.Buf], 1)
				_ = hist.RecordValue(lat)
				if series != nil {
					series.Record(lat)
				}
			}
			free = append(free, c.Buf)
		}
		if stopping && inflight == 0 {
			break
		}
	}
	tot.Seconds = float64(reaped-start) / 1e9
	tot.Hist = hist
	tot.Intervals = series.Finish(reaped)
	if firstErr != nil {
		return tot, firstErr
	}
	return tot, nil
}

// closed reports whether done (a context's Done channel, nil for one that never ends) is closed.
func closed(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// OnLockedThread runs f on a new goroutine locked to its own OS thread and returns its result. The thread
// is discarded afterwards (the goroutine exits while still locked), so rings bound to it cannot leak to
// other goroutines.
func OnLockedThread(f func(tid int) error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic on worker thread: %v", r)
			}
		}()
		done <- f(unix.Gettid())
	}()
	return <-done
}

// ResError turns a negative completion result into an error naming what failed.
func ResError(what string, res int32) error {
	if res >= 0 {
		return nil
	}
	return fmt.Errorf("%s: %w", what, unix.Errno(-res))
}
