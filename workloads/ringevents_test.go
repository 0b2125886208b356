package workloads_test

import (
	"context"
	"testing"

	"github.com/ringbench/ringbench/workloads"
)

// TestRingEventsOnlyForRingBackends: a counted small-file sample on an io_uring backend counts io_uring's own
// tracepoints, every read one submitted request (sqpoll's submitted on its poll thread, a thread of this
// process), while epoll and gostd samples carry no ring events at all; the same for the echo-proxy server.
func TestRingEventsOnlyForRingBackends(t *testing.T) {
	t.Run("small-file", func(t *testing.T) { checkRingEvents(t, "small-file", fileConfig(), 1) })
	t.Run("echo", func(t *testing.T) { checkRingEvents(t, "echo-proxy", echoConfig("echo"), 0) })
}

// checkRingEvents samples workload w on every backend and wants ring events exactly on those with a ring,
// at least minPerOp submitted requests per op and some.
func checkRingEvents(t *testing.T, w string, cfg workloads.Config, minPerOp uint64) {
	ctx := context.Background()
	p, err := lookup(t, w).Prepare(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, b := range runnable(t) {
		s, err := sampleSome(ctx, t, p, workloads.SampleSpec{Meter: meter, Backend: b, Duration: sampleDuration, Repeat: 1})
		if err != nil {
			t.Fatalf("%s: %v", b.Name(), err)
		}
		re := s.RingEvents
		if s.EntersPerOp < 0 {
			if re != nil {
				t.Errorf("%s has no ring but its sample has ring events %+v", b.Name(), *re)
			}
			continue
		}
		if re == nil {
			t.Fatalf("%s: io_uring backend without ring events", b.Name())
		}
		if !re.Available {
			if !s.Syscalls.Available {
				t.Skipf("counting unavailable here: %s", re.Reason)
			}
			t.Fatalf("%s: syscalls counted but ring events not: %s", b.Name(), re.Reason)
		}
		t.Logf("%s: %d ops, %+v", b.Name(), s.Ops, *re)
		if s.Ops == 0 || re.Submitted == 0 || re.Submitted < minPerOp*uint64(s.Ops) {
			t.Errorf("%s: %d requests submitted for %d ops, want at least %d each", b.Name(), re.Submitted, s.Ops, minPerOp)
		}
	}
}
