package uring

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unsafe"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/ring"
	"github.com/ringbench/ringbench/internal/testsupport"
	"golang.org/x/sys/unix"
)

// engineParams are the file engine setups under test: the uring backend's and the sqpoll backend's.
var engineParams = []struct {
	name string
	p    ring.Params
}{
	{"uring", ring.Params{SingleIssuer: true, DeferTaskrun: true}},
	{"sqpoll", ring.Params{SQPoll: true, SQThreadCPU: -1, SingleIssuer: true}},
}

func newEngine(t *testing.T, cfg backend.FileConfig, p ring.Params, name string) *FileEngine {
	e, err := NewFileEngine(cfg, p, name)
	if err != nil {
		if errors.Is(err, backend.ErrNotSupported) || errors.Is(err, ring.ErrNotSupported) {
			t.Skipf("%s: %v", name, err)
		}
		t.Fatalf("NewFileEngine: %v", err)
	}
	return e
}

// TestFileEngineKeepP: FileConfig.KeepP is what makes the engine's ring wait without the scheduler's
// syscall bookkeeping (ring.SetRawWaits, whose behaviour the ring's own tests check).
func TestFileEngineKeepP(t *testing.T) {
	for _, ep := range engineParams {
		for _, keep := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/keep=%v", ep.name, keep), func(t *testing.T) {
				testsupport.OnThreadWithin(t, 30*time.Second, func() {
					cfg := backend.FileConfig{Options: backend.Options{Depth: 4, Batch: 2, SQCPU: -1}, BufSize: 4096, KeepP: keep}
					e := newEngine(t, cfg, ep.p, ep.name)
					if got := e.Ring().RawWaits(); got != keep {
						t.Errorf("KeepP %v: ring waits raw %v", keep, got)
					}
					if err := e.Close(); err != nil {
						t.Error(err)
					}
				})
			})
		}
	}
}

// TestFileEngineCloseAfterPrepError: a batch whose second request is invalid fails in prep, after the
// first took an SQE and was counted as outstanding. Close must still return (it used to wait, without a
// timeout, for the completion of an SQE never submitted), and cleanly: the valid read is submitted and
// reaped.
func TestFileEngineCloseAfterPrepError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ep := range engineParams {
		t.Run(ep.name, func(t *testing.T) {
			testsupport.OnThreadWithin(t, 30*time.Second, func() {
				fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
				if err != nil {
					t.Error(err)
					return
				}
				defer unix.Close(fd)
				cfg := backend.FileConfig{Options: backend.Options{Depth: 4, Batch: 2, SQCPU: -1}, FDs: []int{fd}, BufSize: 4096}
				e := newEngine(t, cfg, ep.p, ep.name)
				reqs := []backend.Request{
					{Kind: backend.OpRead, Buf: 0, Len: 4096, Tag: 1},
					{Kind: backend.OpKind(99), Buf: 1, Len: 4096, Tag: 2},
				}
				out := make([]backend.Completion, cfg.Depth)
				if _, err := e.Submit(reqs, 1, out); err == nil {
					t.Error("Submit with an invalid request kind succeeded")
				}
				if err := e.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
		})
	}
}

// TestFileEngineCloseKeepsArenaInFlight: a read from a pipe nobody writes to is in flight when Close
// runs. With no time to drain, Close must return, and the arena the read points into must stay mapped
// (closing the ring fd does not wait for the kernel to finish the request). With time, the read is
// cancelled and reaped first, and the arena is unmapped.
func TestFileEngineCloseKeepsArenaInFlight(t *testing.T) {
	for _, ep := range engineParams {
		for _, gaveUp := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/gaveUp=%v", ep.name, gaveUp), func(t *testing.T) {
				var p [2]int
				if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
					t.Fatal(err)
				}
				defer unix.Close(p[0])
				defer unix.Close(p[1])
				var arena uintptr
				var cerr error
				testsupport.OnThreadWithin(t, 30*time.Second, func() {
					cfg := backend.FileConfig{Options: backend.Options{Depth: 2, Batch: 1, SQCPU: -1}, FDs: []int{p[0]}, BufSize: 4096}
					e := newEngine(t, cfg, ep.p, ep.name)
					arena = uintptr(unsafe.Pointer(&e.Buffer(0)[0]))
					out := make([]backend.Completion, cfg.Depth)
					if _, err := e.Submit([]backend.Request{{Kind: backend.OpRead, Buf: 0, Len: 4096, Offset: -1, Tag: 1}}, 0, out); err != nil {
						t.Errorf("Submit: %v", err)
					}
					if gaveUp {
						e.drainTimeout = 0
					}
					cerr = e.Close()
				})
				testsupport.CheckMemoryAfterClose(t, "arena", arena, gaveUp, cerr, ring.ErrDrainTimeout, p[1])
			})
		}
	}
}
