package sqpoll_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/backends/sqpoll"
	"golang.org/x/sys/unix"
)

// pollThreads counts this process's iou-sqp threads.
func pollThreads(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if comm, err := os.ReadFile("/proc/self/task/" + e.Name() + "/comm"); err == nil && strings.HasPrefix(string(comm), "iou-sqp-") {
			n++
		}
	}
	return n
}

// settle polls pollThreads until it returns want (a poll thread takes its iou-sqp name when it first runs,
// and leaves /proc a little after its last ring closes), and returns the last count.
func settle(t *testing.T, want int) int {
	t.Helper()
	n := pollThreads(t)
	for deadline := time.Now().Add(2 * time.Second); n != want && time.Now().Before(deadline); n = pollThreads(t) {
		time.Sleep(5 * time.Millisecond)
	}
	return n
}

// TestShareSQPoll: engines on three threads, each set up with ShareSQPoll pointing at the first, share its
// one poll thread (and report it); without it each starts its own.
func TestShareSQPoll(t *testing.T) {
	b := sqpoll.Backend{}
	if err := b.Available(); err != nil {
		if errors.Is(err, backend.ErrNotSupported) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)

	const engines = 3
	base := settle(t, 0) // Available's probe ring may still have its poll thread exiting
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
				// The first engine may miss its poll thread's tid (see settle): it is only compared.
				if tid, first := e.Counters().PollThreadTID, engs[0].Counters().PollThreadTID; tid != first {
					t.Errorf("engine %d reports poll thread %d, want the shared %d", i, tid, first)
				}
			}
		}
		if got := settle(t, base+want) - base; got != want {
			t.Errorf("share %v: %d new iou-sqp threads for %d engines, want %d", share, got, engines, want)
		}
		close(stop)
		for range engines {
			<-exited
		}
		settle(t, base)
	}
}
