package ring

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// ErrDrainTimeout is returned (wrapped, with the count) by CancelAndDrain
// when requests were still in flight as its time ran out.
var ErrDrainTimeout = errors.New("io_uring: requests still in flight after the drain timeout")

// drainPoll bounds each wait of CancelAndDrain, so a wait cannot overrun
// its deadline by much.
const drainPoll = 50 * time.Millisecond

// CancelAndDrain cancels every request in flight (one ASYNC_CANCEL with
// CancelAll|CancelAny, whose own CQE carries user data ud) and reaps
// completions until none is outstanding or d has passed.
//
// *inflight is the caller's count of requests whose last CQE has not been
// reaped yet, SQEs filled but not submitted included. CancelAndDrain counts
// its cancel in it and decrements it for every CQE without F_MORE; the CQEs
// themselves (reaped through buf) are dropped. It returns nil once *inflight
// is 0 or less: only then is memory the requests pointed to safe to free.
// Otherwise it returns ErrDrainTimeout, or the enter error, wrapped.
//
// Without timed waits (FEAT_EXT_ARG, 5.11+) it polls, sleeping a
// millisecond between rounds.
//
// Until a later drain succeeds, a Ring whose drain failed keeps its BufRing
// memory mapped when closed (see Close).
func (r *Ring) CancelAndDrain(ud uint64, inflight *int, buf []CQE, d time.Duration) error {
	err := r.cancelAndDrain(ud, inflight, buf, d)
	r.drainGaveUp = err != nil
	return err
}

func (r *Ring) cancelAndDrain(ud uint64, inflight *int, buf []CQE, d time.Duration) error {
	deadline := time.Now().Add(d)
	if len(buf) == 0 {
		buf = make([]CQE, 64)
	}
	s := r.GetSQE()
	for s == nil {
		// A full SQ: submitting may need room in the CQ first.
		if err := r.SQWait(); err != nil && !drainRetryable(err) {
			return fmt.Errorf("io_uring: cancel and drain: %w", err)
		}
		r.reapDrop(inflight, buf)
		if !time.Now().Before(deadline) {
			return fmt.Errorf("%w: %d after %v (SQ full)", ErrDrainTimeout, *inflight, d)
		}
		s = r.GetSQE()
	}
	Cancel{Flags: CancelAll | CancelAny}.Prep(s)
	s.SetUserData(ud)
	*inflight++
	timed := r.features&FeatExtArg != 0
	for *inflight > 0 {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%w: %d after %v", ErrDrainTimeout, *inflight, d)
		}
		var err error
		if timed {
			_, err = r.SubmitAndWaitTimeout(1, min(left, drainPoll))
		} else if _, err = r.Submit(); err == nil {
			err = r.WaitCQE(0)
		}
		if err != nil && !drainRetryable(err) {
			return fmt.Errorf("io_uring: cancel and drain: %w", err)
		}
		if r.reapDrop(inflight, buf) == 0 && !timed {
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}

func drainRetryable(err error) bool {
	return errors.Is(err, unix.ETIME) || errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EBUSY)
}

// reapDrop reaps every ready CQE, decrementing *inflight for each final one,
// and returns how many it reaped.
func (r *Ring) reapDrop(inflight *int, buf []CQE) int {
	total := 0
	for {
		n := r.Reap(buf)
		for _, c := range buf[:n] {
			if !c.More() {
				*inflight--
			}
		}
		total += n
		if n < len(buf) {
			return total
		}
	}
}
