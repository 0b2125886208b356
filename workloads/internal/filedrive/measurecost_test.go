package filedrive

import (
	"testing"

	"time"

	"github.com/ringbench/ringbench/internal/clock"
	"github.com/ringbench/ringbench/internal/interval"
	"github.com/ringbench/ringbench/internal/result"
)

// BenchmarkMeasurementPerOp is what measuring one op costs the file driver: one latency histogram record,
// with latencies spread like real ones (0.5-100 µs), and the clock reads that time it. "clock-per-op" reads
// the clock twice per op, as the epoll and gostd engines do (issue, completion); "clock-per-batch" twice per
// batch of 32, as the uring engine does (one read per submit, one per reap). scripts/truth.sh sets these
// against the op time of the fastest backend. The "intervals/" variants (named apart, so that
// scripts/truth.sh's patterns do not take them) add the --interval series
// (package interval): one At per clock read after a batch, one Record per op.
func BenchmarkMeasurementPerOp(b *testing.B) {
	spread := make([]int64, 1024)
	r := NewRand(1)
	for i := range spread {
		spread[i] = 500 + int64(r.Next()%100_000)
	}
	for _, bc := range []struct {
		name      string
		batch     int
		intervals bool
	}{{"clock-per-op", 1, false}, {"clock-per-batch", 32, false},
		{"intervals/clock-per-op", 1, true}, {"intervals/clock-per-batch", 32, true}} {
		b.Run(bc.name, func(b *testing.B) {
			h := result.NewHistogram()
			// The drive loop's interval series, in steps of 100 µs so that the benchmark crosses thousands of
			// interval boundaries (closing one is the series' costly part) where a real run crosses tens.
			var series *interval.Recorder
			if bc.intervals {
				series = interval.New(clock.Now(), 100*time.Microsecond, time.Second)
			}
			var start, end int64
			for i := 0; i < b.N; i++ {
				if i%bc.batch == 0 {
					start = clock.Now()
					end = clock.Now()
					if series != nil {
						series.At(end)
					}
				}
				lat := max(end-start, 1) + spread[i&1023]
				_ = h.RecordValue(lat)
				if series != nil {
					series.Record(lat)
				}
			}
			b.StopTimer()
			if h.TotalCount() != int64(b.N) {
				b.Fatalf("recorded %d of %d", h.TotalCount(), b.N)
			}
		})
	}
}
