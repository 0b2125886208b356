package sqpoll_test

import (
	"runtime"
	"testing"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/testsupport"
	"golang.org/x/sys/unix"
)

// TestShareSQPoll: engines on three threads, each set up with ShareSQPoll pointing at the first, share its
// one poll thread (and report it); without it each starts its own.
func TestShareSQPoll(t *testing.T) {
	b, path := backendAndFile(t)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)

	const engines = 3
	base := testsupport.SettlePollThreads(t, 0) // Available's probe ring may still have its poll thread exiting
	for _, share := range []bool{false, true} {
		stop := make(chan struct{})
		exited := make(chan struct{}, engines)
		var engs []backend.FileEngine
		for i := 0; i < engines; i++ {
			cfg := backend.FileConfig{Options: backend.Options{Depth: 2, Batch: 1, SQCPU: -1}, FDs: []int{fd}, BufSize: 4096}
			if share && i > 0 {
				cfg.ShareSQPoll = engs[0]
			}
			got := make(chan backend.FileEngine)
			go func() {
				runtime.LockOSThread() // the thread is discarded with the goroutine
				defer func() { exited <- struct{}{} }()
				e, err := b.NewFileEngine(cfg)
				if err != nil {
					t.Errorf("engine %d (share %v): %v", i, share, err)
					got <- nil
					return
				}
				got <- e
				<-stop
				if err := e.Close(); err != nil {
					t.Error(err)
				}
			}()
			e := <-got
			if e == nil {
				close(stop)
				return
			}
			engs = append(engs, e)
		}
		want := engines
		if share {
			want = 1
			for i, e := range engs {
				// The first engine may miss its poll thread's tid (see testsupport.SettlePollThreads): it is only compared.
				if tid, first := e.Counters().PollThreadTID, engs[0].Counters().PollThreadTID; tid != first {
					t.Errorf("engine %d reports poll thread %d, want the shared %d", i, tid, first)
				}
			}
		}
		if got := testsupport.SettlePollThreads(t, base+want) - base; got != want {
			t.Errorf("share %v: %d new iou-sqp threads for %d engines, want %d", share, got, engines, want)
		}
		close(stop)
		for range engines {
			<-exited
		}
		testsupport.SettlePollThreads(t, base)
	}
}
