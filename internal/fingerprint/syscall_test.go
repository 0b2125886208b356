package fingerprint

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSyscallCostRecorded(t *testing.T) {
	fp := Collect(Options{})
	if fp.SyscallNs <= 0 || fp.SyscallNs >= 100_000 {
		t.Fatalf("syscall_ns %.1f: want a positive figure under 100 µs", fp.SyscallNs)
	}
	b, err := json.Marshal(fp)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"syscall_ns":`) {
		t.Errorf("syscall_ns missing from %s", b)
	}
	skipped := Collect(Options{SkipSyscallCost: true})
	if skipped.SyscallNs != 0 {
		t.Errorf("SkipSyscallCost: syscall_ns %.1f, want 0", skipped.SyscallNs)
	}
	if b, _ := json.Marshal(skipped); strings.Contains(string(b), "syscall_ns") {
		t.Errorf("an unmeasured syscall cost is written: %s", b)
	}
	// Files written before the field load with 0: unknown.
	var old Fingerprint
	if err := json.Unmarshal([]byte(`{"kernel":{"release":"6.1"}}`), &old); err != nil || old.SyscallNs != 0 {
		t.Errorf("old fingerprint: %v, syscall_ns %v", err, old.SyscallNs)
	}
}
