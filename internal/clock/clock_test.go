package clock

import (
	"testing"
	"time"
)

func TestNowIsMonotonicAndTracksTime(t *testing.T) {
	a := Now()
	w := time.Now()
	time.Sleep(20 * time.Millisecond)
	b := Now()
	el := time.Since(w)
	d := time.Duration(b - a)
	if d < 20*time.Millisecond || d > el+5*time.Millisecond {
		t.Fatalf("clock advanced %v over a %v sleep", d, el)
	}
}

func BenchmarkNow(b *testing.B) {
	for i := 0; i < b.N; i++ {
		_ = Now()
	}
}
