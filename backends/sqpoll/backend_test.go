package sqpoll_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	backend "github.com/ringbench/ringbench/backends"
	_ "github.com/ringbench/ringbench/backends/sqpoll"
	"github.com/ringbench/ringbench/internal/testsupport"
	"golang.org/x/sys/unix"
)

// backendAndFile returns the sqpoll backend, skipping the test where it is not supported here, and a 4 KiB
// file for its engines to read.
func backendAndFile(t *testing.T) (backend.Backend, string) {
	t.Helper()
	b := testsupport.Lookup(t, backend.Lookup, "sqpoll")
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
	return b, path
}

// TestFileEnginePollThread: a sqpoll file engine reports its kernel poll thread, a thread of this
// process named iou-sqp-PID.
func TestFileEnginePollThread(t *testing.T) {
	b, path := backendAndFile(t)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer close(done)
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer unix.Close(fd)
		e, err := b.NewFileEngine(backend.FileConfig{Options: backend.Options{Depth: 2, Batch: 1, SQCPU: -1}, FDs: []int{fd}, BufSize: 4096})
		if err != nil {
			t.Error(err)
			return
		}
		defer e.Close()
		tid := e.Counters().PollThreadTID
		if tid == 0 {
			t.Error("sqpoll file engine reports poll thread 0")
			return
		}
		comm, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/comm")
		if err != nil {
			t.Errorf("poll thread %d: %v", tid, err)
			return
		}
		if !strings.HasPrefix(string(comm), "iou-sqp") {
			t.Errorf("poll thread %d is %q, not an iou-sqp thread", tid, strings.TrimSpace(string(comm)))
		}
	}()
	<-done
}
