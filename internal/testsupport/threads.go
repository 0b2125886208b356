// Package testsupport holds helpers that the tests of more than one package need: threads that come and go
// on demand. It is imported only from _test.go files.
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
