// Package seccomp installs small seccomp-bpf filters in pure Go (no cgo, no libseccomp): enough to make
// chosen syscalls fail with a chosen errno, the way a container runtime's profile or a hardened host would.
//
// A filter applies to every thread of the process (SECCOMP_FILTER_FLAG_TSYNC) and survives execve, so a
// process can install one and then exec the program it wants to confine.
package seccomp

import (
	"errors"
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// IOUringSyscalls are the three io_uring system calls. Their numbers are the same on every architecture
// (they were added after the syscall tables were unified).
var IOUringSyscalls = []uintptr{unix.SYS_IO_URING_SETUP, unix.SYS_IO_URING_ENTER, unix.SYS_IO_URING_REGISTER}

// x32SyscallBit marks x32-ABI system calls on x86-64; they arrive with AUDIT_ARCH_X86_64.
const x32SyscallBit = 0x40000000

// offsets into struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
)

// maxDenied bounds the list so that every conditional jump fits BPF's 8-bit offsets.
const maxDenied = 100

// AuditArch is the AUDIT_ARCH_* value of the running architecture, or 0 when this package does not know it.
func AuditArch() uint32 {
	switch runtime.GOARCH {
	case "amd64":
		return unix.AUDIT_ARCH_X86_64
	case "arm64":
		return unix.AUDIT_ARCH_AARCH64
	}
	return 0
}

// Filter builds the BPF program that DenySyscalls installs: for the native architecture it returns errno for
// the listed syscalls and allows everything else; a syscall made under another architecture's ABI (for
// example a 32-bit x86 program) fails with errno too, because its numbers mean other calls there.
func Filter(nrs []uintptr, errno unix.Errno) ([]unix.SockFilter, error) {
	arch := AuditArch()
	if arch == 0 {
		return nil, fmt.Errorf("seccomp: architecture %s not supported", runtime.GOARCH)
	}
	if errno <= 0 || errno > unix.SECCOMP_RET_DATA {
		return nil, fmt.Errorf("seccomp: errno %d out of range", int(errno))
	}
	var deny []uint32
	for _, nr := range nrs {
		deny = append(deny, uint32(nr))
		if runtime.GOARCH == "amd64" {
			deny = append(deny, uint32(nr)|x32SyscallBit)
		}
	}
	if len(deny) == 0 {
		return nil, errors.New("seccomp: no syscalls to deny")
	}
	if len(deny) > maxDenied {
		return nil, fmt.Errorf("seccomp: at most %d syscalls", maxDenied)
	}
	stmt := func(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }
	jump := func(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
		return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
	}
	n := len(deny)
	// Layout: 0 load arch; 1 arch check; 2 load nr; 3..3+n-1 compares; 3+n allow; 4+n deny.
	prog := []unix.SockFilter{
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offArch),
		// equal: go on to the nr checks; not equal: jump to deny (skip load, n compares, allow).
		jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, arch, 0, uint8(n+2)),
		stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, offNr),
	}
	for i, nr := range deny {
		// match: jump over the remaining compares and the allow to deny.
		prog = append(prog, jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, nr, uint8(n-i), 0))
	}
	prog = append(prog,
		stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_ALLOW),
		stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_ERRNO|uint32(errno)),
	)
	return prog, nil
}

// DenySyscalls makes the listed syscalls fail with errno in every thread of this process and in every
// program it executes from now on. It sets no_new_privs first (required to install a filter without
// CAP_SYS_ADMIN, and inherited across execve). Filters cannot be removed.
func DenySyscalls(nrs []uintptr, errno unix.Errno) error {
	prog, err := Filter(nrs, errno)
	if err != nil {
		return err
	}
	// no_new_privs is per thread; the filter is installed from the same thread and TSYNC copies both
	// the filter and no_new_privs to every other thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("seccomp: prctl(PR_SET_NO_NEW_PRIVS): %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	r1, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC,
		uintptr(unsafe.Pointer(&fprog)))
	runtime.KeepAlive(prog)
	if e != 0 {
		return fmt.Errorf("seccomp: installing filter: %w", e)
	}
	if r1 != 0 {
		// With TSYNC, a positive return is the id of a thread that could not be synchronised.
		return fmt.Errorf("seccomp: thread %d could not take the filter", r1)
	}
	return nil
}

// Mode reports this process's seccomp mode from /proc/self/status: 0 none, 1 strict, 2 filter, -1 unknown.
func Mode() int {
	b, err := readFile("/proc/self/status")
	if err != nil {
		return -1
	}
	return parseSeccompMode(string(b))
}
