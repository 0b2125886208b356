package filedrive

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	backend "github.com/ringbench/ringbench/backends"
)

// fakeEngine completes every request at once, and records what each Submit was handed.
type fakeEngine struct {
	bufs     [][]byte
	inflight []backend.Request
	submits  []int // new requests per Submit call
	// onSubmit, when set, runs at the start of Submit call n (0-based).
	onSubmit func(n int)
}

func newFakeEngine(depth int) *fakeEngine {
	e := &fakeEngine{}
	for range depth {
		e.bufs = append(e.bufs, make([]byte, 16))
	}
	return e
}

func (e *fakeEngine) Buffer(i int) []byte { return e.bufs[i] }

func (e *fakeEngine) Submit(reqs []backend.Request, minComplete int, out []backend.Completion) (int, error) {
	if e.onSubmit != nil {
		e.onSubmit(len(e.submits))
	}
	e.submits = append(e.submits, len(reqs))
	e.inflight = append(e.inflight, reqs...)
	if minComplete > len(e.inflight) {
		return 0, errors.New("fake engine: minComplete exceeds requests in flight")
	}
	n := copy(out, make([]backend.Completion, len(e.inflight)))
	for i, r := range e.inflight[:n] {
		out[i] = backend.Completion{Tag: r.Tag, Res: r.Len, Buf: r.Buf}
	}
	e.inflight = e.inflight[n:]
	return n, nil
}

func (e *fakeEngine) Counters() backend.EngineCounters { return backend.EngineCounters{Enters: -1} }
func (e *fakeEngine) Close() error                     { return nil }

// fakeSource hands out reads of 16 bytes and accepts every completion.
type fakeSource struct{ bad int }

func (s *fakeSource) Fill(reqs []backend.Request) {
	for i := range reqs {
		reqs[i] = backend.Request{Kind: backend.OpRead, Len: 16}
	}
}

func (s *fakeSource) Check(_ *backend.Request, c *backend.Completion, _ []byte) error {
	if s.bad > 0 {
		s.bad--
		if s.bad == 0 {
			return errors.New("bad block")
		}
	}
	return nil
}

// TestDriveStopsAtTheNextBatchAfterCancel cancels the context from inside Submit call 10 of a drive meant to
// last an hour: the very next iteration must submit nothing new and only drain what is in flight.
func TestDriveStopsAtTheNextBatchAfterCancel(t *testing.T) {
	opts := backend.Options{Depth: 8, Batch: 4}
	eng := newFakeEngine(opts.Depth)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const cancelAt = 10
	eng.onSubmit = func(n int) {
		if n == cancelAt {
			cancel()
		}
	}
	tot, err := Drive(ctx, eng, opts, time.Hour, &fakeSource{})
	if err != nil {
		t.Fatal(err)
	}
	if len(eng.submits) <= cancelAt {
		t.Fatalf("drive stopped before the cancel: %d submits", len(eng.submits))
	}
	for i, k := range eng.submits[cancelAt+1:] {
		if k != 0 {
			t.Fatalf("submit %d after the cancel issued %d new requests (submits: %v)", cancelAt+1+i, k, eng.submits)
		}
	}
	if len(eng.inflight) != 0 {
		t.Errorf("%d requests left in flight", len(eng.inflight))
	}
	var issued int64
	for _, k := range eng.submits {
		issued += int64(k)
	}
	if tot.Ops != issued || tot.Hist.TotalCount() != issued {
		t.Errorf("ops %d, histogram %d, issued %d: every issued request must be reaped and counted", tot.Ops, tot.Hist.TotalCount(), issued)
	}
}

// TestDriveStopsOnACheckError stops issuing after the first bad completion, drains, and returns the error.
func TestDriveStopsOnACheckError(t *testing.T) {
	opts := backend.Options{Depth: 4, Batch: 2}
	eng := newFakeEngine(opts.Depth)
	tot, err := Drive(context.Background(), eng, opts, time.Hour, &fakeSource{bad: 7})
	if err == nil || err.Error() != "bad block" {
		t.Fatalf("err = %v, want the check's error", err)
	}
	if len(eng.inflight) != 0 {
		t.Errorf("%d requests left in flight", len(eng.inflight))
	}
	// The fake completes each batch of 2 at once, so the bad 7th completion arrives from the 4th Submit.
	if fmt.Sprint(eng.submits) != "[2 2 2 2]" {
		t.Errorf("submits %v, want [2 2 2 2]: nothing new after the bad completion", eng.submits)
	}
	if tot.Ops != 7 {
		t.Errorf("ops %d, want 7: every completion but the bad one counts", tot.Ops)
	}
}

// echoEngine completes every request inside the Submit that hands it over, allocating nothing; it cancels
// its context at Submit call stopAt.
type echoEngine struct {
	calls, stopAt int
	cancel        func()
	buf           []byte
}

func (e *echoEngine) Buffer(int) []byte { return e.buf }

func (e *echoEngine) Submit(reqs []backend.Request, _ int, out []backend.Completion) (int, error) {
	e.calls++
	if e.calls == e.stopAt {
		e.cancel()
	}
	for i := range reqs {
		out[i] = backend.Completion{Tag: reqs[i].Tag, Res: reqs[i].Len, Buf: reqs[i].Buf}
	}
	return len(reqs), nil
}

func (e *echoEngine) Counters() backend.EngineCounters { return backend.EngineCounters{Enters: -1} }
func (e *echoEngine) Close() error                     { return nil }

// TestDriveAllocatesNothingPerRequest drives 10 and 20000 batches: the allocations (the loop's own slices,
// its histogram, the context, the interval slots) must be the same, so none of them is per request or per
// batch. The margin of 2 is for the runtime's own occasional allocation; one per batch would add 20000.
func TestDriveAllocatesNothingPerRequest(t *testing.T) {
	opts := backend.Options{Depth: 8, Batch: 4}
	for _, every := range []time.Duration{0, time.Millisecond} {
		allocs := func(batches int) float64 {
			return testing.AllocsPerRun(5, func() {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				eng := &echoEngine{stopAt: batches, cancel: cancel, buf: make([]byte, 16)}
				if _, err := DriveEvery(ctx, eng, opts, time.Hour, every, &fakeSource{}); err != nil {
					t.Fatal(err)
				}
			})
		}
		if few, many := allocs(10), allocs(20000); many > few+2 {
			t.Fatalf("interval %v: %v allocations for 10 batches, %v for 20000: the loop allocates per batch or per request",
				every, few, many)
		}
	}
}
