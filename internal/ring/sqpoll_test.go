package ring

import (
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// After the poll thread has idled (SQThreadIdle) it sleeps and sets
// IORING_SQ_NEED_WAKEUP; requests must still complete, which takes an
// io_uring_enter with IORING_ENTER_SQ_WAKEUP (2).
func TestSQPollIdleWakeup(t *testing.T) {
	r := newTestRing(t, Params{Entries: 8, SQPoll: true, SQThreadIdle: 50 * time.Millisecond, SQThreadCPU: -1, NoFallback: true}, "IORING_SETUP_SQPOLL")
	for round := 0; round < 3; round++ {
		queue(t, r, Nop{}, uint64(round))
		if n, err := r.Submit(); err != nil || n != 1 {
			t.Fatalf("round %d: Submit = %d, %v", round, n, err)
		}
		// Poll Reap rather than WaitCQE: GETEVENTS does not wake the poll
		// thread, so a lost wakeup shows up as a timeout, not a hang.
		if c := reapN(t, r, 1, 2*time.Second)[0]; c.UserData != uint64(round) {
			t.Fatalf("CQE %+v", c)
		}
		time.Sleep(200 * time.Millisecond)
		if atomic.LoadUint32(r.sqFlags)&sqNeedWakeup == 0 {
			t.Fatalf("round %d: poll thread not asleep after 200ms with 50ms idle (sq flags %#x)", round, atomic.LoadUint32(r.sqFlags))
		}
	}
	if w := r.Stats().Wakeups; w < 2 {
		t.Errorf("Wakeups = %d, want >= 2 (one per sleep)", w)
	}

	// Negative control: publish without the wakeup enter; nothing happens
	// until Submit sends IORING_ENTER_SQ_WAKEUP.
	queue(t, r, Nop{}, 99)
	r.publish()
	time.Sleep(50 * time.Millisecond)
	if n := r.CQReady(); n != 0 || r.Pending() != 1 {
		t.Fatalf("sleeping poll thread consumed the SQE without a wakeup (ready %d, pending %d)", n, r.Pending())
	}
	before := r.Stats().Wakeups
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	if r.Stats().Wakeups != before+1 {
		t.Fatal("Submit did not send IORING_ENTER_SQ_WAKEUP")
	}
	reapN(t, r, 1, 2*time.Second)
	t.Logf("stats %+v", r.Stats())
}

// A full SQ on an SQPOLL ring: SQWait returns once the poll thread has
// consumed SQEs.
func TestSQPollSQWait(t *testing.T) {
	r := newTestRing(t, Params{Entries: 4, SQPoll: true, SQThreadCPU: -1, NoFallback: true}, "IORING_SETUP_SQPOLL")
	cqes := make([]CQE, 16)
	reaped := 0
	for round := 0; round < 50; round++ {
		for r.GetSQE() != nil {
		}
		if _, err := r.Submit(); err != nil {
			t.Fatal(err)
		}
		if err := r.SQWait(); err != nil {
			t.Fatal(err)
		}
		if r.SQSpace() == 0 {
			t.Fatalf("round %d: SQ still full after SQWait", round)
		}
		reaped += r.Reap(cqes)
	}
	for reaped < 200 {
		if err := r.WaitCQE(1); err != nil {
			t.Fatal(err)
		}
		reaped += r.Reap(cqes)
	}
	t.Logf("stats %+v", r.Stats())
}

// While the poll thread is awake, submitting costs no syscall.
func TestSQPollSteadyStateNoEnters(t *testing.T) {
	r := newTestRing(t, Params{Entries: 32, SQPoll: true, SQThreadIdle: time.Second, SQThreadCPU: -1, NoFallback: true}, "IORING_SETUP_SQPOLL")
	cqes := make([]CQE, 32)
	run := func(total int) {
		done := 0
		deadline := time.Now().Add(5 * time.Second)
		for done < total {
			for i := 0; i < 8 && r.SQSpace() > 0; i++ {
				s := r.GetSQE()
				Nop{}.Prep(s)
			}
			if _, err := r.Submit(); err != nil {
				t.Fatal(err)
			}
			for r.Pending() > 0 || r.CQReady() > 0 {
				n := r.Reap(cqes)
				done += n
				if n == 0 {
					if time.Now().After(deadline) {
						t.Fatalf("stuck: done %d, pending %d, stats %+v", done, r.Pending(), r.Stats())
					}
					runtime.Gosched()
				}
			}
		}
	}
	run(64) // warm up: the first submit may find the thread asleep
	r.ResetStats()
	run(2000)
	st := r.Stats()
	t.Logf("steady state, 2000 NOPs: %+v", st)
	if st.Enters > 2 || st.SubmitEnters > 2 {
		t.Errorf("SQPOLL steady state made %d enters (%d submit-side) for 2000 NOPs, want ~0", st.Enters, st.SubmitEnters)
	}
	if st.SQEsSubmitted < 2000 || st.CQEsReaped < 2000 {
		t.Errorf("counted %d submitted, %d reaped", st.SQEsSubmitted, st.CQEsReaped)
	}
}

// SubmitAndWait must complete every request while signals keep
// interrupting the waiting thread (EINTR, or the kernel returning early
// after the submit part).
func TestSignalStorm(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := newTestRing(t, Params{Entries: 16}, "io_uring")
	a := newArena(t, 1, 64)
	ts := (*unix.Timespec)(a.Ptr(0))
	*ts = unix.NsecToTimespec(int64(500 * time.Microsecond))

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGUSR1)
	defer signal.Stop(sigs)
	pid, tid := unix.Getpid(), unix.Gettid()
	stop := make(chan struct{})
	var sent atomic.Int64
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // drain notifications
		defer wg.Done()
		for {
			select {
			case <-sigs:
			case <-stop:
				return
			}
		}
	}()
	go func() { // the storm, aimed at the thread blocked in io_uring_enter
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			sig := unix.SIGUSR1
			if i%2 == 1 {
				sig = unix.SIGURG
			}
			if unix.Tgkill(pid, tid, sig) == nil {
				sent.Add(1)
			}
		}
	}()

	const batch = 8
	cqes := make([]CQE, batch)
	total := 0
	deadline := time.Now().Add(400 * time.Millisecond)
	for time.Now().Before(deadline) {
		for i := 0; i < batch; i++ {
			s := getSQE(t, r)
			if i%2 == 0 {
				Timeout{TS: ts}.Prep(s)
			} else {
				Nop{}.Prep(s)
			}
			s.SetUserData(uint64(i))
		}
		n, err := r.SubmitAndWait(batch)
		if err != nil || n != batch {
			t.Fatalf("SubmitAndWait = %d, %v", n, err)
		}
		if got := r.Reap(cqes); got != batch {
			t.Fatalf("after SubmitAndWait(%d): %d CQEs ready", batch, got)
		}
		for _, c := range cqes {
			want := int32(0)
			if c.UserData%2 == 0 {
				want = -int32(unix.ETIME)
			}
			if c.Res != want {
				t.Fatalf("CQE %+v, want res %d", c, want)
			}
		}
		total += batch
	}
	close(stop)
	wg.Wait()
	st := r.Stats()
	t.Logf("%d requests, %d signals sent, stats %+v", total, sent.Load(), st)
	if st.Interrupted == 0 {
		t.Errorf("no wait was interrupted by %d signals: the storm did not hit the waiting thread", sent.Load())
	}
}

