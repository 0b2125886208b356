package ring

import (
	"testing"

	"github.com/ringbench/ringbench/internal/testsupport"
)

// Rings set up with AttachWQ share the first ring's one poll thread; without it each ring starts its own.
func TestAttachWQSharesPollThread(t *testing.T) {
	const rings = 3
	base := testsupport.SettlePollThreads(t, 0) // earlier tests' poll threads may still be exiting
	for _, share := range []bool{false, true} {
		var rs []*Ring
		for i := 0; i < rings; i++ {
			p := Params{Entries: 8, SQPoll: true, SQThreadCPU: -1, NoFallback: true}
			if share && i > 0 {
				p.AttachWQ = rs[0]
			}
			r := newTestRing(t, p, "IORING_SETUP_SQPOLL|ATTACH_WQ")
			if share && i > 0 && r.SetupFlags()&SetupAttachWQ == 0 {
				t.Fatalf("ring %d: ATTACH_WQ not in effect (%v)", i, SetupFlagNames(r.SetupFlags()))
			}
			rs = append(rs, r)
		}
		// Every ring works (the shared thread polls all of them).
		for i, r := range rs {
			queue(t, r, Nop{}, uint64(i+1))
			if _, err := r.Submit(); err != nil {
				t.Fatalf("ring %d: %v", i, err)
			}
			if c := waitReap(t, r, 1)[0]; c.UserData != uint64(i+1) {
				t.Fatalf("ring %d: CQE %+v", i, c)
			}
		}
		want := rings
		if share {
			want = 1
		}
		if got := testsupport.SettlePollThreads(t, base+want) - base; got != want {
			t.Errorf("share=%v: %d new iou-sqp threads for %d rings, want %d", share, got, rings, want)
		}
		for _, r := range rs {
			_ = r.Close()
		}
		testsupport.SettlePollThreads(t, base)
	}
}
