package serverthread

import (
	"errors"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSetupErrorRunsCleanup(t *testing.T) {
	var th Thread
	cleaned := false
	want := errors.New("no")
	err := th.Start("test", func() error {
		if _, err := th.OpenWake(unix.EFD_CLOEXEC); err != nil {
			return err
		}
		return want
	}, func() error { t.Error("loop ran"); return nil }, func() { cleaned = true })
	if !errors.Is(err, want) || !cleaned {
		t.Fatalf("Start: %v, cleanup ran: %v", err, cleaned)
	}
	if th.wakeFD != -1 {
		t.Fatalf("wake eventfd %d left open", th.wakeFD)
	}
}

func TestServeUntilClose(t *testing.T) {
	var th Thread
	var wake, loopTID int
	cleaned := make(chan int, 1)
	loop := func() error {
		loopTID = unix.Gettid()
		var b [8]byte
		if _, err := unix.Read(wake, b[:]); err != nil { // blocks until Close writes
			return err
		}
		if !th.Closing.Load() {
			return errors.New("woken before Closing was set")
		}
		return nil
	}
	setup := func() (err error) {
		wake, err = th.OpenWake(unix.EFD_CLOEXEC)
		return err
	}
	if err := th.Start("test", setup, loop, func() { cleaned <- unix.Gettid() }); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- th.Serve() }()
	for !th.started.Load() {
		runtime.Gosched()
	}
	if err := th.Serve(); err == nil {
		t.Fatal("second Serve: no error")
	}
	th.Close()
	th.Close()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if tid := <-cleaned; tid != th.ThreadID() || loopTID != th.ThreadID() {
		t.Fatalf("loop on %d, cleanup on %d, thread %d: want one thread", loopTID, tid, th.ThreadID())
	}
}

func TestCloseBeforeServe(t *testing.T) {
	var th Thread
	cleaned := false
	if err := th.Start("test", func() error { return nil }, func() error { t.Error("loop ran"); return nil },
		func() { cleaned = true }); err != nil {
		t.Fatal(err)
	}
	th.Close()
	if !cleaned {
		t.Fatal("cleanup did not run")
	}
}

func TestCountersStats(t *testing.T) {
	var c Counters
	c.Accepted.Add(3)
	c.Rejected.Add(1)
	c.Open.Add(2)
	c.BytesIn.Add(100)
	c.Paused.Add(4)
	c.Errors.Add(5)
	if got, want := c.Stats(), (Stats{Accepted: 3, Rejected: 1, Open: 2, BytesIn: 100, Paused: 4, Errors: 5}); got != want {
		t.Fatalf("Stats %+v, want %+v", got, want)
	}
}

// TestServeAndCloseBeforeTheThreadWaits calls Serve and then Close while setup still runs, so both have
// happened before the thread waits for either: the loop must still run (and see Closing), every time.
func TestServeAndCloseBeforeTheThreadWaits(t *testing.T) {
	for i := range 32 {
		var th Thread
		ran := false
		served, closed := make(chan error, 1), make(chan struct{})
		setup := func() error {
			go func() { served <- th.Serve() }()
			<-th.start // Serve has been called
			go func() { th.Close(); close(closed) }()
			<-th.quit // ... and Close
			return nil
		}
		loop := func() error {
			if !th.Closing.Load() {
				return errors.New("loop ran before Close")
			}
			ran = true
			return nil
		}
		if err := th.Start("test", setup, loop, func() {}); err != nil {
			t.Fatal(err)
		}
		if err := <-served; err != nil {
			t.Fatal(err)
		}
		<-closed
		if !ran {
			t.Fatalf("round %d: Serve was called but the loop never ran", i)
		}
	}
}
