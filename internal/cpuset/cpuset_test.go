package cpuset

import (
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPinThread pins this thread to one allowed CPU, reads the mask back, and restores it.
func TestPinThread(t *testing.T) {
	all := Allowed()
	if len(all) == 0 || !slices.IsSorted(all) {
		t.Fatalf("Allowed() = %v, want a sorted non-empty list", all)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer func() {
		if err := PinThread(0, all); err != nil {
			t.Fatal(err)
		}
	}()
	last := all[len(all)-1]
	if err := PinThread(0, []int{last}); err != nil {
		t.Fatal(err)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		t.Fatal(err)
	}
	if set.Count() != 1 || !set.IsSet(last) {
		t.Fatalf("after PinThread(0, [%d]): %d CPUs in the mask", last, set.Count())
	}
	if err := PinThread(0, nil); err != nil {
		t.Fatalf("an empty list changes nothing, got %v", err)
	}
}
