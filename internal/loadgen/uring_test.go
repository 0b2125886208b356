package loadgen

import (
	"errors"
	"runtime"
	"testing"

	"github.com/ringbench/ringbench/internal/ring"
	"github.com/ringbench/ringbench/internal/ring/caps"
)

// TestGeneratorRingLikeTheBackends: the generator's ring is set up the way the uring backend's is, without
// the SQ index array where the kernel accepts that, and entered through a ring fd registered with the
// generator's thread, so the generator pays no more per enter than the server it loads.
func TestGeneratorRingLikeTheBackends(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := ring.New(uringParams())
	if errors.Is(err, ring.ErrNotSupported) {
		t.Skipf("no io_uring here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if caps.SetupFlag(caps.FlagNoSQArray) == nil && r.SetupFlags()&ring.SetupNoSQArray == 0 {
		t.Errorf("setup flags %#x: the kernel takes NO_SQARRAY but the generator's ring has an SQ array", r.SetupFlags())
	}
	if !r.RingFDRegistered() {
		t.Errorf("the generator's ring enters through its fd, not a registered ring index")
	}
}
