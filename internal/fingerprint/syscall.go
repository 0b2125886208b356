package fingerprint

import (
	"runtime"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// SyscallMethod says how SyscallNs was measured: `ringbench probe` prints it beside the figure.
const SyscallMethod = "getppid via unix.Syscall, median of 7 loops of 20000"

// MeasureSyscallNs times loops of getppid(2), made the way Go backends make syscalls (unix.Syscall, which
// tells the Go scheduler), on one locked thread, and returns the median ns per call: about 15 ms here.
// It is the price of one kernel entry and exit with the mitigations this kernel applies, so the per-batch
// cost of the cost model (internal/costmodel) can be read in syscalls.
func MeasureSyscallNs() float64 {
	const loops, calls = 7, 20000
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	per := make([]float64, loops)
	for i := range per {
		t0 := time.Now()
		for range calls {
			unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
		}
		per[i] = float64(time.Since(t0).Nanoseconds()) / calls
	}
	slices.Sort(per)
	return per[loops/2]
}
