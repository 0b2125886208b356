package perfcount

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/ringbench/ringbench/internal/ring"
	"github.com/ringbench/ringbench/internal/testsupport"
	"golang.org/x/sys/unix"
)

const (
	tpSubmit   = "io_uring:io_uring_submit_req"
	tpAsync    = "io_uring:io_uring_queue_async_work"
	tpTaskWork = "io_uring:io_uring_task_work_run"
	tpLocal    = "io_uring:io_uring_local_work_run"
	tpPollArm  = "io_uring:io_uring_poll_arm"
	tpOverflow = "io_uring:io_uring_cqe_overflow"
)

// requireRingTracepoints skips unless io_uring's tracepoints can be counted by this user.
func requireRingTracepoints(t *testing.T) {
	t.Helper()
	r := requireCounting(t)
	for _, e := range r.Events {
		for _, tp := range RingTracepoints {
			if e.Name == tp && !e.OK {
				t.Skipf("%s cannot be counted here: %s", tp, e.Reason)
			}
		}
	}
}

// countRing opens a Counter of io_uring's tracepoints on exactly the calling locked thread, sets a ring up
// with p, runs work on it and returns the tracepoint counts over work alone.
func countRing(t *testing.T, p ring.Params, work func(r *ring.Ring) error) map[string]uint64 {
	t.Helper()
	requireRingTracepoints(t)
	var got map[string]uint64
	var err error
	onLockedThread(func(tid int) {
		r, rerr := ring.New(p)
		if rerr != nil {
			if errors.Is(rerr, ring.ErrNotSupported) || errors.Is(rerr, unix.ENOSYS) {
				err = rerr
				return
			}
			t.Errorf("ring.New: %v", rerr)
			return
		}
		defer r.Close()
		c, cerr := OpenThreads([]int{tid}, nil, WithTracepoints(RingTracepoints...))
		if cerr != nil {
			t.Errorf("OpenThreads: %v", cerr)
			return
		}
		defer c.Close()
		if err := c.Reset(); err != nil {
			t.Errorf("Reset: %v", err)
			return
		}
		if werr := work(r); werr != nil {
			t.Errorf("ring work: %v", werr)
			return
		}
		rd, rerr := c.Read()
		if rerr != nil {
			t.Errorf("Read: %v", rerr)
			return
		}
		for _, tp := range RingTracepoints {
			if why, bad := rd.TracepointUnavailable[tp]; bad {
				t.Errorf("%s unavailable: %s", tp, why)
			}
		}
		got = rd.Tracepoints
	})
	if err != nil {
		t.Skipf("no io_uring here: %v", err)
	}
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("counted %v", got)
	return got
}

// submitWait queues n requests made by prep, submits them in one io_uring_enter and reaps n completions,
// failing on any error completion.
func submitWait(r *ring.Ring, n int, prep func(i int, s *ring.SQE)) error {
	for i := range n {
		s := r.GetSQE()
		if s == nil {
			return errors.New("SQ full")
		}
		prep(i, s)
		s.SetUserData(uint64(i))
	}
	if _, err := r.SubmitAndWait(uint32(n)); err != nil {
		return err
	}
	cqes := make([]ring.CQE, n)
	for got := 0; got < n; {
		k := r.Reap(cqes[got:])
		if k == 0 {
			if err := r.WaitCQE(1); err != nil {
				return err
			}
			continue
		}
		for _, c := range cqes[got : got+k] {
			if err := c.Err(); err != nil {
				return err
			}
		}
		got += k
	}
	return nil
}

// TestRingSubmittedCountsEachRequest: n NOPs submitted on a ring are exactly n io_uring_submit_req events on
// the submitting thread, and nothing is punted or overflows.
func TestRingSubmittedCountsEachRequest(t *testing.T) {
	const n = 100
	got := countRing(t, ring.Params{Entries: 128}, func(r *ring.Ring) error {
		return submitWait(r, n, func(_ int, s *ring.SQE) { ring.Nop{}.Prep(s) })
	})
	if got[tpSubmit] != n {
		t.Errorf("submitted %d, want exactly %d", got[tpSubmit], n)
	}
	if got[tpAsync] != 0 || got[tpOverflow] != 0 || got[tpPollArm] != 0 {
		t.Errorf("NOPs punted %d, overflowed %d, armed %d polls; want none", got[tpAsync], got[tpOverflow], got[tpPollArm])
	}
}

// TestRingAsyncFlagPuntsEachRead: reads flagged IOSQE_ASYNC all go to io-wq, one queue_async_work each.
func TestRingAsyncFlagPuntsEachRead(t *testing.T) {
	const n = 32
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 4096*n), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bufs := make([]byte, 4096*n)
	got := countRing(t, ring.Params{Entries: 64}, func(r *ring.Ring) error {
		return submitWait(r, n, func(i int, s *ring.SQE) {
			ring.Read{FD: int32(f.Fd()), Buf: unsafe.Pointer(&bufs[4096*i]), Len: 4096, Offset: uint64(4096 * i)}.Prep(s)
			s.SetFlags(ring.FlagAsync)
		})
	})
	if got[tpSubmit] != n || got[tpAsync] != n {
		t.Errorf("submitted %d, punted %d; want exactly %d of each", got[tpSubmit], got[tpAsync], n)
	}
}

