package result

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestSyscallsNotCountedAreNull: syscalls not counted are null in JSON, not 0, and read back as before.
func TestSyscallsNotCountedAreNull(t *testing.T) {
	off := Syscalls{Reason: "not counted"}
	b, err := json.Marshal(off)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); !strings.Contains(got, `"total":null`) || !strings.Contains(got, `"per_op":null`) ||
		!strings.Contains(got, `"available":false`) || strings.Count(got, `"total"`) != 1 {
		t.Fatalf("not counted: %s", got)
	}
	var back Syscalls
	if err := json.Unmarshal(b, &back); err != nil || back.Available || back.Total != 0 || back.Reason != off.Reason {
		t.Fatalf("read back %+v, %v", back, err)
	}
	on := Syscalls{Available: true, Total: 12, PerOp: 1.5, ByName: map[string]uint64{"read": 12}}
	b, _ = json.Marshal(on)
	if got := string(b); !strings.Contains(got, `"total":12`) || !strings.Contains(got, `"per_op":1.5`) {
		t.Fatalf("counted: %s", got)
	}
	back = Syscalls{}
	if err := json.Unmarshal(b, &back); err != nil || back.Total != 12 || back.ByName["read"] != 12 {
		t.Fatalf("read back %+v, %v", back, err)
	}
}
