package filedrive

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/result"
	"golang.org/x/sys/unix"
)

// openData writes a file of size zero bytes (in the page cache: just written) and opens it for
// reading; the descriptor is closed at cleanup.
func openData(t *testing.T, size int) (path string, fd int) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, make([]byte, size), 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return path, fd
}

// driveEach runs DriveEvery on every backend that runs here, each engine wrapped by wrap.
func driveEach(t *testing.T, skip map[string]string, opts backend.Options, d, every time.Duration, wrap func(backend.FileEngine) backend.FileEngine,
	check func(t *testing.T, tot Totals)) {
	_, fd := openData(t, 64<<10)
	for _, b := range backend.All() {
		t.Run(b.Name(), func(t *testing.T) {
			if why, ok := skip[b.Name()]; ok {
				t.Skip(why)
			}
			if err := b.Available(); err != nil {
				if !errors.Is(err, backend.ErrNotSupported) {
					t.Fatal(err)
				}
				t.Skip(err)
			}
			opts.SQCPU = -1
			cfg := backend.FileConfig{Options: opts, FDs: []int{fd}, BufSize: 4096}
			var tot Totals
			err := OnLockedThread(func(int) error {
				eng, err := b.NewFileEngine(cfg)
				if err != nil {
					return err
				}
				tot, err = DriveEvery(context.Background(), wrap(eng), opts, d, every, &fileSource{blocks: 16})
				if cerr := eng.Close(); err == nil {
					err = cerr
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			check(t, tot)
		})
	}
}

// checkTiling wants ivs to tile the drive's window exactly: interval i starts at i*every and lasts every,
// but the last, which ends where the drive ended; so there are ceil(window/every) of them. Their ops sum to
// the drive's.
func checkTiling(t *testing.T, tot Totals, d, every time.Duration) {
	t.Helper()
	ivs := tot.Intervals
	window := int64(math.Round(tot.Seconds * 1e9))
	want := int((window + int64(every) - 1) / int64(every))
	if len(ivs) != want || len(ivs) < int(d/every) {
		t.Fatalf("%d intervals over %v in steps of %v, want %d", len(ivs), time.Duration(window), every, want)
	}
	var ops int64
	for i, iv := range ivs {
		ops += iv.Ops
		if iv.StartNs != int64(i)*int64(every) {
			t.Errorf("interval %d starts at %v, want %v", i, time.Duration(iv.StartNs), time.Duration(i)*every)
		}
		if last := i == len(ivs)-1; !last && iv.LengthNs != int64(every) || last && (iv.LengthNs <= 0 || iv.LengthNs > int64(every)) {
			t.Errorf("interval %d of %d lasts %v (every %v)", i, len(ivs), time.Duration(iv.LengthNs), every)
		}
		if (iv.Ops == 0) != (iv.P99Ns == 0) {
			t.Errorf("interval %d: %d ops, p99 %v", i, iv.Ops, time.Duration(iv.P99Ns))
		}
	}
	if end := ivs[len(ivs)-1].StartNs + ivs[len(ivs)-1].LengthNs; end != window {
		t.Errorf("intervals end at %v, the drive at %v", time.Duration(end), time.Duration(window))
	}
	if ops != tot.Ops {
		t.Errorf("intervals hold %d ops, the drive %d", ops, tot.Ops)
	}
}

// TestIntervalsTileTheSample reads a real file on every backend for 250 ms in intervals of 20 ms.
func TestIntervalsTileTheSample(t *testing.T) {
	const d, every = 250 * time.Millisecond, 20 * time.Millisecond
	driveEach(t, nil, backend.Options{Depth: 8, Batch: 4}, d, every, func(e backend.FileEngine) backend.FileEngine { return e },
		func(t *testing.T, tot Totals) {
			if tot.Ops == 0 {
				t.Fatal("no request completed")
			}
			checkTiling(t, tot, d, every)
		})
}

const (
	stallFor = 300 * time.Millisecond
	stallAt  = 20 // the Submit call that stalls
	pace     = 2 * time.Millisecond
)

// stallOnce sleeps pace in every Submit, and stallFor more once, at call stallAt, before handing the batch
// to the real engine. The pace bounds how many ops an interval can hold (depth per pace), so that the
// depth requests held through the stall are more than 1% of the interval they complete in, whatever the
// machine's speed: that interval's p99 must then be at least the stall.
type stallOnce struct {
	backend.FileEngine
	calls int
}

func (s *stallOnce) Submit(reqs []backend.Request, minComplete int, out []backend.Completion) (int, error) {
	s.calls++
	time.Sleep(pace)
	if s.calls == stallAt {
		time.Sleep(stallFor)
	}
	return s.FileEngine.Submit(reqs, minComplete, out)
}

// noSQPoll leaves sqpoll out of the stall test: its poll thread shares the loop's CPUs on a small machine
// and stalls the loop by itself, for hundreds of milliseconds at times (which is what intervals are for,
// but not what this test can tell apart from its own stall).
var noSQPoll = map[string]string{"sqpoll": "its poll thread stalls the loop on its own on a shared CPU"}

// TestIntervalsShowAStall stalls the loop for 300 ms in intervals of 100 ms: at least two intervals lie
// wholly inside the stall and hold no op, and the interval the stall ends in has a p99 of at least 300 ms.
func TestIntervalsShowAStall(t *testing.T) {
	const d, every = 800 * time.Millisecond, 100 * time.Millisecond
	opts := backend.Options{Depth: 16, Batch: 16} // each Submit hands 16 and waits for them all
	driveEach(t, noSQPoll, opts, d, every, func(e backend.FileEngine) backend.FileEngine { return &stallOnce{FileEngine: e} },
		func(t *testing.T, tot Totals) {
			checkTiling(t, tot, d, every)
			ivs := tot.Intervals
			end := 0
			for i, iv := range ivs {
				if iv.P99Ns > ivs[end].P99Ns {
					end = i
				}
			}
			if p99 := time.Duration(ivs[end].P99Ns); p99 < stallFor {
				t.Fatalf("the highest p99 is %v, in interval %d, want at least the %v stall: %s", p99, end, stallFor, show(ivs))
			}
			if end < 2 || ivs[end-1].Ops != 0 || ivs[end-2].Ops != 0 {
				t.Errorf("interval %d holds the stall, but the two before it are not empty: %s", end, show(ivs))
			}
			for i, iv := range ivs {
				if i != end && time.Duration(iv.P99Ns) >= stallFor {
					t.Errorf("interval %d has p99 %v: only interval %d held the stall: %s", i, time.Duration(iv.P99Ns), end, show(ivs))
				}
			}
		})
}

func show(ivs []result.Interval) string {
	s := ""
	for _, iv := range ivs {
		s += time.Duration(iv.StartNs).String() + ":" + time.Duration(iv.P99Ns).String() + "/" + strconv.FormatInt(iv.Ops, 10) + " "
	}
	return s
}
