package ring

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestWaitsRetryEINTR signals the waiting thread over and over (SIGURG, which
// the Go runtime handles and ignores) while it sits in io_uring_enter: an
// untimed wait must still return only once its CQE is there, and a timed one
// must end at its deadline, neither stretched nor cut short by the retries.
func TestWaitsRetryEINTR(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := newTestRing(t, Params{Entries: 4}, "io_uring")
	tid := unix.Gettid()
	var stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			_ = unix.Tgkill(unix.Getpid(), tid, unix.SIGURG)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	defer func() { stop.Store(true); <-done }()

	const d = 150 * time.Millisecond
	ts := unix.NsecToTimespec(int64(d))
	Timeout{TS: &ts}.Prep(getSQE(t, r))
	start := time.Now()
	if _, err := r.SubmitAndWait(1); err != nil {
		t.Fatalf("SubmitAndWait: %v", err)
	}
	if el := time.Since(start); el < d-10*time.Millisecond {
		t.Errorf("untimed wait returned after %v, before its timer (%v) fired", el, d)
	}
	if c := reapN(t, r, 1, time.Second)[0]; c.Res != -int32(unix.ETIME) {
		t.Errorf("timer CQE %+v", c)
	}

	if r.Features()&FeatExtArg == 0 {
		t.Skip("no timed waits (FEAT_EXT_ARG)")
	}
	start = time.Now()
	if _, err := r.SubmitAndWaitTimeout(1, d); err != unix.ETIME {
		t.Fatalf("SubmitAndWaitTimeout with nothing in flight: %v, want ETIME", err)
	}
	if el := time.Since(start); el < d-10*time.Millisecond || el > 3*d {
		t.Errorf("timed wait of %v took %v", d, el)
	}
	t.Logf("interrupted waits retried: %d", r.Stats().Interrupted)
}
