package echoproxy

import (
	"fmt"

	backend "github.com/ringbench/ringbench/backends"
)

// How the control channel names the epoll server's mode (ctlResponse.EpollMode). Servers from before the
// edge-triggered mode named their level-triggered default "edge" (and loads then recorded no epoll-mode for
// it); a server now names the default "" and the edge-triggered mode wireEpollEdge, which loads of that
// time refuse as unknown rather than record as their default.
const wireEpollEdge = "edge-triggered"

// epollModeToWire is what a server running in mode sends.
func epollModeToWire(mode string) string {
	switch mode {
	case backend.EpollEdge:
		return wireEpollEdge
	case backend.EpollOneshot:
		return backend.EpollOneshot
	}
	return ""
}

// epollModeFromWire is the mode of a server that sent wire: "" for the level-triggered default.
func epollModeFromWire(wire string) (string, error) {
	switch wire {
	case "", backend.EpollLevel, backend.EpollEdge: // "edge": an older server's level-triggered default
		return "", nil
	case wireEpollEdge:
		return backend.EpollEdge, nil
	case backend.EpollOneshot:
		return backend.EpollOneshot, nil
	}
	return "", fmt.Errorf("unknown %s %q", backend.FlagEpollMode, wire)
}
