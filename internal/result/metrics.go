package result

// Metric is one figure that can be read from a sample, compared and charted.
type Metric struct {
	Name           string // stable identifier, e.g. "ops/s"
	Unit           string // benchmark-format unit, e.g. "ops/s", "ns/op"
	HigherIsBetter bool
	// Deterministic metrics (syscalls per op) barely vary between runs: the sharpest CI gates.
	Deterministic bool
	// Value reads the metric from a sample; ok is false when the sample does not have it.
	Value func(s *Sample) (v float64, ok bool)
	// Kind is the kind of sample that measures the metric truly (KindTimed, KindCounted); "" means either.
	// Value does not check it: the series layer (internal/series) does.
	Kind string
}

// Metrics is the catalogue, in display order.
var Metrics = []Metric{
	{Name: "ops/s", Unit: "ops/s", HigherIsBetter: true, Kind: KindTimed, Value: func(s *Sample) (float64, bool) {
		return s.OpsPerSec, s.Seconds > 0
	}},
	{Name: "MB/s", Unit: "MB/s", HigherIsBetter: true, Kind: KindTimed, Value: func(s *Sample) (float64, bool) {
		return s.BytesPerSec / 1e6, s.Seconds > 0 && s.Bytes > 0
	}},
	{Name: "p50", Unit: "ns/p50", Kind: KindTimed, Value: func(s *Sample) (float64, bool) {
		return float64(s.Latency.P50), s.Latency.Count > 0
	}},
	{Name: "p99", Unit: "ns/p99", Kind: KindTimed, Value: func(s *Sample) (float64, bool) {
		return float64(s.Latency.P99), s.Latency.Count > 0
	}},
	{Name: "p99.9", Unit: "ns/p99.9", Kind: KindTimed, Value: func(s *Sample) (float64, bool) {
		return float64(s.Latency.P999), s.Latency.Count > 0
	}},
	// syscalls/op is the I/O thread's (Sample.IOSyscalls): the process's other threads make syscalls per
	// second, not per op, and are other-syscalls/s.
	{Name: "syscalls/op", Unit: "syscalls/op", Deterministic: true, Kind: KindCounted, Value: func(s *Sample) (float64, bool) {
		return s.IOSyscalls()
	}},
	{Name: "other-syscalls/s", Unit: "other-syscalls/s", Kind: KindCounted, Value: func(s *Sample) (float64, bool) {
		return s.OtherSyscallsPerSec()
	}},
	{Name: "enters/op", Unit: "enters/op", Deterministic: true, Kind: KindCounted, Value: func(s *Sample) (float64, bool) {
		return s.EntersPerOp, s.EntersPerOp >= 0 && s.Ops > 0
	}},
	{Name: "submitted/op", Unit: "submitted/op", Deterministic: true, Kind: KindCounted, Value: func(s *Sample) (float64, bool) {
		return s.RingEventPerOp(func(r *RingEvents) uint64 { return r.Submitted })
	}},
	{Name: "async punts/op", Unit: "async-punts/op", Kind: KindCounted, Value: func(s *Sample) (float64, bool) {
		return s.RingEventPerOp(func(r *RingEvents) uint64 { return r.AsyncPunts })
	}},
	{Name: "task work/op", Unit: "task-work/op", Kind: KindCounted, Value: func(s *Sample) (float64, bool) {
		return s.RingEventPerOp(func(r *RingEvents) uint64 { return r.TaskWork })
	}},
	{Name: "poll arms/op", Unit: "poll-arms/op", Kind: KindCounted, Value: func(s *Sample) (float64, bool) {
		return s.RingEventPerOp(func(r *RingEvents) uint64 { return r.PollArms })
	}},
	// cq overflows is a count, not per op: any overflow at all is the news.
	{Name: "cq overflows", Unit: "cq-overflows", Kind: KindCounted, Value: func(s *Sample) (float64, bool) {
		if s.RingEvents == nil || !s.RingEvents.Available {
			return 0, false
		}
		return float64(s.RingEvents.CQOverflows), true
	}},
	{Name: "cpu-ns/op", Unit: "cpu-ns/op", Kind: KindTimed, Value: func(s *Sample) (float64, bool) {
		return s.CPU.PerOpNs, s.Ops > 0 && s.CPU.PerOpNs > 0
	}},
	{Name: "ctxsw/op", Unit: "ctxsw/op", Kind: KindTimed, Value: func(s *Sample) (float64, bool) {
		return s.ContextSwitches.PerOp, s.ContextSwitches.Available && s.Ops > 0
	}},
	{Name: "peak-rss", Unit: "B", Value: func(s *Sample) (float64, bool) {
		return float64(s.PeakRSSBytes), s.PeakRSSBytes > 0
	}},
	{Name: "mem/idle-conn", Unit: "B/conn", Value: func(s *Sample) (float64, bool) {
		if s.Memory == nil {
			return 0, false
		}
		return s.Memory.RSSPerConnBytes, true
	}},
}

// MetricByName finds a metric in the catalogue.
func MetricByName(name string) (Metric, bool) {
	for _, m := range Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// RingEventPerOp is one of the sample's io_uring tracepoint counts per op; ok is false when the sample has
// none (not an io_uring backend, not counted, or not countable here).
func (s *Sample) RingEventPerOp(field func(*RingEvents) uint64) (float64, bool) {
	if s.RingEvents == nil || !s.RingEvents.Available || s.Ops <= 0 {
		return 0, false
	}
	return float64(field(s.RingEvents)) / float64(s.Ops), true
}
