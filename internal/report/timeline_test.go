package report

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/result"
)

// steady is n intervals of step ms at rate ops/s with p99 p99ns, but interval dip, which holds no op.
func steady(n int, step time.Duration, rate float64, p99ns int64, dip int) []result.Interval {
	var out []result.Interval
	for i := range n {
		iv := result.Interval{StartNs: int64(i) * int64(step), LengthNs: int64(step),
			Ops: int64(rate * step.Seconds()), P99Ns: p99ns}
		if i == dip {
			iv.Ops, iv.P99Ns = 0, 0
		}
		out = append(out, iv)
	}
	return out
}

// Timelines come from timed samples only: the median ops/s and the worst p99 of each interval; every
// workload then has a throughput-over-time and a p99-over-time chart.
func TestTimelineFromTimedSamples(t *testing.T) {
	f := fixtureFile(t, "kernel-6.12-kvm.json")
	var split []result.Sample
	for _, s := range f.Samples {
		timed, counted := s, s
		timed.Kind, counted.Kind = result.KindTimed, result.KindCounted
		// Repeats 0, 1, 2 run at 1000, 2000, 3000 ops/s; repeat 1 stalls in interval 5 (p99 300 ms).
		p99 := int64(50_000)
		if s.Repeat == 1 {
			p99 = 300_000_000
		}
		timed.Intervals = steady(20, 100*time.Millisecond, float64(1000*(s.Repeat+1)), p99, 5+10*(s.Repeat%2))
		counted.Intervals = steady(20, 100*time.Millisecond, 1e9, 1e9, -1) // never shown
		split = append(split, timed, counted)
	}
	f.Samples = split
	dir := t.TempDir()
	p := filepath.Join(dir, "split.json")
	if err := os.WriteFile(p, fixtureJSON(t, f), 0o644); err != nil {
		t.Fatal(err)
	}
	r := buildFrom(t, p)
	for _, w := range r.Workloads {
		for _, s := range w.Series {
			if len(s.Timeline) != 20 {
				t.Fatalf("%s: %d points, want 20", s.Name(), len(s.Timeline))
			}
			n := len(s.Timed())
			for i, tp := range s.Timeline {
				if want := (float64(i) + 0.5) / 10; tp.At != want {
					t.Errorf("%s point %d at %vs, want %vs", s.Name(), i, tp.At, want)
				}
				if tp.OpsPerSec >= 1e9 || tp.P99Ns >= 1e9 {
					t.Fatalf("%s point %d: %+v comes from a counted sample", s.Name(), i, tp)
				}
				if n == 3 && i != 5 && i != 15 && tp.OpsPerSec != 2000 {
					t.Errorf("%s point %d: %v ops/s, want the median 2000", s.Name(), i, tp.OpsPerSec)
				}
				// Repeat 1 (the stalled one, p99 300 ms) has ops in every interval but 15.
				if n == 3 && i != 15 && tp.P99Ns != 300e6 {
					t.Errorf("%s point %d: p99 %v, want the worst sample's 300ms", s.Name(), i, tp.P99Ns)
				}
			}
		}
	}
	out := filepath.Join(dir, "report")
	o, err := Generate([]string{p}, Options{Out: out, Tool: "ringbench test", Now: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, c := range o.Charts {
		kinds[c.Kind]++
	}
	if kinds[KindTimeline] != len(r.Workloads) || kinds[KindTimelineP99] != len(r.Workloads) {
		t.Errorf("%d timeline and %d p99 timeline charts, want %d of each", kinds[KindTimeline], kinds[KindTimelineP99], len(r.Workloads))
	}
	checkChartFiles(t, out, o.Charts, DefaultWidth, DefaultHeight)
}

// A long series is drawn with at most MaxTimelinePoints points, its ops kept and its worst p99 kept.
func TestTimelineIsBounded(t *testing.T) {
	ivs := steady(5*MaxTimelinePoints+3, 10*time.Millisecond, 1000, 1000, -1)
	ivs[777].P99Ns = 9e9
	tl := timeline([]*result.Sample{{Intervals: ivs}})
	if len(tl) > MaxTimelinePoints {
		t.Fatalf("%d points, more than %d", len(tl), MaxTimelinePoints)
	}
	var ops, worst float64
	for i, tp := range tl {
		// Each point but the last merges 6 intervals of 10 ms.
		length := 0.06
		if i == len(tl)-1 {
			length = float64(len(ivs)-6*i) / 100
		}
		ops += tp.OpsPerSec * length
		worst = max(worst, tp.P99Ns)
	}
	if want := float64(len(ivs)) * 10; ops < want-1e-6 || ops > want+1e-6 || worst != 9e9 {
		t.Errorf("ops %v (want %v), worst p99 %v (want 9e9)", ops, want, worst)
	}
	if timeline([]*result.Sample{{}}) != nil {
		t.Error("a sample without intervals has no timeline")
	}
}
