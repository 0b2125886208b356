package main

import (
	backend "github.com/ringbench/ringbench/backends"
	"github.com/urfave/cli/v2"
)

// epollModeFlag is --epoll-mode, for run and serve.
func epollModeFlag(category string) cli.Flag {
	return &cli.StringFlag{Name: "epoll-mode", Value: backend.EpollLevel, Category: category,
		Usage: "epoll server: level (each connection registered once, level-triggered, one read per readiness), " +
			"edge (registered once with EPOLLET for input and output: each readiness drained with reads until EAGAIN, backlogs written until EAGAIN and resumed on EPOLLOUT) " +
			"or oneshot (EPOLLONESHOT, re-armed with epoll_ctl after every event: the pattern of threads sharing one epoll)"}
}

// checkEpollMode is run's and serve's check of --epoll-mode: a value it knows, and for a mode other than
// the default, the epoll backend among backends (other backends would ignore it, and the results would
// claim a mode that changed nothing).
func checkEpollMode(mode string, backends []backend.Backend) error {
	if err := backend.CheckEpollMode(mode); err != nil {
		return usageError("%v", err)
	}
	if backend.EpollModeDefault(mode) {
		return nil
	}
	for _, b := range backends {
		if b.Name() == "epoll" {
			return nil
		}
	}
	return usageError("--epoll-mode %s: only the epoll backend has it, and it is not selected", mode)
}
