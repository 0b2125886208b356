package measure

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/ringbench/ringbench/internal/perfcount"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/ring"
)

// ringWindow measures n NOPs submitted on a fresh ring with m over scope and returns the sample.
func ringWindow(t *testing.T, m *Meter, scope Scope, n int) result.Sample {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := ring.New(ring.Params{Entries: 64})
	if err != nil {
		if errors.Is(err, ring.ErrNotSupported) {
			t.Skipf("no io_uring here: %v", err)
		}
		t.Fatal(err)
	}
	defer r.Close()
	sp, err := m.Begin(scope)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	cqes := make([]ring.CQE, 64)
	for done := 0; done < n; {
		k := min(n-done, 32)
		for range k {
			ring.Nop{}.Prep(r.GetSQE())
		}
		if _, err := r.SubmitAndWait(uint32(k)); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < k; {
			got += r.Reap(cqes[got:k])
		}
		done += k
	}
	s := result.Sample{Ops: int64(n)}
	if err := sp.End(int64(n), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func requireRingCounting(t *testing.T) {
	t.Helper()
	c, err := perfcount.Open(nil, perfcount.WithTracepoints(perfcount.RingTracepoints...))
	if err != nil {
		t.Skipf("the kernel will not count here: %v", err)
	}
	defer c.Close()
	r, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	for tp, why := range r.TracepointUnavailable {
		t.Skipf("%s cannot be counted here: %s", tp, why)
	}
}

// TestRingEventsOfARingScope: a window over an io_uring backend (Scope.Ring) counts each submitted request,
// held counter or not; one over any other backend has no RingEvents at all, and neither has an uncounted one.
func TestRingEventsOfARingScope(t *testing.T) {
	requireRingCounting(t)
	const n = 200
	for _, hold := range []bool{true, false} {
		m := New(Options{CountSyscalls: true, Hold: hold})
		s := ringWindow(t, m, Scope{Ring: true}, n)
		re := s.RingEvents
		if re == nil || !re.Available {
			t.Fatalf("hold=%v: ring events %+v, want counted", hold, re)
		}
		if re.Submitted != n || re.AsyncPunts != 0 || re.CQOverflows != 0 {
			t.Errorf("hold=%v: %+v, want exactly %d submitted, no punts or overflows", hold, *re, n)
		}
		if v, ok := s.RingEventPerOp(func(r *result.RingEvents) uint64 { return r.Submitted }); !ok || v != 1 {
			t.Errorf("hold=%v: submitted/op %v (%v), want 1", hold, v, ok)
		}
		if s := ringWindow(t, m, Scope{}, n); s.RingEvents != nil {
			t.Errorf("hold=%v: a scope without Ring has ring events %+v", hold, *s.RingEvents)
		}
		m.Close()
	}
	off := New(Options{})
	defer off.Close()
	if s := ringWindow(t, off, Scope{Ring: true}, n); s.RingEvents != nil {
		t.Errorf("a sample not counted has ring events %+v; want none (timed samples open no counter)", *s.RingEvents)
	}
}

// TestRingEventsUnavailableSaysWhy: a counter that failed, or a tracepoint the kernel would not count, gives
// Available false and the reason, never zeros that read as "none happened".
func TestRingEventsUnavailableSaysWhy(t *testing.T) {
	re := ringEvents(false, errors.New("perf_event_open denied"), perfcount.Reading{})
	if re.Available || !strings.Contains(re.Reason, "denied") {
		t.Errorf("failed counter: %+v", *re)
	}
	d := perfcount.Reading{Tracepoints: map[string]uint64{}, TracepointUnavailable: map[string]string{}}
	for _, tp := range perfcount.RingTracepoints {
		d.Tracepoints[tp] = 7
	}
	delete(d.Tracepoints, "io_uring:io_uring_poll_arm")
	d.TracepointUnavailable["io_uring:io_uring_poll_arm"] = "tracepoint does not exist"
	re = ringEvents(true, nil, d)
	if re.Available || !strings.Contains(re.Reason, "io_uring_poll_arm: tracepoint does not exist") || re.Submitted != 0 {
		t.Errorf("missing tracepoint: %+v", *re)
	}
	delete(d.TracepointUnavailable, "io_uring:io_uring_poll_arm")
	if re = ringEvents(true, nil, d); re.Available || re.Reason == "" {
		t.Errorf("tracepoint absent from the reading: %+v", *re)
	}
}

// TestRingEventsPuntsAndWorkerCPU: n reads flagged IOSQE_ASYNC are n punts to io-wq in the sample's ring
// events, and the io-wq workers' CPU (CPU.WorkerNs) is part of the sample's CPU per op.
func TestRingEventsPuntsAndWorkerCPU(t *testing.T) {
	requireRingCounting(t)
	const n, size = 64, 256 << 10
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, size)
	m := New(Options{CountSyscalls: true, Hold: true})
	defer m.Close()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := ring.New(ring.Params{Entries: 8})
	if err != nil {
		t.Skipf("no io_uring here: %v", err)
	}
	defer r.Close()
	sp, err := m.Begin(Scope{Ring: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	cqe := make([]ring.CQE, 1)
	for range n {
		s := r.GetSQE()
		ring.Read{FD: int32(f.Fd()), Buf: unsafe.Pointer(&buf[0]), Len: size}.Prep(s)
		s.SetFlags(ring.FlagAsync)
		if _, err := r.SubmitAndWait(1); err != nil {
			t.Fatal(err)
		}
		for r.Reap(cqe) == 0 {
		}
		if err := cqe[0].Err(); err != nil {
			t.Fatal(err)
		}
	}
	s := result.Sample{Ops: n}
	if err := sp.End(n, &s); err != nil {
		t.Fatal(err)
	}
	t.Logf("ring events %+v; CPU %+v", *s.RingEvents, s.CPU)
	if re := s.RingEvents; !re.Available || re.Submitted != n || re.AsyncPunts != n {
		t.Errorf("ring events %+v, want exactly %d submitted and %d punted", *re, n, n)
	}
	if s.CPU.WorkerNs == 0 || float64(s.CPU.WorkerNs) > s.CPU.PerOpNs*n {
		t.Errorf("worker CPU %d ns, CPU %.0f ns/op over %d ops: want the workers' CPU inside CPU/op", s.CPU.WorkerNs, s.CPU.PerOpNs, n)
	}
}
