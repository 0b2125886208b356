package findings

import (
	"fmt"
	"slices"
	"strings"

	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/series"
	"github.com/ringbench/ringbench/internal/summary"
	"github.com/ringbench/ringbench/internal/units"
)

// median is the series' median of the catalogue metric name, over the samples that measure it truly.
func median(s *series.Series, name string) (float64, bool) {
	return s.MedianOf(series.OfName(name))
}

// perOpByName is the calls per op of the named syscalls, summed, over the counted samples: the I/O
// thread's where it was counted apart (as syscalls/op is), else the process's.
func perOpByName(s *series.Series, names ...string) (float64, bool) {
	var calls uint64
	var ops int64
	for _, smp := range s.Counted() {
		if !smp.Syscalls.Available || smp.Ops <= 0 {
			continue
		}
		by := smp.Syscalls.ByName
		if smp.Syscalls.Backend != nil {
			by = smp.Syscalls.Backend.ByName
		}
		for _, n := range names {
			calls += by[n]
		}
		ops += smp.Ops
	}
	if ops == 0 {
		return 0, false
	}
	return float64(calls) / float64(ops), true
}

// pollCores is the SQPOLL thread's CPU time per second of the timed samples (1 = a whole CPU), median.
func pollCores(s *series.Series) (float64, bool) {
	return s.MedianOf(func(smp *result.Sample) (float64, bool) {
		if !smp.Timed() || smp.Seconds <= 0 {
			return 0, false
		}
		return float64(smp.CPU.PollThreadNs) / (smp.Seconds * 1e9), true
	})
}

// workerNsPerOp is io-wq's CPU per op over the timed samples, median.
func workerNsPerOp(s *series.Series) (float64, bool) {
	return s.MedianOf(func(smp *result.Sample) (float64, bool) {
		if !smp.Timed() || smp.Ops <= 0 {
			return 0, false
		}
		return float64(smp.CPU.WorkerNs) / float64(smp.Ops), true
	})
}

// residencyAfter is the median share of the data set cached at the end of the samples.
func residencyAfter(s *series.Series) (float64, bool) {
	return s.MedianOf(func(smp *result.Sample) (float64, bool) {
		if smp.Residency == nil {
			return 0, false
		}
		return smp.Residency.After, true
	})
}

// find is the series that match, in order.
func (d data) find(match func(*series.Series) bool) []*series.Series {
	var out []*series.Series
	for _, s := range d.series {
		if match(s) {
			out = append(out, s)
		}
	}
	return out
}

// agree reports whether a and b have the same value for every key both have, but those of skip.
func agree(a, b map[string]string, skip ...string) bool {
	for k, v := range a {
		if w, ok := b[k]; ok && w != v && !slices.Contains(skip, k) {
			return false
		}
	}
	return true
}

// shown are the params a figure names its series by, in this order.
var shown = []string{"cache", "batch", "depth", "conns", "epoll-mode", "multishot", "idle-conns"}

// name is a series as a figure names it: "uring small-file batch=16".
func name(s *series.Series) string {
	parts := []string{s.Backend, s.Workload}
	for _, k := range shown {
		if v, ok := s.Params[k]; ok {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

func ns(v float64) string    { return summary.Nanos(v) }
func perOp(v float64) string { return fmt.Sprintf("%.2f", v) }
func size(v float64) string  { return units.HumanBytes(v) }
func pct(v float64) string   { return fmt.Sprintf("%.0f%%", 100*v) }
func times(v float64) string { return fmt.Sprintf("%.2gx", v) }
func rate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// within reports whether v is within Factor of want.
func within(v, want float64) bool { return v >= want/Factor && v <= want*Factor }
