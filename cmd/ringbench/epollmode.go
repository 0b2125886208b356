package main

import (
	backend "github.com/ringbench/ringbench/backends"
	"github.com/urfave/cli/v2"
)

// epollModeFlag is --epoll-mode, for run and serve.
func epollModeFlag(category string) cli.Flag {
	return &cli.StringFlag{Name: "epoll-mode", Value: backend.EpollEdge, Category: category,
		Usage: "epoll server: edge (each connection registered once; level-triggered despite the name) or oneshot (EPOLLONESHOT, re-armed with epoll_ctl after every event: the pattern of threads sharing one epoll)"}
}

// checkEpollModeBackends refuses --epoll-mode oneshot when no epoll backend runs: it would change nothing.
func checkEpollModeBackends(mode string, backends []backend.Backend) error {
	if mode != backend.EpollOneshot {
		return nil
	}
	for _, b := range backends {
		if b.Name() == "epoll" {
			return nil
		}
	}
	return usageError("--epoll-mode %s: only the epoll backend has it, and it is not selected", mode)
}
