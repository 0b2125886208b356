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

// TestFileEngineSubmitsWhenEarlierCompletionsSuffice: a Submit with new requests and a minimum to wait for
// hands the requests to the kernel even when completions already posted meet the minimum. Reaping those
// first and returning left the new SQEs queued until the next call: a batch that reached the kernel a
// call late, its latency stretched and the next batch doubled. The ring runs without DEFER_TASKRUN (as on
// kernels that refuse it), where a completion is posted without an enter: the first read, from a pipe,
// completes when this thread writes to the pipe.
func TestFileEngineSubmitsWhenEarlierCompletionsSuffice(t *testing.T) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	testsupport.OnThreadWithin(t, 30*time.Second, func() {
		cfg := backend.FileConfig{Options: backend.Options{Depth: 2, Batch: 1, SQCPU: -1}, FDs: []int{p[0]}, BufSize: 4096}
		e := newEngine(t, cfg, ring.Params{SingleIssuer: true}, "uring")
		defer func() {
			if err := e.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}()
		out := make([]backend.Completion, cfg.Depth)
		read := func(slot int32) []backend.Request {
			return []backend.Request{{Kind: backend.OpRead, Buf: slot, Len: 4096, Offset: -1, Tag: uint64(slot)}}
		}
		if n, err := e.Submit(read(0), 0, out); err != nil || n != 0 {
			t.Fatalf("first Submit: %d completions, %v; want 0 (the pipe is empty)", n, err)
		}
		if _, err := unix.Write(p[1], []byte("x")); err != nil {
			t.Fatal(err)
		}
		// Posted on the way back from the write (task work) or, on kernels that hand pipe reads to a
		// worker thread, by that thread: wait for it, bounded.
		for deadline := time.Now().Add(10 * time.Second); e.r.CQReady() != 1; {
			if time.Now().After(deadline) {
				t.Fatalf("%d CQEs posted 10 s after the write, want 1 (the ring is meant to post without an enter)", e.r.CQReady())
			}
			time.Sleep(time.Millisecond)
		}
		n, err := e.Submit(read(1), 1, out)
		if err != nil || n != 1 || out[0].Tag != 0 || out[0].Res != 1 {
			t.Fatalf("second Submit: %d completions (%+v), %v; want the first read's, of 1 byte", n, out[:n], err)
		}
		if pending := e.r.Pending(); pending != 0 {
			t.Errorf("%d SQEs left unsubmitted after Submit returned: the second read did not reach the kernel", pending)
		}
	})
}
