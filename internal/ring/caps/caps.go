// Package caps is the one place that decides what io_uring this kernel allows this process: whether a
// ring can be set up at all, which setup flags and opcodes the kernel accepts, and whether provided-buffer
// rings, multishot accept and multishot recv work. Backends' Available, the environment fingerprint,
// `ringbench probe` and the kernel matrix all ask here.
//
// Each capability is one small probe on a real, short-lived ring, run at most once per process and
// memoized (the model is cilium/ebpf's features package). A probe returns nil when the capability works,
// an error wrapping ErrNotSupported (an *Error, with the reason in plain words) when this kernel or this
// user cannot have it, and any other error when the probe itself could not decide (no loopback TCP, a
// wait that timed out). Setup errnos are turned into sentences in one place, Explain.
package caps

import (
	"errors"
	"sync"

	"golang.org/x/sys/unix"
)

// ErrNotSupported marks a capability, backend or feature that this kernel or this user cannot have.
// Errors wrapping it say why in plain words. backends.ErrNotSupported is the same value.
var ErrNotSupported = errors.New("not supported here")

// Error is a capability missing here. It wraps ErrNotSupported and, when there is one, the error that
// decided it (usually the errno, so errors.Is(err, unix.EPERM) works).
type Error struct {
	// Capability names what is missing: "io_uring", "setup flag SQPOLL", "opcode READ", ...
	Capability string
	// Reason says why in plain words, without the capability's name.
	Reason string
	// Errno is the errno that decided it; 0 when none did.
	Errno unix.Errno
	// Err is the underlying error, or nil.
	Err error
}

func (e *Error) Error() string {
	return ErrNotSupported.Error() + ": " + e.Capability + ": " + e.Reason
}

// Unwrap returns ErrNotSupported and the underlying error.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrNotSupported}
	}
	return []error{ErrNotSupported, e.Err}
}

// ErrnoOf returns the errno err wraps, or 0.
func ErrnoOf(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}

// Reason returns the plain-words reason of an error wrapping *Error, or err's text for any other error.
func Reason(err error) string {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Reason
	}
	return err.Error()
}

// memo runs a probe once per process and keeps its result. runs counts the probe's executions (tests
// check that a second call does not probe again).
type memo[T any] struct {
	once sync.Once
	v    T
	runs int
}

func (m *memo[T]) get(probe func() T) T {
	m.once.Do(func() {
		m.runs++
		m.v = probe()
	})
	return m.v
}
