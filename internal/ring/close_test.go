package ring

import (
	"errors"
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/ringbench/ringbench/internal/testsupport"
	"golang.org/x/sys/unix"
)

// TestEnterErrorEBADR checks the mapping of EBADR (completions dropped) to
// ErrCQDropped, which still matches the errno, and that other errnos pass
// through unchanged.
func TestEnterErrorEBADR(t *testing.T) {
	err := enterError(unix.EBADR)
	if !errors.Is(err, ErrCQDropped) || !errors.Is(err, unix.EBADR) {
		t.Fatalf("enterError(EBADR) = %v: want ErrCQDropped wrapping EBADR", err)
	}
	if w := fmt.Errorf("x: %w", err); !errors.Is(w, ErrCQDropped) {
		t.Fatal("wrapped ErrCQDropped not found by errors.Is")
	}
	for _, e := range []unix.Errno{unix.EAGAIN, unix.EBUSY, unix.ETIME, unix.EINTR, unix.EBADF} {
		if got := enterError(e); got != e || errors.Is(got, ErrCQDropped) {
			t.Errorf("enterError(%v) = %v", e, got)
		}
	}
	var errno unix.Errno
	if !errors.As(err, &errno) || errno != unix.EBADR {
		t.Errorf("errors.As(ErrCQDropped) = %v", errno)
	}
}

// TestCloseKeepsBufRingInFlight: a multishot recv on an idle socket holds
// the buffer group when the drain gives up. Closing the ring fd does not
// wait for the kernel to finish that request, so Close must leave the
// buffers mapped; after a drain that succeeds, it unmaps them.
func TestCloseKeepsBufRingInFlight(t *testing.T) {
	for _, gaveUp := range []bool{true, false} {
		t.Run(fmt.Sprintf("gaveUp=%v", gaveUp), func(t *testing.T) {
			r, err := New(Params{Entries: 8})
			if err != nil {
				t.Skipf("io_uring: %v", err)
			}
			defer r.Close()
			br, err := r.NewBufRing(3, 8, 4096)
			if err != nil {
				if errors.Is(err, ErrNotSupported) {
					t.Skipf("no provided buffer rings: %v", err)
				}
				t.Fatal(err)
			}
			bufAddr := uintptr(unsafe.Pointer(&br.Buf(0)[0]))
			sp := socketPair(t)
			Recv{FD: int32(sp[0]), Multishot: true, BufferSelect: true, BufGroup: 3}.Prep(getSQE(t, r))
			if _, err := r.Submit(); err != nil {
				t.Fatal(err)
			}
			inflight := 1
			d := 5 * time.Second
			if gaveUp {
				d = 0 // no time at all: the recv is certainly still in flight
			}
			derr := r.CancelAndDrain(1, &inflight, nil, d)
			if gaveUp != errors.Is(derr, ErrDrainTimeout) {
				t.Fatalf("CancelAndDrain(%v): %v", d, derr)
			}
			testsupport.CheckMemoryAfterClose(t, "buffer ring memory", bufAddr, gaveUp, r.Close(), ErrMemoryKept, sp[1])
		})
	}
}
