//go:build linux

package kmatrix

import (
	"strings"
	"testing"
)

// The structures must have the kernel's sizes (include/uapi/linux/io_uring.h).
func TestIOUringLayouts(t *testing.T) {
	for _, tc := range []struct {
		name      string
		got, want uintptr
	}{
		{"io_uring_params", sizeofParams, 120},
		{"io_uring_sqe", sizeofSQE, 64},
		{"io_uring_cqe", sizeofCQE, 16},
		{"io_uring_buf_reg", sizeofBufReg, 40},
	} {
		if tc.got != tc.want {
			t.Errorf("sizeof(%s) = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

// ProbeCaps on the test machine's own kernel: both work from 6.0 on. Where io_uring is refused (seccomp,
// io_uring_disabled) the answer must be a "no" that says why, never a hang or a crash.
func TestProbeCapsHere(t *testing.T) {
	c := ProbeCaps()
	if c.Schema != CapsSchema {
		t.Fatalf("schema %q", c.Schema)
	}
	if strings.HasPrefix(c.BufRing.Detail, "io_uring_setup") {
		t.Skipf("io_uring not available here: %s", c.BufRing.Detail)
	}
	if !c.BufRing.Supported {
		t.Skipf("no provided buffer rings here (kernel before 5.19?): %s", c.BufRing.Detail)
	}
	if !c.MultishotRecv.Supported && !strings.Contains(c.MultishotRecv.Detail, "EINVAL") {
		t.Fatalf("multishot recv failed for a reason other than an old kernel: %s", c.MultishotRecv.Detail)
	}
	t.Logf("buf ring: %s; multishot recv: %v %s", c.BufRing.Detail, c.MultishotRecv.Supported, c.MultishotRecv.Detail)
}
