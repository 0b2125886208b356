package ring

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkNopSetup: NOPs as BenchmarkNop, on rings set up as the uring backend sets them up
// (SINGLE_ISSUER|DEFER_TASKRUN), with and without NO_SQARRAY and a registered ring fd, to measure what
// each saves on the enter path.
func BenchmarkNopSetup(b *testing.B) {
	variants := []struct {
		name string
		p    Params
	}{
		{"base", Params{}},
		{"nosqarray", Params{NoSQArray: true}},
		{"ringfd", Params{RegisterRingFD: true}},
		{"nosqarray+ringfd", Params{NoSQArray: true, RegisterRingFD: true}},
	}
	for _, batch := range []int{1, 32} {
		for _, v := range variants {
			b.Run(fmt.Sprintf("batch=%d/%s", batch, v.name), func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				p := v.p
				p.Entries, p.SingleIssuer, p.DeferTaskrun, p.NoFallback = 128, true, true, true
				r, err := New(p)
				if err != nil {
					b.Skip(err)
				}
				defer r.Close()
				if v.p.RegisterRingFD && !r.RingFDRegistered() {
					b.Skip("ring fd not registered")
				}
				cqes := make([]CQE, 128)
				b.ReportAllocs()
				r.ResetStats()
				cpu0 := cpuNanos()
				b.ResetTimer()
				for done := 0; done < b.N; {
					k := min(batch, b.N-done)
					for i := 0; i < k; i++ {
						s := r.GetSQE()
						Nop{}.Prep(s)
						s.SetUserData(uint64(i))
					}
					if _, err := r.SubmitAndWait(uint32(k)); err != nil {
						b.Fatal(err)
					}
					for got := 0; got < k; {
						got += r.Reap(cqes)
					}
					done += k
				}
				b.StopTimer()
				reportRing(b, r, cpu0)
			})
		}
	}
}
