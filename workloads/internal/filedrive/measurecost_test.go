package filedrive

import (
	"testing"

	"github.com/ringbench/ringbench/internal/clock"
	"github.com/ringbench/ringbench/internal/result"
)

// BenchmarkMeasurementPerOp is what measuring one op costs the file driver: one latency histogram record,
// with latencies spread like real ones (0.5-100 µs), and the clock reads that time it. "clock-per-op" reads
// the clock twice per op, as the epoll and gostd engines do (issue, completion); "clock-per-batch" twice per
// batch of 32, as the uring engine does (one read per submit, one per reap). scripts/truth.sh sets these
// against the op time of the fastest backend.
func BenchmarkMeasurementPerOp(b *testing.B) {
	spread := make([]int64, 1024)
	r := NewRand(1)
	for i := range spread {
		spread[i] = 500 + int64(r.Next()%100_000)
	}
	for _, bc := range []struct {
		name  string
		batch int
	}{{"clock-per-op", 1}, {"clock-per-batch", 32}} {
		b.Run(bc.name, func(b *testing.B) {
			h := result.NewHistogram()
			var start, end int64
			for i := 0; i < b.N; i++ {
				if i%bc.batch == 0 {
					start = clock.Now()
					end = clock.Now()
				}
				_ = h.RecordValue(max(end-start, 1) + spread[i&1023])
			}
			b.StopTimer()
			if h.TotalCount() != int64(b.N) {
				b.Fatalf("recorded %d of %d", h.TotalCount(), b.N)
			}
		})
	}
}
