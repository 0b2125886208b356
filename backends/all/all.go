// Package all registers every backend with package backend; import it for its side effect where all of
// them must be known (tests that run over every backend).
package all

import (
	_ "github.com/ringbench/ringbench/backends/epoll"
	_ "github.com/ringbench/ringbench/backends/gostd"
	_ "github.com/ringbench/ringbench/backends/sqpoll"
	_ "github.com/ringbench/ringbench/backends/uring"
)
