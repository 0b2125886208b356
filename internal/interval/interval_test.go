package interval

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/result"
)

// Every value falls in a bucket whose top is at least the value and at most 1/16 above it, and buckets
// are in order.
func TestBuckets(t *testing.T) {
	check := func(v int64) {
		i := bucketOf(v)
		if i < 0 || i >= buckets {
			t.Fatalf("bucketOf(%d) = %d, out of range", v, i)
		}
		top := bucketTop(i)
		if top < v || float64(top-v) > float64(v)/sub {
			t.Fatalf("value %d in bucket %d, top %d", v, i, top)
		}
		if i > 0 && bucketTop(i-1) >= v {
			t.Fatalf("value %d in bucket %d, but bucket %d reaches %d", v, i, i-1, bucketTop(i-1))
		}
	}
	for v := int64(1); v < 100_000; v++ {
		check(v)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		check(r.Int64N(1<<62) + 1)
	}
	check(1<<63 - 1)
}

// p99 of each interval is the true p99 of its ops, within a bucket.
func TestP99PerInterval(t *testing.T) {
	const every = 10 * time.Millisecond
	r := New(1000, every, 30*time.Millisecond)
	rnd := rand.New(rand.NewPCG(3, 4))
	var lats [3][]int64
	for k := range 3 {
		r.At(1000 + int64(k)*int64(every) + 1)
		for range 10_000 {
			lat := rnd.Int64N(int64(k+1)*1_000_000) + 1
			lats[k] = append(lats[k], lat)
			r.Record(lat)
		}
	}
	ivs := r.Finish(1000 + 3*int64(every))
	if len(ivs) != 3 {
		t.Fatalf("%d intervals, want 3: %+v", len(ivs), ivs)
	}
	for k, iv := range ivs {
		sort.Slice(lats[k], func(i, j int) bool { return lats[k][i] < lats[k][j] })
		want := lats[k][(len(lats[k])*99+99)/100-1]
		if iv.Ops != 10_000 || iv.P99Ns < want || float64(iv.P99Ns-want) > float64(want)/sub {
			t.Errorf("interval %d: %d ops, p99 %d, want 10000 ops and p99 %d (+1/16)", k, iv.Ops, iv.P99Ns, want)
		}
	}
}

// A gap in the readings leaves empty intervals; the last interval ends at the last reading.
func TestGapsAndEnd(t *testing.T) {
	r := New(0, 10, 100)
	r.At(1)
	r.Record(5)
	r.At(35) // (30, 40]: intervals 1 and 2 empty
	r.Record(34)
	ivs := r.Finish(42)
	want := [][4]int64{{0, 10, 1, 5}, {10, 10, 0, 0}, {20, 10, 0, 0}, {30, 10, 1, 35}, {40, 2, 0, 0}}
	if len(ivs) != len(want) {
		t.Fatalf("intervals %+v, want %v", ivs, want)
	}
	for i, iv := range ivs {
		if got := [4]int64{iv.StartNs, iv.LengthNs, iv.Ops, iv.P99Ns}; got != want[i] {
			t.Errorf("interval %d = %v, want %v", i, got, want[i])
		}
	}
	if New(0, 0, 100) != nil || (*Recorder)(nil).Finish(5) != nil {
		t.Error("an interval of 0 must record nothing")
	}
}

// BenchmarkRecord is the series' cost per op: one Record, and one At per 32 ops (a uring batch), crossing
// an interval boundary every 1000 batches (as 100 ms intervals at 320k batches/s would).
func BenchmarkRecord(b *testing.B) {
	r := New(0, 1000, time.Duration(b.N))
	now := int64(0)
	for i := 0; i < b.N; i++ {
		if i%32 == 0 {
			now++
			r.At(now)
		}
		r.Record(int64(500 + i&0xffff))
	}
}

func iv(start, length, ops, p99 int64) result.Interval {
	return result.Interval{StartNs: start, LengthNs: length, Ops: ops, P99Ns: p99}
}

// Merged series sum their ops per interval and keep the longest length and the highest p99.
func TestMerge(t *testing.T) {
	a := []result.Interval{iv(0, 10, 5, 100), iv(10, 10, 3, 50), iv(20, 4, 1, 7)}
	b := []result.Interval{iv(0, 10, 2, 300), iv(10, 7, 0, 0)}
	got := Merge([][]result.Interval{a, b})
	want := []result.Interval{iv(0, 10, 7, 300), iv(10, 10, 3, 50), iv(20, 4, 1, 7)}
	if len(got) != len(want) {
		t.Fatalf("%+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("interval %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if Merge(nil) != nil {
		t.Error("nothing merged is nothing")
	}
}
