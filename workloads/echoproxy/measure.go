package echoproxy

import (
	"github.com/ringbench/ringbench/internal/measure"
	"github.com/ringbench/ringbench/internal/result"
)

type span interface {
	End(ops int64, s *result.Sample) error
	Close()
}

// beginSpan brackets the server process (this one) and, apart, the server's I/O threads; ring says the
// server does its I/O through io_uring (its tracepoints are counted too).
func beginSpan(m *measure.Meter, tids []int, ring bool) (span, error) {
	scope := measure.Scope{BackendTIDs: tids, Ring: ring}
	s, err := m.Begin(scope)
	if err != nil {
		return nil, err
	}
	return s, nil
}
