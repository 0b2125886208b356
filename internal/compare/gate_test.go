package compare

import (
	"path/filepath"
	"testing"

	"github.com/ringbench/ringbench/internal/result"
)

// The CI gate's options (scripts/ci-regression.sh): the ordering rule at 5% and GateMinAbsChange.
func gateOptions() Options {
	o := DefaultOptions()
	o.Metrics = []string{"syscalls/op", "enters/op"}
	o.MinAbsChange = GateMinAbsChange
	return o
}

// baselineSamples are the committed CI baseline's counted samples of one series, with their real spread.
func baselineSamples(t *testing.T, workload, backend string) []result.Sample {
	t.Helper()
	f, err := result.Load(filepath.Join("..", "..", "results", "baseline-ci.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []result.Sample
	for _, s := range f.Samples {
		if s.Workload == workload && s.Backend == backend && s.Counted() {
			if s.Syscalls.Backend == nil || !s.Syscalls.Available || s.EntersPerOp < 0 {
				t.Fatalf("baseline sample %s/%s %d: no I/O-thread count or enters", workload, backend, s.Repeat)
			}
			out = append(out, s)
		}
	}
	if len(out) < MinSamplesOrdering {
		t.Fatalf("baseline has %d counted samples of %s/%s", len(out), workload, backend)
	}
	return out
}

// rebuilt is s with ops and the I/O thread's and the whole process's syscall totals replaced.
func rebuilt(s result.Sample, ops int64, ioTotal, procTotal uint64) result.Sample {
	s.Ops = ops
	s.OpsPerSec = float64(ops) / s.Seconds
	b := *s.Syscalls.Backend
	b.Total, b.PerOp, b.ByName = ioTotal, float64(ioTotal)/float64(ops), nil
	s.Syscalls.Backend = &b
	s.Syscalls.Total, s.Syscalls.PerOp, s.Syscalls.ByName = procTotal, float64(procTotal)/float64(ops), nil
	return s
}

// TestGateIgnoresASlowerMachine: the same build on a machine 3x slower makes a third of the ops in the same
// time. Its io_uring_enter calls per op do not change; the syscalls its threads make per second (the Go
// runtime's futex, signals; the I/O thread's share of them too) stay as many per sample, so per op they
// triple. The whole process's syscalls/op then rise (beyond the baseline's range when the baseline machine
// was quiet: the gate once read that figure); the I/O thread's, the figure the gate reads now, barely do.
func TestGateIgnoresASlowerMachine(t *testing.T) {
	for _, w := range []string{"small-file", "many-file"} {
		base := baselineSamples(t, w, "uring")
		var slow []result.Sample
		var bmax, nmin float64
		for i, s := range base {
			enters := uint64(s.EntersPerOp*float64(s.Ops) + 0.5)
			ops := s.Ops / 3
			newEnters := uint64(s.EntersPerOp*float64(ops) + 0.5)
			ioTotal := s.Syscalls.Backend.Total - enters + newEnters // the thread's background, same count
			procTotal := ioTotal + (s.Syscalls.Total - s.Syscalls.Backend.Total)
			n := rebuilt(s, ops, ioTotal, procTotal)
			n.EntersPerOp = float64(newEnters) / float64(ops)
			slow = append(slow, n)
			if i == 0 || s.Syscalls.PerOp > bmax {
				bmax = s.Syscalls.PerOp
			}
			if i == 0 || n.Syscalls.PerOp < nmin {
				nmin = n.Syscalls.PerOp
			}
		}
		t.Logf("%s: the whole process's syscalls/op, baseline max %.5f, 3x slower min %.5f", w, bmax, nmin)
		r := mustCompare(t, []*Set{set("base", base), set("slow", slow)}, gateOptions())
		for _, m := range []string{"syscalls/op", "enters/op"} {
			if c := cell(t, r, m, w+"/uring"); c.Verdict != NoChange {
				t.Errorf("%s %s on a 3x slower machine: %s (%s)", w, m, c.Verdict, c.Reason)
			}
		}
	}
}

// TestGateFlagsOneSyscallPer100Ops: one more syscall per 100 ops on uring small-file's I/O thread (an extra
// enter every 100 reads, say) is a regression, against the baseline's real spread.
func TestGateFlagsOneSyscallPer100Ops(t *testing.T) {
	base := baselineSamples(t, "small-file", "uring")
	var worse []result.Sample
	for _, s := range base {
		extra := uint64(s.Ops / 100)
		worse = append(worse, rebuilt(s, s.Ops, s.Syscalls.Backend.Total+extra, s.Syscalls.Total+extra))
	}
	r := mustCompare(t, []*Set{set("base", base), set("new", worse)}, gateOptions())
	if c := cell(t, r, "syscalls/op", "small-file/uring"); c.Verdict != Regression {
		t.Errorf("one more syscall per 100 ops: %s (%s)", c.Verdict, c.Reason)
	}
	if r.Regressions != 1 {
		t.Errorf("%d regressions, want 1 (syscalls/op only)", r.Regressions)
	}
}
