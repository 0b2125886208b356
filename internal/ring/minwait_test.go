package ring

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSubmitAndWaitMin checks the minimum wait: asked for two CQEs with a NOP
// done and a pipe read that never completes, SubmitAndWaitMin returns nil with
// the one CQE once the 20 ms minimum wait has passed, long before its 60 s
// limit, and leaves the read pending. A wait that ignored the minimum (no
// min_wait_usec, or a loop that insisted on both CQEs) would run to the limit.
func TestSubmitAndWaitMin(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Params
	}{
		{"plain", Params{Entries: 8}},
		{"defer_taskrun", Params{Entries: 8, SingleIssuer: true, DeferTaskrun: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runtime.LockOSThread() // DEFER_TASKRUN: completions are run by the submitting thread
			defer runtime.UnlockOSThread()
			r := newTestRing(t, tc.p, "io_uring")
			if r.Features()&FeatMinTimeout == 0 {
				if _, err := r.SubmitAndWaitMin(1, time.Millisecond, time.Second); !errors.Is(err, ErrNotSupported) {
					t.Fatalf("SubmitAndWaitMin without IORING_FEAT_MIN_TIMEOUT: %v, want ErrNotSupported", err)
				}
				t.Skip("kernel lacks IORING_FEAT_MIN_TIMEOUT (6.12+)")
			}
			p, _ := pendingPipeRead(t, r, 1)
			Nop{}.Prep(getSQE(t, r))
			start := time.Now()
			n, err := r.SubmitAndWaitMin(2, 20*time.Millisecond, 60*time.Second)
			if el := time.Since(start); err != nil || n != 2 || el >= 30*time.Second {
				t.Fatalf("SubmitAndWaitMin(2, 20ms, 60s) = %d, %v after %v; want 2, nil after the minimum wait", n, err, el)
			}
			cqes := make([]CQE, 4)
			if k := r.Reap(cqes); k != 1 || cqes[0].UserData != 0 || cqes[0].Res != 0 {
				t.Fatalf("reaped %d CQEs %+v, want the NOP's alone", k, cqes[:k])
			}
			// Both ready at once: no minimum wait is needed to return.
			Nop{}.Prep(getSQE(t, r))
			if _, err := unix.Write(p[1], []byte("x")); err != nil {
				t.Fatal(err)
			}
			if _, err := r.SubmitAndWaitMin(2, time.Hour, 2*time.Hour); err != nil {
				t.Fatalf("SubmitAndWaitMin with both requests done: %v", err)
			}
			if k := r.Reap(cqes); k != 2 {
				t.Fatalf("reaped %d CQEs %+v, want the read's and the NOP's", k, cqes[:k])
			}
		})
	}
}
