// Package interval records a sample as a time series: its ops and p99 latency in each fixed slice of its
// window (--interval), so that what changes within a sample (page-cache eviction, an SQPOLL thread going
// idle, throttling) shows over time instead of vanishing into the sample's totals.
//
// A Recorder is fed by a request loop with the clock readings the loop already takes: At once per reap with
// the time the completions were seen, Record once per completed op with its latency. Neither allocates
// (the slots are made up front for the sample's length) nor reads the clock. Latency is counted in
// log-linear buckets, 16 per power of two, reset per interval: p99 is then the top of the bucket holding
// it, at most 1/16 (6.25%) above the true value, an upper bound like HdrHistogram's highest equivalent
// value. The sample's own HdrHistogram stays the exact record; the series shows its shape in time.
package interval

import (
	"math/bits"
	"time"

	"github.com/ringbench/ringbench/internal/result"
)

// Min is the shortest interval accepted: shorter ones hold too few ops for a p99 on the slower workloads.
const Min = 10 * time.Millisecond

const (
	subBits = 4
	sub     = 1 << subBits // buckets per power of two
	// buckets covers every positive int64: values below 2*sub exactly, then sub per power of two.
	buckets = (63-subBits-1)*sub + 2*sub
	// maxPrealloc bounds the slots made up front (an hour at 100 ms is 36,000); a longer sample appends,
	// once per interval, never per op.
	maxPrealloc = 1 << 16
)

// Recorder keeps one sample's intervals. The zero value is not usable; see New.
type Recorder struct {
	start, width int64
	curStart     int64 // the current interval is (curStart, curStart+width]
	curEnd       int64
	ops          int64
	counts       [buckets]uint64
	done         []result.Interval
}

// New returns a recorder for a sample that starts at start (clock.Now nanoseconds) and is meant to last
// d, in intervals of every; nil when every is not positive (intervals off). Record and At must then not be
// called: the loop checks for nil once per reap.
func New(start int64, every, d time.Duration) *Recorder {
	if every <= 0 {
		return nil
	}
	n := min(int(d/every)+2, maxPrealloc)
	return &Recorder{start: start, width: int64(every), curStart: start, curEnd: start + int64(every),
		done: make([]result.Interval, 0, n)}
}

// At says that the clock read now; the ops recorded next completed then. Intervals are half-open on the
// left, (start+i*width, start+(i+1)*width], so that the sample's last reading always falls inside the last
// interval and never starts an empty one.
func (r *Recorder) At(now int64) {
	if now <= r.curEnd {
		return
	}
	r.advance(now)
}

func (r *Recorder) advance(now int64) {
	r.close(r.width)
	// Intervals the loop slept through (a stalled Submit) hold no op: they are recorded as such.
	for now > r.curEnd+r.width {
		r.done = append(r.done, result.Interval{StartNs: r.curEnd - r.start, LengthNs: r.width})
		r.curStart, r.curEnd = r.curEnd, r.curEnd+r.width
	}
	r.curStart, r.curEnd = r.curEnd, r.curEnd+r.width
}

// Record counts one op of latency lat nanoseconds (≥ 1) in the current interval.
func (r *Recorder) Record(lat int64) {
	r.ops++
	r.counts[bucketOf(lat)]++
}

// Finish closes the last interval at end (the sample's last clock reading) and returns every interval.
// Their ops sum to the ops recorded; there are ceil((end-start)/width) of them, the last one possibly
// shorter.
func (r *Recorder) Finish(end int64) []result.Interval {
	if r == nil {
		return nil
	}
	r.At(end)
	if end > r.curStart || r.ops > 0 {
		r.close(max(end-r.curStart, 0))
	}
	return r.done
}

// close appends the current interval, length ns long, and clears its counts.
func (r *Recorder) close(length int64) {
	iv := result.Interval{StartNs: r.curStart - r.start, LengthNs: length, Ops: r.ops}
	if r.ops > 0 {
		iv.P99Ns = r.p99()
		r.counts = [buckets]uint64{}
	}
	r.done = append(r.done, iv)
	r.ops = 0
}

// p99 is the top of the bucket holding the current interval's 99th percentile: the smallest bucket at or
// below which at least 99% of its ops fall.
func (r *Recorder) p99() int64 {
	rank := (uint64(r.ops)*99 + 99) / 100
	var seen uint64
	for i, c := range r.counts {
		seen += c
		if seen >= rank {
			return bucketTop(i)
		}
	}
	return bucketTop(buckets - 1)
}

// bucketOf is v's bucket: v itself below 2*sub, then sub buckets per power of two.
func bucketOf(v int64) int {
	u := uint64(max(v, 0))
	if u < 2*sub {
		return int(u)
	}
	shift := bits.Len64(u) - (subBits + 1)
	return shift*sub + int(u>>shift)
}

// bucketTop is the largest value in bucket i.
func bucketTop(i int) int64 {
	if i < 2*sub {
		return int64(i)
	}
	shift := i/sub - 1
	m := uint64(i - shift*sub)
	return int64((m+1)<<shift - 1)
}

// Merge combines the series of loops that ran side by side over the same window (generator threads, file
// jobs): interval i holds the ops of every loop's interval i and lasts as long as the longest of them. Its
// p99 is the highest of theirs: the p99 of a merge lies between its parts' lowest and highest p99, so
// this is an upper bound, exact when one loop dominates.
func Merge(series [][]result.Interval) []result.Interval {
	var out []result.Interval
	for _, ivs := range series {
		for i, iv := range ivs {
			if i == len(out) {
				out = append(out, result.Interval{StartNs: iv.StartNs})
			}
			o := &out[i]
			o.Ops += iv.Ops
			o.LengthNs = max(o.LengthNs, iv.LengthNs)
			o.P99Ns = max(o.P99Ns, iv.P99Ns)
		}
	}
	return out
}
