package echoproxy

import (
	"github.com/ringbench/ringbench/internal/measure"
	"github.com/ringbench/ringbench/internal/result"
)

type span interface {
	End(ops int64, s *result.Sample) error
	Close()
}

// beginSpan brackets the server process (this one) and, apart, the server's I/O thread.
func beginSpan(m *measure.Meter, tid int) (span, error) {
	scope := measure.Scope{}
	if tid > 0 {
		scope.BackendTIDs = []int{tid}
	}
	s, err := m.Begin(scope)
	if err != nil {
		return nil, err
	}
	return s, nil
}
