package ring

import (
	"runtime"
	"testing"
)

// nopRound submits n NOPs in one SubmitAndWait and reaps them.
func nopRound(t *testing.T, r *Ring, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		queue(t, r, Nop{}, uint64(i+1))
	}
	if got, err := r.SubmitAndWait(uint32(n)); err != nil || got != n {
		t.Fatalf("SubmitAndWait = %d, %v", got, err)
	}
	cqes := make([]CQE, n)
	if got := r.Reap(cqes); got != n {
		t.Fatalf("Reap = %d, want %d", got, n)
	}
}

// TestParamsRegisterRingFD: New with RegisterRingFD enters through the registered index, and when the
// kernel refuses a registration (here: the thread's table of 16 registered rings is full) New still
// returns a working ring that enters through its fd.
func TestParamsRegisterRingFD(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var rings []*Ring
	defer func() {
		for i := len(rings) - 1; i >= 0; i-- {
			if err := rings[i].Close(); err != nil {
				t.Error(err)
			}
		}
	}()
	p := Params{Entries: 8, SingleIssuer: true, DeferTaskrun: true, NoSQArray: true, RegisterRingFD: true}
	first, err := New(p)
	if err != nil {
		t.Skipf("no ring: %v", err)
	}
	rings = append(rings, first)
	if !first.RingFDRegistered() {
		t.Skip("kernel refused IORING_REGISTER_RING_FDS (5.18+)")
	}
	nopRound(t, first, 4)
	// The kernel keeps at most 16 registered rings per thread (IO_RINGFD_REG_MAX): fill the table.
	unregistered := 0
	for i := 0; i < 17; i++ {
		r, err := New(p)
		if err != nil {
			t.Fatal(err)
		}
		rings = append(rings, r)
		if !r.RingFDRegistered() {
			unregistered++
			nopRound(t, r, 4)
		}
	}
	if unregistered == 0 {
		t.Fatal("17 more rings on one thread all registered: the refusal path was not exercised")
	}
	nopRound(t, rings[1], 4)
}
