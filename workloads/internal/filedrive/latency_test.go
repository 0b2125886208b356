package filedrive

import (
	"context"
	"errors"
	"testing"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	_ "github.com/ringbench/ringbench/backends/epoll"
	_ "github.com/ringbench/ringbench/backends/gostd"
	_ "github.com/ringbench/ringbench/backends/sqpoll"
	_ "github.com/ringbench/ringbench/backends/uring"
)

// handOffDelay is how long slowHandOff holds each batch before passing it to the real engine.
const handOffDelay = 2 * time.Millisecond

// slowHandOff wraps a real engine and sleeps in Submit before handing the new requests over: a stand-in
// for an engine whose hand-off (a channel to a worker goroutine, a queue) is slow. The delay is part of
// what a request costs the caller, so it must show in the recorded latency whatever the engine stamps.
type slowHandOff struct{ backend.FileEngine }

func (s slowHandOff) Submit(reqs []backend.Request, minComplete int, out []backend.Completion) (int, error) {
	if len(reqs) > 0 {
		time.Sleep(handOffDelay)
	}
	return s.FileEngine.Submit(reqs, minComplete, out)
}

// fileSource reads 4 KiB blocks of one file in turn.
type fileSource struct{ blocks, next int64 }

func (s *fileSource) Fill(reqs []backend.Request) {
	for i := range reqs {
		reqs[i] = backend.Request{Kind: backend.OpRead, Len: 4096, Offset: (s.next % s.blocks) * 4096}
		s.next++
	}
}

func (s *fileSource) Check(_ *backend.Request, c *backend.Completion, _ []byte) error {
	return ResError("read", c.Res)
}

// TestLatencyIncludesTheHandOff drives every backend that runs here through slowHandOff, one request per
// batch: every request waits handOffDelay between the driver handing it over and the engine issuing it,
// so the median latency is at least handOffDelay (a lower bound: a busy machine only adds). An engine
// that stamped the request when it issued it (epoll around its pread, gostd in its worker) would record
// microseconds.
func TestLatencyIncludesTheHandOff(t *testing.T) {
	_, fd := openData(t, 64<<10)
	for _, b := range backend.All() {
		t.Run(b.Name(), func(t *testing.T) {
			if err := b.Available(); err != nil {
				if !errors.Is(err, backend.ErrNotSupported) {
					t.Fatal(err)
				}
				t.Skip(err)
			}
			tot := driveOneByOne(t, b, fd, func(eng backend.FileEngine) backend.FileEngine { return slowHandOff{eng} }, &fileSource{blocks: 16})
			if p50 := time.Duration(tot.Hist.ValueAtQuantile(50)); p50 < handOffDelay {
				t.Errorf("p50 %v over %d requests, each held %v in Submit before it was issued: the hand-off is not in the latency",
					p50, tot.Ops, handOffDelay)
			}
		})
	}
}

// slowFill is fileSource that takes fillDelay to make each batch: a stand-in for a workload whose requests
// take long to prepare.
type slowFill struct{ fileSource }

// fillDelay is how long slowFill takes to fill each batch.
const fillDelay = 2 * time.Millisecond

func (s *slowFill) Fill(reqs []backend.Request) {
	time.Sleep(fillDelay)
	s.fileSource.Fill(reqs)
}

// TestLatencyStartsWhenTheBatchIsMade: like fio's lat, a request's latency starts before the driver
// makes its batch (the hand-over stamp is the clock read that ended the previous Submit), so a Fill that
// takes fillDelay shows in every request's latency: the median is at least fillDelay. A stamp read just
// before Submit would leave the Fill out and record microseconds.
func TestLatencyStartsWhenTheBatchIsMade(t *testing.T) {
	_, fd := openData(t, 64<<10)
	b, err := backend.Lookup("epoll") // the driver stamps; any backend shows it
	if err != nil {
		t.Fatal(err)
	}
	tot := driveOneByOne(t, b, fd, func(eng backend.FileEngine) backend.FileEngine { return eng }, &slowFill{fileSource{blocks: 16}})
	if p50 := time.Duration(tot.Hist.ValueAtQuantile(50)); p50 < fillDelay {
		t.Errorf("%s: p50 %v over %d requests, each batch taking %v to fill: the making of the batch is not in the latency",
			b.Name(), p50, tot.Ops, fillDelay)
	}
}

// driveOneByOne drives a b engine over fd for 100 ms, one request per batch and two in flight, with src and
// the engine wrap makes of it, on a thread of its own; it fails the test unless a request completed.
func driveOneByOne(t *testing.T, b backend.Backend, fd int, wrap func(backend.FileEngine) backend.FileEngine, src Source) Totals {
	t.Helper()
	cfg := backend.FileConfig{Options: backend.Options{Depth: 2, Batch: 1, SQCPU: -1}, FDs: []int{fd}, BufSize: 4096}
	var tot Totals
	err := OnLockedThread(func(int) error {
		eng, err := b.NewFileEngine(cfg)
		if err != nil {
			return err
		}
		tot, err = Drive(context.Background(), wrap(eng), cfg.Options, 100*time.Millisecond, src)
		if cerr := eng.Close(); err == nil {
			err = cerr
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if tot.Ops == 0 {
		t.Fatal("no request completed")
	}
	return tot
}
