package ring

import (
	"errors"

	"golang.org/x/sys/unix"
)

// ErrCQDropped is returned by the enter paths (Submit, SubmitAndWait,
// SubmitAndWaitTimeout, WaitCQE, SQWait) when io_uring_enter fails with
// EBADR: the kernel had to drop completions (the CQ overflowed and it could
// not keep the overflowing CQEs, or the kernel lacks FEAT_NODROP). Requests
// whose CQEs were dropped never report; counts of requests in flight are
// then wrong, so a caller should stop rather than wait for them.
// errors.Is(err, unix.EBADR) holds as well.
var ErrCQDropped error = cqDroppedError{}

type cqDroppedError struct{}

func (cqDroppedError) Error() string {
	return "io_uring: completions dropped (CQ overflow the kernel could not hold)"
}

func (cqDroppedError) Unwrap() error { return unix.EBADR }

// ErrMemoryKept is returned (wrapped) by Ring.Close when the last
// CancelAndDrain gave up with requests still in flight: buffer ring memory
// those requests may still write into is then left mapped (leaked) rather
// than unmapped under the kernel.
var ErrMemoryKept = errors.New("io_uring: buffer memory left mapped: requests may still be in flight")

// enterError maps a failed io_uring_enter's errno to the error the public
// enter paths return, without allocating.
func enterError(errno unix.Errno) error {
	if errno == unix.EBADR {
		return ErrCQDropped
	}
	return errno
}
