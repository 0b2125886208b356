// Package testsupport holds helpers that the tests of more than one package need: threads locked, exiting
// and awaited on demand, this process's mappings and descriptors, test children with io_uring refused,
// servers served until the test's cleanup, socket pairs, tmpfs mounts, and charts' SVG parsed. It is
// imported only from _test.go files.
package testsupport

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// GoExitingThread runs body on a new goroutine locked to a thread other than the main thread and never
// unlocked, so that the thread exits when body returns. (The main thread cannot exit: Go would park it for
// good instead.) It returns once body has started.
func GoExitingThread(body func(tid int)) {
	var holds []chan struct{}
	defer func() {
		for _, h := range holds {
			close(h)
		}
	}()
	for {
		ok := make(chan bool)
		hold := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			if unix.Gettid() == os.Getpid() {
				ok <- false
				<-hold // keep the main thread busy so that the next try lands elsewhere
				runtime.UnlockOSThread()
				return
			}
			ok <- true
			body(unix.Gettid())
		}()
		if <-ok {
			return
		}
		holds = append(holds, hold)
	}
}

// WaitThreadGone waits up to timeout for thread tid of this process to leave /proc, and fails the test when
// it does not.
func WaitThreadGone(tb testing.TB, tid int, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid)); err != nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatal("thread did not exit")
		}
		time.Sleep(time.Millisecond)
	}
}

// OnThread runs f on a goroutine locked to an OS thread that is never unlocked, so that the thread exits with
// f (with whatever f bound to it: a SINGLE_ISSUER ring, an affinity), and waits for f to return.
func OnThread(f func()) {
	<-goOnThread(f)
}

// OnThreadWithin is OnThread that fails the test if f has not returned within limit, instead of hanging
// the suite.
func OnThreadWithin(tb testing.TB, limit time.Duration, f func()) {
	tb.Helper()
	select {
	case <-goOnThread(f):
	case <-time.After(limit):
		tb.Fatalf("still running after %v: hung", limit)
	}
}

func goOnThread(f func()) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer close(done)
		f()
	}()
	return done
}
