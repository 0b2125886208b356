package filedrive

import "testing"

// Share splits items into contiguous, disjoint ranges covering all of them; a thread without an item of
// its own gets one to share rather than none.
func TestShare(t *testing.T) {
	for _, c := range []struct {
		total uint64
		jobs  int
	}{{10, 1}, {10, 3}, {10000, 7}, {3, 3}, {2, 5}, {1, 256}} {
		next := uint64(0)
		for j := range c.jobs {
			first, n := Share(c.total, j, c.jobs)
			if n == 0 || first+n > c.total {
				t.Fatalf("Share(%d, %d, %d) = %d+%d", c.total, j, c.jobs, first, n)
			}
			if c.total >= uint64(c.jobs) {
				if first != next {
					t.Fatalf("Share(%d, %d, %d) starts at %d, want %d", c.total, j, c.jobs, first, next)
				}
				next = first + n
			}
		}
		if c.total >= uint64(c.jobs) && next != c.total {
			t.Fatalf("Share(%d, *, %d) covers %d items", c.total, c.jobs, next)
		}
	}
}

// Thread 0 draws the stream one thread always drew; the others draw different ones.
func TestStreamSeed(t *testing.T) {
	if StreamSeed(42, 0) != 42 {
		t.Fatal("thread 0's seed changed")
	}
	seen := map[uint64]bool{}
	for j := range 256 {
		r := NewRand(StreamSeed(42, j))
		v := r.Next()
		if seen[v] {
			t.Fatalf("thread %d draws what another thread draws first", j)
		}
		seen[v] = true
	}
}
