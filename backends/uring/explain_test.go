package uring

import (
	"errors"
	"fmt"
	"testing"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/ring"
	"golang.org/x/sys/unix"
)

// TestExplainMarksOnlyWhatIsForbidden: errors a kernel, a policy or a limit gives are "not supported here"
// (a run skips the backend, or exits 3 when it was named); anything else is a failure (exit 1).
func TestExplainMarksOnlyWhatIsForbidden(t *testing.T) {
	for _, c := range []struct {
		err       error
		forbidden bool
	}{
		{fmt.Errorf("io_uring_setup(entries=64): %w", unix.EINVAL), false},
		{fmt.Errorf("io_uring_setup: %w", unix.EFAULT), false},
		{fmt.Errorf("io_uring_setup: %w", unix.EPERM), true},
		{fmt.Errorf("io_uring_setup: %w", unix.ENOMEM), true},
		{fmt.Errorf("io_uring_setup: %w", unix.ENOSYS), true},
		{fmt.Errorf("io_uring_setup: %w", unix.EMFILE), true},
		{fmt.Errorf("io_uring_setup: %w (%w)", ring.ErrNotSupported, unix.EINVAL), true},
	} {
		got := Explain(c.err)
		if ns := errors.Is(got, backend.ErrNotSupported); ns != c.forbidden {
			t.Errorf("Explain(%v) = %v: not supported %v, want %v", c.err, got, ns, c.forbidden)
		}
		if !errors.Is(got, c.err) {
			t.Errorf("Explain(%v) = %v lost the error", c.err, got)
		}
	}
}
