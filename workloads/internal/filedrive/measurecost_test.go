package filedrive

import (
	"testing"

	"github.com/ringbench/ringbench/internal/clock"
	"github.com/ringbench/ringbench/internal/result"
)

// BenchmarkMeasurementPerOp is the most that measuring one op costs the file driver: two clock reads (issue
// and completion, as backends that time each op take them; uring takes one per batch) and one latency
// histogram record, with latencies spread like real ones (0.5-100 µs). scripts/truth.sh sets it against
// the op time of the fastest backend.
func BenchmarkMeasurementPerOp(b *testing.B) {
	h := result.NewHistogram()
	r := NewRand(1)
	spread := make([]int64, 1024)
	for i := range spread {
		spread[i] = 500 + int64(r.Next()%100_000)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := clock.Now()
		end := clock.Now()
		_ = h.RecordValue(max(end-start, 1) + spread[i&1023])
	}
	b.StopTimer()
	if h.TotalCount() != int64(b.N) {
		b.Fatalf("recorded %d of %d", h.TotalCount(), b.N)
	}
}
