// Package uring is the io_uring backend: many SQEs per io_uring_enter, batched reaping, one ring per
// worker thread set up with SINGLE_ISSUER|DEFER_TASKRUN where the kernel has them. Package sqpoll builds
// on it with a kernel thread that polls the submission queue.
package uring

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/ring"
	"github.com/ringbench/ringbench/internal/ring/caps"
)

// Backend builds the io_uring backend's engines and servers.
type Backend struct{}

func init() {
	backend.Register(backend.Description{
		Name:    "uring",
		Summary: "io_uring: --batch SQEs per io_uring_enter, batched reaping, SINGLE_ISSUER|DEFER_TASKRUN, linked open-read-close",
		// Whether a plain ring can be set up (probed once).
		Available: caps.Setup,
	}, Backend{})
}

// Explain turns a ring setup error into one a user can act on. Only what this kernel, its policy or this
// process's limits forbid (ENOSYS, EPERM, ENOMEM from RLIMIT_MEMLOCK, no descriptor left, a flag the
// kernel does not know) wraps backend.ErrNotSupported, explained by caps.SetupError: a run skips such a
// backend. Anything else (an EINVAL left after every fallback, say: parameters ringbench got wrong) is a
// failure, so that it cannot pass for "not supported here" and vanish from a run that exits 0.
func Explain(err error) error {
	if err == nil {
		return nil
	}
	if forbidden(err) {
		return caps.SetupError(err)
	}
	return fmt.Errorf("io_uring setup failed: %w", err)
}

// forbidden reports whether a setup or registration error means the kernel, a policy or a limit refuses,
// rather than that the request was wrong.
func forbidden(err error) bool {
	if errors.Is(err, ring.ErrNotSupported) || errors.Is(err, backend.ErrNotSupported) {
		return true
	}
	switch caps.ErrnoOf(err) {
	case unix.ENOSYS, unix.EPERM, unix.ENOMEM, unix.EMFILE, unix.ENFILE:
		return true
	}
	return false
}

// NewFileEngine implements backend.Builder.
func (Backend) NewFileEngine(cfg backend.FileConfig) (backend.FileEngine, error) {
	return NewFileEngine(cfg, ring.Params{SingleIssuer: true, DeferTaskrun: true, NoSQArray: true, RegisterRingFD: true}, "uring")
}
