package series

import (
	"testing"

	"github.com/ringbench/ringbench/internal/result"
)

// TestRingEventMetricsFromCountedSamples: io_uring's own events are counted-sample figures: a timed sample
// that carried some would be ignored, one whose events were not counted gives nothing, and a sample
// without a kind (older files never have them) gives none either.
func TestRingEventMetricsFromCountedSamples(t *testing.T) {
	mk := func(kind string, re *result.RingEvents) result.Sample {
		return result.Sample{Workload: "w", Backend: "uring", Kind: kind, Seconds: 1, Ops: 100, OpsPerSec: 100, EntersPerOp: -1, RingEvents: re}
	}
	ss := Samples([]result.Sample{
		mk(result.KindTimed, &result.RingEvents{Available: true, Submitted: 900}),
		mk(result.KindCounted, &result.RingEvents{Available: true, Submitted: 200, AsyncPunts: 10, TaskWork: 50, PollArms: 100, CQOverflows: 4}),
		mk(result.KindCounted, &result.RingEvents{Reason: "denied"}),
		mk("", nil),
	})
	s := ss[0]
	for name, want := range map[string]float64{"submitted/op": 2, "async punts/op": 0.1, "task work/op": 0.5, "poll arms/op": 1, "cq overflows": 4} {
		if got := s.Values(OfName(name)); len(got) != 1 || got[0] != want {
			t.Errorf("%s %v, want the one counted sample's %v", name, got, want)
		}
	}
	for _, name := range []string{"submitted/op", "async punts/op", "task work/op", "poll arms/op", "cq overflows"} {
		m, _ := result.MetricByName(name)
		if m.Kind != result.KindCounted {
			t.Errorf("%s: kind %q, want counted", name, m.Kind)
		}
	}
}
