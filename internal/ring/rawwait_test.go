package ring

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRawWaitsKeepTheP blocks a goroutine in WaitCQE (a read of an empty pipe) and looks at it in
// goroutine dumps. A plain wait shows the scheduler's syscall state, in which sysmon may hand its P to
// another thread; with SetRawWaits the goroutine is never in that state, and a dump (which stops the
// world) still gets through promptly: the signal that stops the world interrupts the wait (EINTR), and the
// retry stops at the next preemption point.
func TestRawWaitsKeepTheP(t *testing.T) {
	for _, raw := range []bool{false, true} {
		t.Run(fmt.Sprintf("raw=%v", raw), func(t *testing.T) {
			r := newTestRing(t, Params{Entries: 4}, "io_uring")
			r.SetRawWaits(raw)
			p, _ := pendingPipeRead(t, r, 0)
			if _, err := r.Submit(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				done <- r.WaitCQE(1)
			}()
			// Should a dump hang behind the wait, this completes the read and lets the test fail instead.
			release := time.AfterFunc(30*time.Second, func() { _, _ = unix.Write(p[1], []byte("late")) })
			defer release.Stop()

			// Sightings of the waiter inside io_uring_enter, and how many showed the syscall state. A plain
			// wait is in that state from entersyscall on, so the first sighting after it blocked shows it.
			const want = 20
			seen, inSyscall := 0, 0
			for seen < want && !(inSyscall > 0 && !raw) {
				if state, ok := waiterState(); ok {
					seen++
					if state == "syscall" {
						inSyscall++
					}
				}
				time.Sleep(time.Millisecond)
			}
			if !release.Stop() {
				t.Fatal("a goroutine dump waited for the read to complete: the wait held up stopping the world")
			}
			if _, err := unix.Write(p[1], []byte("x")); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("WaitCQE: %v", err)
			}
			if c := reapN(t, r, 1, time.Second)[0]; c.Res != 1 {
				t.Fatalf("read CQE %+v", c)
			}
			switch {
			case raw && inSyscall > 0:
				t.Errorf("raw waits: %d of %d sightings in the syscall state, want none", inSyscall, seen)
			case !raw && inSyscall == 0:
				t.Errorf("plain waits: none of %d sightings in the syscall state", seen)
			}
		})
	}
}

// waiterState returns the state ("syscall", "running", "runnable", ...) of the goroutine blocked in
// (*Ring).WaitCQE, once it is inside (*Ring).enter.
func waiterState() (string, bool) {
	buf := make([]byte, 1<<20)
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if !strings.Contains(g, "ring.(*Ring).WaitCQE") || !strings.Contains(g, "ring.(*Ring).enter") {
			continue
		}
		// "goroutine 7 [syscall, locked to thread]:"
		head, _, _ := strings.Cut(g, "\n")
		_, state, ok := strings.Cut(head, "[")
		if !ok {
			return "", false
		}
		state, _, _ = strings.Cut(state, "]")
		state, _, _ = strings.Cut(state, ",")
		return state, true
	}
	return "", false
}
