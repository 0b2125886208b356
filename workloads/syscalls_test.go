package workloads_test

import (
	"context"
	"testing"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/testsupport"
	"github.com/ringbench/ringbench/workloads"
)

// TestSyscallsCountTheIOWherever: a small-file read is one pread64, and a counted sample must see every
// one of them, whichever thread made it. epoll reads on the loop's own thread, which is counted apart;
// gostd reads in worker goroutines on any of Go's threads, so its figure must be the whole process's.
func TestSyscallsCountTheIOWherever(t *testing.T) {
	ctx := context.Background()
	p, err := lookup(t, "small-file").Prepare(ctx, fileConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, tc := range []struct {
		backend   string
		ownThread bool
	}{{"epoll", true}, {"gostd", false}} {
		b := testsupport.Lookup(t, backend.Lookup, tc.backend)
		s, err := sampleSome(ctx, t, p, workloads.SampleSpec{Meter: meter, Backend: b, Duration: sampleDuration, Repeat: 1})
		if err != nil {
			t.Fatalf("%s: %v", tc.backend, err)
		}
		if !s.Syscalls.Available {
			t.Skipf("syscall counting unavailable here (needs root or perf_event_paranoid <= 1): %s", s.Syscalls.Reason)
		}
		byName := s.Syscalls.ByName
		if tc.ownThread {
			if s.Syscalls.Backend == nil {
				t.Fatalf("%s: the loop's thread was not counted apart", tc.backend)
			}
			byName = s.Syscalls.Backend.ByName
		} else if s.Syscalls.Backend != nil {
			t.Errorf("%s: counted apart on the loop's thread, which makes none of its reads", tc.backend)
		}
		if got := byName["pread64"]; got < uint64(s.Ops) {
			t.Errorf("%s: %d pread64 counted for %d reads", tc.backend, got, s.Ops)
		}
	}
}
