// Package rawsys holds the few syscall wrappers the hot loops need that x/sys/unix does not offer without
// allocating or without a flag: they return the bare errno, so an EAGAIN costs no error value.
package rawsys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Read reads into b (len(b) > 0).
func Read(fd int, b []byte) (int, unix.Errno) {
	n, _, errno := unix.Syscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}

// Send writes b (len(b) > 0) with MSG_NOSIGNAL: a peer that went away is an EPIPE, never a signal.
func Send(fd int, b []byte) (int, unix.Errno) {
	n, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), unix.MSG_NOSIGNAL, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}
