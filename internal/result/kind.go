package result

// Sample kinds. Counting syscalls with kernel tracepoints slows every syscall by a few hundred ns, so a run
// takes two kinds of samples: timed samples run with no tracepoint registered and give throughput, latency
// and CPU per op; counted samples run with the counters and give syscalls per op (and enters per op).
// Samples of files written before the split have no kind: they give every figure, as they did.
const (
	KindTimed   = "timed"
	KindCounted = "counted"
)

// Timed reports whether the sample's timing figures (ops/s, latency, CPU per op) are true: it ran with no
// syscall counter open.
func (s *Sample) Timed() bool { return s.Kind != KindCounted }

// Counted reports whether the sample's syscall figures come from counters open during the whole sample.
func (s *Sample) Counted() bool { return s.Kind != KindTimed }

// IOSyscalls is the count of the sample's I/O thread(s) when they were counted apart, else the whole
// measured process's (files before the split, backends with no I/O thread of their own); ok is false when
// syscalls were not counted. The I/O thread's count per op does not depend on the machine's speed; the rest
// of the process (the Go runtime's threads) makes a roughly steady number of syscalls per second, which per
// op grows as the machine slows.
func (s *Sample) IOSyscalls() (perOp float64, ok bool) {
	switch {
	case !s.Syscalls.Available || s.Ops <= 0:
		return 0, false
	case s.Syscalls.Backend != nil:
		return s.Syscalls.Backend.PerOp, true
	default:
		return s.Syscalls.PerOp, true
	}
}

// OtherSyscallsPerSec is the syscalls per second of the measured process outside its I/O thread(s); ok is
// false unless both were counted.
func (s *Sample) OtherSyscallsPerSec() (float64, bool) {
	if !s.Syscalls.Available || s.Syscalls.Backend == nil || s.Seconds <= 0 {
		return 0, false
	}
	other := s.Syscalls.Total - min(s.Syscalls.Backend.Total, s.Syscalls.Total)
	return float64(other) / s.Seconds, true
}
