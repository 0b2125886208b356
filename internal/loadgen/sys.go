package loadgen

// epoll_pwait2 (a nanosecond wait timeout, which unix.EpollWait lacks) and the CPU-time clocks a result
// reports.

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// epollPwait2 waits with a nanosecond timeout (epoll_pwait2, 5.11+; epoll_wait in milliseconds before).
func epollPwait2(epfd int, events []unix.EpollEvent, timeoutNs int64) (int, unix.Errno) {
	if !noPwait2 {
		ts := unix.NsecToTimespec(timeoutNs)
		n, _, errno := unix.Syscall6(unix.SYS_EPOLL_PWAIT2, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])),
			uintptr(len(events)), uintptr(unsafe.Pointer(&ts)), 0, 0)
		if errno != unix.ENOSYS {
			return int(n), errno
		}
		noPwait2 = true
	}
	ms := int((timeoutNs + 999_999) / 1_000_000)
	n, err := unix.EpollWait(epfd, events, ms)
	if err != nil {
		return 0, err.(unix.Errno)
	}
	return n, 0
}

var noPwait2 bool

// threadCPU is the calling thread's CPU time in ns.
func threadCPU() uint64 {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return uint64(ts.Nano())
}

// processCPU is this process's CPU time (user + system, every thread) in ns.
func processCPU() uint64 {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return uint64(ru.Utime.Nano() + ru.Stime.Nano())
}
