package result

// Thread is what one of a sample's I/O threads did (--jobs).
type Thread struct {
	// TID is the OS thread id the thread's loop ran on.
	TID       int     `json:"tid"`
	Seconds   float64 `json:"seconds"`
	Ops       int64   `json:"ops"`
	OpsPerSec float64 `json:"ops_per_sec"`
	P99       int64   `json:"p99_ns"`
}

// ThreadSpread returns the lowest and highest ops/s of s's threads; ok is false for a sample without
// per-thread figures.
func ThreadSpread(s Sample) (lo, hi float64, ok bool) {
	for i, t := range s.Threads {
		if i == 0 || t.OpsPerSec < lo {
			lo = t.OpsPerSec
		}
		if i == 0 || t.OpsPerSec > hi {
			hi = t.OpsPerSec
		}
	}
	return lo, hi, len(s.Threads) > 0
}
