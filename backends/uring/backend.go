// Package uring is the io_uring backend: many SQEs per io_uring_enter, batched reaping, one ring per
// worker thread set up with SINGLE_ISSUER|DEFER_TASKRUN where the kernel has them. Package sqpoll builds
// on it with a kernel thread that polls the submission queue.
package uring

import (
	"errors"
	"fmt"
	"sync"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/ring"
	"golang.org/x/sys/unix"
)

// Backend is the io_uring backend.
type Backend struct{}

func init() { backend.Register(Backend{}) }

// Name implements backend.Backend.
func (Backend) Name() string { return "uring" }

// Summary implements backend.Backend.
func (Backend) Summary() string {
	return "io_uring: --batch SQEs per io_uring_enter, batched reaping, SINGLE_ISSUER|DEFER_TASKRUN, linked open-read-close"
}

var (
	availOnce sync.Once
	availErr  error
)

// Available implements backend.Backend: it sets up (and closes) a small ring once.
func (Backend) Available() error {
	availOnce.Do(func() { availErr = CheckSetup(ring.Params{Entries: 4}) })
	return availErr
}

// CheckSetup tries a ring with p and explains a failure in plain words, wrapping backend.ErrNotSupported.
func CheckSetup(p ring.Params) error {
	r, err := ring.New(p)
	if err != nil {
		return Explain(err)
	}
	return r.Close()
}

// Explain turns a ring setup error into a sentence a user can act on.
func Explain(err error) error {
	switch {
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w: io_uring_setup refused (EPERM): kernel.io_uring_disabled, a seccomp filter or container policy forbids io_uring", backend.ErrNotSupported)
	case errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("%w: io_uring_setup missing (ENOSYS): kernel older than 5.1 or built without CONFIG_IO_URING", backend.ErrNotSupported)
	case errors.Is(err, unix.ENOMEM):
		return fmt.Errorf("%w: io_uring_setup: out of locked memory (ENOMEM): raise RLIMIT_MEMLOCK (ulimit -l)", backend.ErrNotSupported)
	case errors.Is(err, ring.ErrNotSupported):
		return fmt.Errorf("%w: %v", backend.ErrNotSupported, err)
	}
	return fmt.Errorf("%w: io_uring_setup: %v", backend.ErrNotSupported, err)
}

// NewFileEngine implements backend.Backend.
func (Backend) NewFileEngine(cfg backend.FileConfig) (backend.FileEngine, error) {
	return NewFileEngine(cfg, ring.Params{SingleIssuer: true, DeferTaskrun: true}, "uring")
}
