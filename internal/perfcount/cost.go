package perfcount

import (
	"fmt"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// Cost is what the syscall tracepoints add to one syscall, timed with getppid loops on one thread: with no
// counter open, with this thread's counter open but disabled (PERF_EVENT_IOC_DISABLE), and counting.
type Cost struct {
	UncountedNs float64
	DisabledNs  float64
	CountedNs   float64
	Loops       int // loops per state
	Calls       int // getppid calls per loop
}

// PerSyscallNs is what counting adds to each syscall.
func (c Cost) PerSyscallNs() float64 { return c.CountedNs - c.UncountedNs }

// DisabledExtraNs is what a counter that exists but is disabled still adds to each syscall: a registered
// syscall tracepoint sends every syscall on the machine through the kernel's slow path.
func (c Cost) DisabledExtraNs() float64 { return c.DisabledNs - c.UncountedNs }

// MeasureCost times loops of calls getppid syscalls in each state and returns the medians. Uncounted loops
// run before the counter is opened and after it is closed (closing costs about half a second); disabled
// and counting loops alternate, so that drift hits both alike. Another process holding syscall
// tracepoints open meanwhile (another ringbench, perf, a tracer) makes "uncounted" read like "disabled".
func MeasureCost(loops, calls int) (Cost, error) {
	if loops < 1 || calls < 1 {
		return Cost{}, fmt.Errorf("perfcount: MeasureCost(%d, %d): want positive counts", loops, calls)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	loop := func() float64 {
		t0 := time.Now()
		for range calls {
			unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
		}
		return float64(time.Since(t0).Nanoseconds()) / float64(calls)
	}
	var un, dis, on []float64
	for range (loops + 1) / 2 {
		un = append(un, loop())
	}
	c, err := OpenThreads([]int{unix.Gettid()}, DefaultBreakdown)
	if err != nil {
		return Cost{}, err
	}
	for range loops {
		if err := c.Disable(); err != nil {
			c.Close()
			return Cost{}, err
		}
		dis = append(dis, loop())
		if err := c.Enable(); err != nil {
			c.Close()
			return Cost{}, err
		}
		on = append(on, loop())
	}
	c.Close()
	for range loops / 2 {
		un = append(un, loop())
	}
	return Cost{UncountedNs: median(un), DisabledNs: median(dis), CountedNs: median(on), Loops: loops, Calls: calls}, nil
}

func median(v []float64) float64 {
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
