package ring

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// newTestRing sets up a ring and closes it at cleanup. It skips the test
// only when the kernel lacks io_uring or the asked-for setup (need names the
// feature), never on other errors.
func newTestRing(t testing.TB, p Params, need string) *Ring {
	t.Helper()
	r, err := New(p)
	if err != nil {
		if errors.Is(err, ErrNotSupported) || errors.Is(err, unix.ENOSYS) {
			t.Skipf("kernel lacks %s: %v", need, err)
		}
		t.Fatalf("New(%+v): %v", p, err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// newArena maps an arena and unmaps it at cleanup. Tests reap every request
// before returning, so no request still points into it by then.
func newArena(t testing.TB, slots, size int) *Arena {
	t.Helper()
	a, err := NewArena(slots, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// cString copies s plus a NUL into arena slot i and returns its address.
func cString(t testing.TB, a *Arena, i int, s string) *byte {
	t.Helper()
	b := a.Slot(i)
	if len(s)+1 > len(b) {
		t.Fatalf("path %q too long for arena slot", s)
	}
	copy(b, s)
	b[len(s)] = 0
	return &b[0]
}

// tempFile creates a file with content and returns its path.
func tempFile(t testing.TB, content []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// openRaw opens path with a raw fd (no *os.File finalizer closing it under
// an in-flight request) and closes it at cleanup.
func openRaw(t testing.TB, path string, flags int) int {
	t.Helper()
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(fd) })
	return fd
}

// pendingPipeRead returns a pipe (closed at cleanup) and an arena (unmapped at cleanup) and queues a
// read of up to 64 bytes of the pipe into slot 0 with user data ud: a request that completes only once
// the test writes to p[1].
func pendingPipeRead(t testing.TB, r *Ring, ud uint64) (p [2]int, a *Arena) {
	t.Helper()
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(p[0]); _ = unix.Close(p[1]) })
	a = newArena(t, 1, 64)
	queue(t, r, Read{FD: int32(p[0]), Buf: a.Ptr(0), Len: 64, Offset: ^uint64(0)}, ud)
	return p, a
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) ^ seed
	}
	return b
}

// reapN reaps until n CQEs arrived, entering the kernel to wait. It fails
// the test after timeout instead of hanging: the wait itself is done by
// polling Reap with short sleeps, so a lost wakeup shows up as a failure.
func reapN(t testing.TB, r *Ring, n int, timeout time.Duration) []CQE {
	t.Helper()
	out := make([]CQE, 0, n)
	buf := make([]CQE, 64)
	deadline := time.Now().Add(timeout)
	for len(out) < n {
		k := r.Reap(buf[:min(len(buf), n-len(out))])
		out = append(out, buf[:k]...)
		if k == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("got %d of %d CQEs after %v (stats %+v)", len(out), n, timeout, r.Stats())
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	return out
}

// waitReap waits with WaitCQE for n CQEs and reaps them.
func waitReap(t testing.TB, r *Ring, n int) []CQE {
	t.Helper()
	out := make([]CQE, 0, n)
	buf := make([]CQE, 64)
	for len(out) < n {
		if err := r.WaitCQE(1); err != nil {
			t.Fatalf("WaitCQE: %v", err)
		}
		k := r.Reap(buf[:min(len(buf), n-len(out))])
		out = append(out, buf[:k]...)
	}
	return out
}

// queue fills an SQE with op and user data ud.
func queue(t testing.TB, r *Ring, op interface{ Prep(*SQE) }, ud uint64) *SQE {
	t.Helper()
	s := getSQE(t, r)
	op.Prep(s)
	s.SetUserData(ud)
	return s
}

// submitAndReap submits what is queued, waiting for n completions, and reaps them (waitReap).
func submitAndReap(t testing.TB, r *Ring, n int) []CQE {
	t.Helper()
	if _, err := r.SubmitAndWait(uint32(n)); err != nil {
		t.Fatal(err)
	}
	return waitReap(t, r, n)
}

func getSQE(t testing.TB, r *Ring) *SQE {
	t.Helper()
	s := r.GetSQE()
	if s == nil && r.sqpoll {
		// The poll thread may post CQEs before it moves the SQ head.
		if err := r.SQWait(); err != nil {
			t.Fatalf("SQWait: %v", err)
		}
		s = r.GetSQE()
	}
	if s == nil {
		t.Fatal("GetSQE: SQ full")
	}
	return s
}
