package measure

import (
	"os"
	"strings"
	"testing"

	"github.com/ringbench/ringbench/internal/perfcount"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/testsupport"
)

// window measures n reads of /proc/self/stat with m and returns the sample.
func window(t *testing.T, m *Meter, n int) result.Sample {
	t.Helper()
	sp, err := m.Begin(Scope{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	for i := 0; i < n; i++ {
		if _, err := os.ReadFile("/proc/self/stat"); err != nil {
			t.Fatal(err)
		}
	}
	var s result.Sample
	if err := sp.End(int64(n), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMeterWithoutSyscallCountingSaysWhy(t *testing.T) {
	m := New(Options{CountSyscalls: false, Hold: true})
	defer m.Close()
	s := window(t, m, 10)
	if s.Syscalls.Available || !strings.Contains(s.Syscalls.Reason, "--count-syscalls=false") {
		t.Errorf("syscalls %+v, want unavailable naming --count-syscalls=false", s.Syscalls)
	}
	if !s.ContextSwitches.Available {
		t.Errorf("context switches unavailable: %+v", s.ContextSwitches)
	}
}

// TestHeldMeterCountsEachWindowAndClosesOnce: with Hold, windows share the Meter's counters (no counter
// opened or closed per window) and each is charged its own syscalls; Close releases the counters.
func TestHeldMeterCountsEachWindowAndClosesOnce(t *testing.T) {
	if c, err := perfcount.Open(perfcount.DefaultBreakdown); err != nil {
		t.Skipf("the kernel will not count syscalls here: %v", err)
	} else {
		c.Close()
	}
	base := testsupport.OpenFDs(t)
	m := New(Options{CountSyscalls: true, Hold: true})
	held := testsupport.OpenFDs(t)
	if held <= base {
		t.Fatalf("Hold opened no counter: %d descriptors before, %d after", base, held)
	}
	for _, n := range []int{100, 1000} {
		s := window(t, m, n)
		if !s.Syscalls.Available {
			t.Fatalf("%d reads: syscalls unavailable: %s", n, s.Syscalls.Reason)
		}
		// Each read of a file is at least openat, read, close.
		if s.Syscalls.Total < uint64(3*n) || s.Syscalls.PerOp < 3 {
			t.Errorf("%d reads: %d syscalls (%.2f per op), want at least 3 per read", n, s.Syscalls.Total, s.Syscalls.PerOp)
		}
		if now := testsupport.OpenFDs(t); now != held {
			t.Errorf("a window left %d descriptors open, want %d (the held counters only)", now, held)
		}
	}
	m.Close()
	if now := testsupport.OpenFDs(t); now != base {
		t.Errorf("after Close %d descriptors open, want %d", now, base)
	}
	// Closed, the Meter still measures, opening counters per window.
	if s := window(t, m, 10); !s.Syscalls.Available {
		t.Errorf("after Close: syscalls unavailable: %s", s.Syscalls.Reason)
	}
}
