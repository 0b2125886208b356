package clock

import (
	"testing"
	"time"
)

func TestNowIsMonotonicAndTracksTime(t *testing.T) {
	// time.Now and time.Since read the same clock around a and b: el can only be longer than d, however long a
	// busy machine keeps this goroutine off the CPU between the reads.
	w := time.Now()
	a := Now()
	time.Sleep(20 * time.Millisecond)
	b := Now()
	el := time.Since(w)
	d := time.Duration(b - a)
	if d < 20*time.Millisecond || d > el {
		t.Fatalf("clock advanced %v over a %v sleep, want 20ms..%v", d, el, el)
	}
}

func BenchmarkNow(b *testing.B) {
	for i := 0; i < b.N; i++ {
		_ = Now()
	}
}
