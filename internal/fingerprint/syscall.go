package fingerprint

import (
	"runtime"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// SyscallMethod says how SyscallNs was measured: `ringbench probe` prints it beside the figure.
const SyscallMethod = "getppid via unix.Syscall, thread CPU time, median of 7 loops of 20000"

// MeasureSyscallNs times loops of getppid(2), made the way Go backends make syscalls (unix.Syscall, which
// tells the Go scheduler), on one locked thread, and returns the median ns per call: 15-30 ms in all.
// It is the price of one kernel entry and exit with the mitigations this kernel applies, so the per-batch
// cost of the cost model (internal/costmodel) can be read in syscalls. Each loop is timed in the thread's
// CPU time, as the model's CPU per op is: on a shared machine wall time also counts the time the thread
// waited for a CPU (5x the CPU time at a load of 10 per core, measured here); where the thread CPU clock
// cannot be read, wall time it is.
func MeasureSyscallNs() float64 {
	const loops, calls = 7, 20000
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	now := threadCPUNs
	if _, err := now(); err != nil {
		now = func() (int64, error) { return time.Now().UnixNano(), nil }
	}
	per := make([]float64, loops)
	for i := range per {
		t0, _ := now()
		for range calls {
			unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
		}
		t1, _ := now()
		per[i] = float64(t1-t0) / calls
	}
	slices.Sort(per)
	return per[loops/2]
}

func threadCPUNs() (int64, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, err
	}
	return ts.Nano(), nil
}
