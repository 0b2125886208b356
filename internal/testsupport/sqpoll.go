package testsupport

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SQPollRing sets up a bare io_uring of 4 entries with IORING_SETUP_SQPOLL, its poll thread idling idleMs
// before it sleeps, by a raw io_uring_setup (no internal/ring, whose users these tests measure), and returns
// its fd, closed when the test ends. It skips the test where the kernel refuses.
func SQPollRing(tb testing.TB, idleMs uint32) uintptr {
	tb.Helper()
	var params [120]byte // struct io_uring_params
	const setupSQPoll = 1 << 1
	*(*uint32)(unsafe.Pointer(&params[8])) = setupSQPoll
	*(*uint32)(unsafe.Pointer(&params[16])) = idleMs // sq_thread_idle
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafe.Pointer(&params[0])), 0)
	if errno != 0 {
		tb.Skipf("io_uring_setup(SQPOLL): %v", errno)
	}
	tb.Cleanup(func() { unix.Close(int(fd)) })
	return fd
}
