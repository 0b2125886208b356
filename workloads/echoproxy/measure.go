package echoproxy

import (
	"github.com/ringbench/ringbench/internal/measure"
	"github.com/ringbench/ringbench/internal/result"
)

type span interface {
	End(ops int64, s *result.Sample) error
	Close()
}

// beginSpan brackets the server process (this one) and, apart, the server's I/O threads.
func beginSpan(m *measure.Meter, tids []int) (span, error) {
	scope := measure.Scope{BackendTIDs: tids}
	s, err := m.Begin(scope)
	if err != nil {
		return nil, err
	}
	return s, nil
}
