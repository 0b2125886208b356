package report

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ringbench/ringbench/internal/result"
)

// TestFiguresComeFromTheKindThatMeasuresThem: a file whose every sample is split into a timed sample and a
// counted one (the counted one's timing skewed, the timed one's syscalls not counted) reports exactly what
// the unsplit file reports.
func TestFiguresComeFromTheKindThatMeasuresThem(t *testing.T) {
	f := fixtureFile(t, "kernel-6.12-kvm.json")
	orig := filepath.Join(t.TempDir(), "orig.json")
	if err := os.WriteFile(orig, fixtureJSON(t, f), 0o644); err != nil {
		t.Fatal(err)
	}
	var split []result.Sample
	for _, s := range f.Samples {
		timed, counted := s, s
		timed.Kind = result.KindTimed
		timed.Syscalls = result.Syscalls{Reason: "timed sample"}
		timed.EntersPerOp = -1
		counted.Kind = result.KindCounted
		counted.OpsPerSec /= 2
		counted.BytesPerSec /= 2
		counted.CPU.PerOpNs *= 2
		counted.CPU.UserNs *= 2
		counted.Latency.P50 *= 2
		split = append(split, timed, counted)
	}
	f.Samples = split
	p := filepath.Join(t.TempDir(), "split.json")
	if err := os.WriteFile(p, fixtureJSON(t, f), 0o644); err != nil {
		t.Fatal(err)
	}
	want, got := buildFrom(t, orig), buildFrom(t, p)
	if len(want.Workloads) != len(got.Workloads) {
		t.Fatalf("%d workloads, want %d", len(got.Workloads), len(want.Workloads))
	}
	for i, w := range want.Workloads {
		for j, ws := range w.Series {
			gs := got.Workloads[i].Series[j]
			for _, m := range []string{"ops/s", "MB/s", "p50", "cpu-ns/op", "syscalls/op", "enters/op"} {
				if ws.Metrics[m] != gs.Metrics[m] {
					t.Errorf("%s %s: %+v, want %+v", ws.Name(), m, gs.Metrics[m], ws.Metrics[m])
				}
			}
			if ws.HistSamples != gs.HistSamples || (ws.Syscalls == nil) != (gs.Syscalls == nil) ||
				ws.Syscalls != nil && (ws.Syscalls.Pooled != gs.Syscalls.Pooled || gs.Syscalls.Missing != ws.Syscalls.Missing) ||
				(ws.CPU == nil) != (gs.CPU == nil) || ws.CPU != nil && *ws.CPU != *gs.CPU {
				t.Errorf("%s: histograms %d (want %d), syscalls %+v (want %+v), CPU %+v (want %+v)", ws.Name(),
					gs.HistSamples, ws.HistSamples, gs.Syscalls, ws.Syscalls, gs.CPU, ws.CPU)
			}
		}
	}
}
