package sqpoll

// The sqpoll server is the io_uring server (package uring) on a ring with IORING_SETUP_SQPOLL: a kernel
// thread (iou-sqp-PID) picks submissions up, so submitting costs no syscall while it is awake; waiting for
// completions still enters the kernel, after spinning --cq-spin on the completion queue. The poll thread's
// CPU is charged to the server, and a run warns when it has no core of its own.

import (
	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/backends/uring"
	"github.com/ringbench/ringbench/internal/ring"
)

// NewServer implements backend.Builder: it starts an SQPOLL io_uring server. With cfg.Threads > 1 each
// loop's ring has its own poll thread.
func (Backend) NewServer(cfg backend.ServerConfig) (backend.Server, error) {
	return backend.NewThreaded(cfg, func(cfg backend.ServerConfig) (backend.Server, error) {
		p := ring.Params{SQPoll: true, SQThreadIdle: cfg.SQIdle, SQThreadCPU: cfg.SQCPU, SingleIssuer: true, NoSQArray: true, RegisterRingFD: true}
		s, err := uring.NewServer(cfg, p, "sqpoll")
		if err != nil {
			return nil, placementError(cfg.SQCPU, err)
		}
		s.AddWarning(backend.Warning{Kind: backend.WarnSQPollSharedCPU, Text: CoreWarning(cfg.SQCPU)})
		return s, nil
	})
}
