package series

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ringbench/ringbench/internal/result"
)

func TestValidLeavesOutInvalidSamplesAndSaysWhy(t *testing.T) {
	low := &result.Warning{Kind: result.WarnLowResidency, Text: "page cache below 99% resident (lowest 93.0%): reads went to disk"}
	ss := []result.Sample{
		{Workload: "small-file", Backend: "uring", Repeat: 0},
		{Workload: "small-file", Backend: "uring", Repeat: 1, Invalid: low},
		{Workload: "small-file", Backend: "epoll", Repeat: 0},
		{Workload: "small-file", Backend: "epoll", Repeat: 1, Invalid: low},
	}
	kept, ex := Valid(ss)
	if len(kept) != 2 || kept[0].Backend != "uring" || kept[1].Backend != "epoll" || kept[0].Invalid != nil || kept[1].Invalid != nil {
		t.Fatalf("kept %+v", kept)
	}
	want := "left out 2 of 4 samples as invalid: 2 low-residency (e.g. small-file/uring sample 2: page cache below 99% resident"
	if line := ex.Line(); !strings.HasPrefix(line, want) {
		t.Fatalf("line %q, want it to start %q", line, want)
	}
	if line := ex.Add(Excluded{Of: 3}).Line(); !strings.HasPrefix(line, "left out 2 of 7 samples as invalid: 2 low-residency") {
		t.Fatalf("added: %q", line)
	}
	if kept, ex := Valid(ss[:1]); len(kept) != 1 || ex.Line() != "" {
		t.Fatalf("nothing invalid: %d kept, line %q", len(kept), ex.Line())
	}
}

// TestOldSamplesAreValid: a sample written before the field existed has no "invalid" and stays in.
func TestOldSamplesAreValid(t *testing.T) {
	var s result.Sample
	if err := json.Unmarshal([]byte(`{"backend":"uring","workload":"small-file","residency":{"before":0.5,"after":0.5}}`), &s); err != nil {
		t.Fatal(err)
	}
	if kept, ex := Valid([]result.Sample{s}); len(kept) != 1 || ex.N != 0 {
		t.Fatalf("an old sample was left out: %+v", ex)
	}
}