func TestHotPathAllocs(t *testing.T) {
	r := newTestRing(t, Params{Entries: 64}, "io_uring")
	a := newArena(t, 8, 4096)
	path := tempFile(t, pattern(64*1024, 1))
	fd := openRaw(t, path, unix.O_RDONLY)
	cqes := make([]CQE, 64)
	allocs := testing.AllocsPerRun(200, func() {
		for i := 0; i < 8; i++ {
			s := r.GetSQE()
			Nop{}.Prep(s)
			s.SetUserData(uint64(i))
			s.SetFlags(0)
		}
		_, _ = r.Submit()
		_ = r.WaitCQE(8)
		_ = r.Reap(cqes)
		for i := 0; i < 8; i++ {
			s := r.GetSQE()
			Read{FD: int32(fd), Buf: a.Ptr(i), Len: 4096, Offset: uint64(i) * 4096}.Prep(s)
			s.SetUserData(uint64(i))
		}
		_, _ = r.SubmitAndWait(8)
		_ = r.Reap(cqes)
		_, _ = r.SubmitAndWaitTimeout(0, time.Millisecond)
		_ = r.Pending()
		_ = r.Stats()
	})
	if allocs != 0 {
		t.Errorf("hot path allocates %v times per run", allocs)
	}

	rp := newTestRing(t, Params{Entries: 16, SQPoll: true, SQThreadCPU: -1}, "IORING_SETUP_SQPOLL")
	allocs = testing.AllocsPerRun(100, func() {
		s := rp.GetSQE()
		Nop{}.Prep(s)
		_, _ = rp.SubmitAndWait(1)
		_ = rp.Reap(cqes)
	})
	if allocs != 0 {
		t.Errorf("SQPOLL hot path allocates %v times per run", allocs)
	}
}
