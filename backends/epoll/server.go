package epoll

// The epoll backend's server is internal/epollserver (which the load generator also runs as its upstream
// echo server); this file fits it to the backend.Server contract.

import (
	"fmt"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/epollserver"
	"golang.org/x/sys/unix"
)

// NewServer implements backend.Builder: it starts an epoll server's thread on cfg.ListenFD; Serve runs it.
// With cfg.Threads > 1 it is that many, each with its own thread and epoll instance (see
// backend.NewThreaded). cfg.EpollMode picks how connections are registered: level-triggered (the default),
// edge-triggered or oneshot (see epollserver.Mode).
func (Backend) NewServer(cfg backend.ServerConfig) (backend.Server, error) {
	return backend.NewThreaded(cfg, newServer)
}

func newServer(cfg backend.ServerConfig) (backend.Server, error) {
	if err := cfg.Prepare("epoll"); err != nil {
		return nil, err
	}
	var upstream string
	if cfg.Topology == backend.TopologyProxy {
		upstream = cfg.Upstream
	}
	if err := backend.CheckEpollMode(cfg.EpollMode); err != nil {
		unix.Close(cfg.ListenFD)
		return nil, fmt.Errorf("epoll server: %w", err)
	}
	s, err := epollserver.New(epollserver.Config{ListenFD: cfg.ListenFD, Upstream: upstream, MaxConns: cfg.MaxConns,
		Mode: serverMode(cfg.EpollMode)})
	if err != nil {
		return nil, err
	}
	return server{s}, nil
}

// serverMode maps a checked backend.Options.EpollMode to the server's.
func serverMode(mode string) epollserver.Mode {
	switch mode {
	case backend.EpollEdge:
		return epollserver.Edge
	case backend.EpollOneshot:
		return epollserver.Oneshot
	}
	return epollserver.Level
}

type server struct{ *epollserver.Server }

// Counters implements backend.Server: the epoll server has no ring.
func (server) Counters() backend.EngineCounters { return backend.EngineCounters{Enters: -1} }

// Warnings is empty for the epoll server; present so every server backend answers the same questions.
func (server) Warnings() []backend.Warning { return nil }
