package series

import "github.com/ringbench/ringbench/internal/result"

// Measures reports whether smp measures metric m truly: timing figures come only from timed samples (no
// syscall counter open), syscall figures and io_uring's own events (submitted/op, async punts/op ...) only
// from counted ones; samples without a kind (files written before the split) measure everything.
func Measures(m result.Metric, smp *result.Sample) bool {
	switch m.Kind {
	case result.KindTimed:
		return smp.Timed()
	case result.KindCounted:
		return smp.Counted()
	}
	return true
}

// Of is m's value function restricted to the samples that measure m truly (Measures): pass it to Values
// and MedianOf wherever a catalogue metric is read.
func Of(m result.Metric) func(*result.Sample) (float64, bool) {
	return func(smp *result.Sample) (float64, bool) {
		if !Measures(m, smp) {
			return 0, false
		}
		return m.Value(smp)
	}
}

// OfName is Of for the catalogue metric named name; it panics on a name not in the catalogue (a
// programming error).
func OfName(name string) func(*result.Sample) (float64, bool) {
	m, ok := result.MetricByName(name)
	if !ok {
		panic("series: no metric " + name)
	}
	return Of(m)
}

// Timed are the samples whose timing figures are true, in order.
func (s *Series) Timed() []*result.Sample { return s.filter((*result.Sample).Timed) }

// Counted are the samples whose syscall figures are true, in order.
func (s *Series) Counted() []*result.Sample { return s.filter((*result.Sample).Counted) }

func (s *Series) filter(keep func(*result.Sample) bool) []*result.Sample {
	if s == nil {
		return nil
	}
	var out []*result.Sample
	for _, smp := range s.Samples {
		if keep(smp) {
			out = append(out, smp)
		}
	}
	return out
}