// TestRingRecvWithoutDataArmsPoll: a recv on a socket with nothing to read arms a poll; data arriving
// completes it through task work on the submitting thread: io_uring_task_work_run, or with DEFER_TASKRUN
// io_uring_local_work_run.
func TestRingRecvWithoutDataArmsPoll(t *testing.T) {
	for _, deferred := range []bool{false, true} {
		got := recvWithoutData(t, ring.Params{Entries: 8, SingleIssuer: deferred, DeferTaskrun: deferred})
		if got[tpSubmit] != 1 || got[tpPollArm] != 1 || got[tpAsync] != 0 {
			t.Errorf("defer=%v: submitted %d, poll arms %d, punts %d; want 1, 1, 0", deferred, got[tpSubmit], got[tpPollArm], got[tpAsync])
		}
		tw, other := got[tpTaskWork], got[tpLocal]
		if deferred {
			tw, other = other, tw
		}
		if tw != 1 || other != 0 {
			t.Errorf("defer=%v: task work runs %d, local work runs %d; want 1 run of the expected kind "+
				"(the poll wake-up completes the recv through task work)", deferred, got[tpTaskWork], got[tpLocal])
		}
	}
}

func recvWithoutData(t *testing.T, p ring.Params) map[string]uint64 {
	fds := testsupport.SocketPair(t, unix.SOCK_CLOEXEC)
	buf := make([]byte, 64)
	return countRing(t, p, func(r *ring.Ring) error {
		s := r.GetSQE()
		ring.Recv{FD: int32(fds[0]), Buf: unsafe.Pointer(&buf[0]), Len: uint32(len(buf))}.Prep(s)
		if _, err := r.Submit(); err != nil {
			return err
		}
		if _, err := unix.Write(fds[1], []byte("ping")); err != nil {
			return err
		}
		if err := r.WaitCQE(1); err != nil {
			return err
		}
		cqes := make([]ring.CQE, 1)
		if r.Reap(cqes) != 1 {
			return errors.New("no completion")
		}
		return cqes[0].Err()
	})
}

// TestRingCQOverflowCounted: completions beyond a full CQ ring are overflow events.
func TestRingCQOverflowCounted(t *testing.T) {
	const size = 8
	got := countRing(t, ring.Params{Entries: size, CQEntries: size}, func(r *ring.Ring) error {
		for range 2 { // the second batch finds the CQ full
			for range size {
				ring.Nop{}.Prep(r.GetSQE())
			}
			if _, err := r.Submit(); err != nil {
				return err
			}
		}
		return nil
	})
	if got[tpSubmit] != 2*size || got[tpOverflow] != size {
		t.Errorf("submitted %d, overflows %d; want %d, %d", got[tpSubmit], got[tpOverflow], 2*size, size)
	}
}

// TestRingTracepointsInReading: tracepoints asked for appear in every Reading, by name, and an unknown
// one is unavailable with a reason rather than a zero.
func TestRingTracepointsInReading(t *testing.T) {
	requireRingTracepoints(t)
	c, err := Open(nil, WithTracepoints(append([]string{"io_uring:no_such_event", "bad name"}, RingTracepoints...)...))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range RingTracepoints {
		if _, ok := r.Tracepoints[tp]; !ok {
			t.Errorf("%s missing from Tracepoints %v (unavailable: %v)", tp, r.Tracepoints, r.TracepointUnavailable)
		}
	}
	for _, bad := range []string{"io_uring:no_such_event", "bad name"} {
		if _, ok := r.Tracepoints[bad]; ok || r.TracepointUnavailable[bad] == "" {
			t.Errorf("%s: counted %v, reason %q; want unavailable with a reason", bad, ok, r.TracepointUnavailable[bad])
		}
	}
	d := r.Sub(r)
	if len(d.Tracepoints) != len(RingTracepoints) || len(d.TracepointUnavailable) != 2 {
		t.Errorf("Sub: %v / %v", d.Tracepoints, d.TracepointUnavailable)
	}
}

// TestRingSQPollSubmitsOnThePollThread: with SQPOLL the kernel's poll thread (iou-sqp-*, a thread of this
// process) submits, so io_uring_submit_req fires there, not on the thread that queued the SQEs: counting
// only that thread sees none, counting the process (Open, inherited by the poll thread, which is created
// after it) sees every one. The poll thread's loop also passes the task-work tracepoint on every turn: the
// filter (only runs that ran something) must hold on that inherited copy too.
func TestRingSQPollSubmitsOnThePollThread(t *testing.T) {
	requireRingTracepoints(t)
	const n = 50
	proc, err := Open(nil, WithTracepoints(RingTracepoints...))
	if err != nil {
		t.Fatal(err)
	}
	defer proc.Close()
	own := countRing(t, ring.Params{Entries: 64, SQPoll: true, SQThreadCPU: -1}, func(r *ring.Ring) error {
		if err := proc.Reset(); err != nil {
			return err
		}
		return submitWait(r, n, func(_ int, s *ring.SQE) { ring.Nop{}.Prep(s) })
	})
	pr, err := proc.Read()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("process: %v", pr.Tracepoints)
	if own[tpSubmit] != 0 {
		t.Errorf("submitting thread counted %d submissions; SQPOLL should submit on the poll thread", own[tpSubmit])
	}
	if pr.Tracepoints[tpSubmit] != n {
		t.Errorf("process counted %d submissions, want exactly %d", pr.Tracepoints[tpSubmit], n)
	}
	if tw := pr.Tracepoints[tpTaskWork]; tw > n {
		t.Errorf("process counted %d task-work runs for %d NOPs: the poll thread's empty passes were counted", tw, n)
	}
}
