package report

import (
	"strings"
	"testing"

	"github.com/ringbench/ringbench/internal/result"
)

// TestInvalidSamplesAreLeftOut: a sample marked invalid is in no series, and a warning says how many were
// left out and why.
func TestInvalidSamplesAreLeftOut(t *testing.T) {
	in, err := LoadFiles(writeFixtures(t, "kernel-6.12-kvm.json"))
	if err != nil {
		t.Fatal(err)
	}
	marked := 0
	for i := range in[0].File.Samples {
		s := &in[0].File.Samples[i]
		if s.Workload == "small-file" && s.Backend == "uring" && marked < 2 {
			s.Invalid = &result.Warning{Kind: result.WarnLowResidency, Text: "page cache below 99% resident (lowest 80.0%): reads went to disk"}
			marked++
		}
	}
	r, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	if uring := r.Workloads[0].SeriesFor("uring", ""); uring == nil || len(uring.Samples) != 3 {
		t.Fatalf("uring series holds %d samples, want the 3 of 5 not marked invalid", len(uring.Samples))
	}
	got := warningKinds(r)["invalid"]
	if len(got) != 1 || !strings.Contains(got[0], "left out 2 of") || !strings.Contains(got[0], "2 low-residency (e.g. small-file/uring sample") {
		t.Fatalf("invalid warnings %q", got)
	}
}
