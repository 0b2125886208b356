// Package uring is the io_uring backend: many SQEs per io_uring_enter, batched reaping, one ring per
// worker thread set up with SINGLE_ISSUER|DEFER_TASKRUN where the kernel has them. Package sqpoll builds
// on it with a kernel thread that polls the submission queue.
package uring

import (
	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/ring"
	"github.com/ringbench/ringbench/internal/ring/caps"
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

// Available implements backend.Backend: whether a plain ring can be set up (probed once, see caps.Setup).
func (Backend) Available() error { return caps.Setup() }

// Explain turns a ring setup error into one wrapping backend.ErrNotSupported that a user can act on
// (caps.SetupError).
func Explain(err error) error { return caps.SetupError(err) }

// NewFileEngine implements backend.Backend.
func (Backend) NewFileEngine(cfg backend.FileConfig) (backend.FileEngine, error) {
	return NewFileEngine(cfg, ring.Params{SingleIssuer: true, DeferTaskrun: true, NoSQArray: true, RegisterRingFD: true}, "uring")
}
