//go:build linux

package kmatrix

import (
	"errors"
	"testing"

	"github.com/ringbench/ringbench/internal/ring/caps"
)

// ProbeCaps on the test machine's own kernel: both work from 6.0 on. Where io_uring is refused (seccomp,
// io_uring_disabled) the answer must be a "no" that says why, never a hang or a crash.
func TestProbeCapsHere(t *testing.T) {
	c := ProbeCaps()
	if c.Schema != CapsSchema {
		t.Fatalf("schema %q", c.Schema)
	}
	if err := caps.Setup(); err != nil {
		if c.BufRing.Supported || c.MultishotRecv.Supported || c.BufRing.Detail != err.Error() {
			t.Errorf("io_uring unavailable (%v) but caps say %+v", err, c)
		}
		t.Skipf("io_uring not available here: %v", err)
	}
	if err := caps.BufRing(); err != nil {
		if !errors.Is(err, caps.ErrNotSupported) || c.BufRing.Supported {
			t.Fatalf("buf ring: %v; caps %+v", err, c.BufRing)
		}
		t.Skipf("no provided buffer rings here (kernel before 5.19?): %s", c.BufRing.Detail)
	}
	if !c.BufRing.Supported || !c.MultishotRecv.Supported {
		t.Fatalf("buf ring %+v, multishot recv %+v", c.BufRing, c.MultishotRecv)
	}
}
