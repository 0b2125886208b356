package series

import (
	"testing"

	"github.com/ringbench/ringbench/internal/result"
)

// TestMetricsComeFromTheKindThatMeasuresThem: timing figures from timed samples only, syscall figures from
// counted ones only; samples without a kind (older files) give both.
func TestMetricsComeFromTheKindThatMeasuresThem(t *testing.T) {
	mk := func(kind string, ops, perOp, ioPerOp float64) result.Sample {
		return result.Sample{Workload: "w", Backend: "b", Kind: kind, Seconds: 1, Ops: int64(ops), OpsPerSec: ops, EntersPerOp: -1,
			Syscalls: result.Syscalls{Available: kind != result.KindTimed, PerOp: perOp, Total: uint64(perOp * ops),
				Backend: &result.SyscallCount{PerOp: ioPerOp, Total: uint64(ioPerOp * ops)}}}
	}
	ss := Samples([]result.Sample{
		mk(result.KindTimed, 1000, 0, 0),
		mk(result.KindCounted, 700, 1.5, 1.0),
		mk(result.KindTimed, 1200, 0, 0),
		mk(result.KindCounted, 600, 1.6, 1.0),
	})
	if len(ss) != 1 {
		t.Fatalf("%d series", len(ss))
	}
	s := ss[0]
	if got := s.Values(OfName("ops/s")); len(got) != 2 || got[0] != 1000 || got[1] != 1200 {
		t.Errorf("ops/s %v, want the timed samples' 1000 and 1200", got)
	}
	if got := s.Values(OfName("syscalls/op")); len(got) != 2 || got[0] != 1 || got[1] != 1 {
		t.Errorf("syscalls/op %v, want the counted samples' I/O thread figure 1 and 1", got)
	}
	if got := s.Values(OfName("other-syscalls/s")); len(got) != 2 || got[0] != 350 || got[1] != 360 {
		t.Errorf("other-syscalls/s %v, want 350 and 360", got)
	}
	if len(s.Timed()) != 2 || len(s.Counted()) != 2 {
		t.Errorf("%d timed, %d counted", len(s.Timed()), len(s.Counted()))
	}
	old := Samples([]result.Sample{{Workload: "w", Backend: "b", Seconds: 1, Ops: 10, OpsPerSec: 10,
		Syscalls: result.Syscalls{Available: true, PerOp: 2, Total: 20}}})[0]
	if got := old.Values(OfName("ops/s")); len(got) != 1 || got[0] != 10 {
		t.Errorf("old sample ops/s %v", got)
	}
	if got := old.Values(OfName("syscalls/op")); len(got) != 1 || got[0] != 2 {
		t.Errorf("old sample syscalls/op %v, want the process's 2 (no I/O thread counted apart)", got)
	}
}
