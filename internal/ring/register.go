package ring

import (
	"fmt"
	"math/bits"
	"unsafe"

	"golang.org/x/sys/unix"
)

// register calls io_uring_register(2), retrying EINTR. arg must point to
// memory the kernel only reads or writes during the call.
func (r *Ring) register(op uintptr, arg unsafe.Pointer, nr uintptr) (int, error) {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), op, uintptr(arg), nr, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0, errno
		}
		return int(n), nil
	}
}

func regError(what string, err error) error {
	if err == unix.EINVAL || err == unix.EOPNOTSUPP {
		return fmt.Errorf("io_uring_register(%s): %w (%w)", what, ErrNotSupported, err)
	}
	return fmt.Errorf("io_uring_register(%s): %w", what, err)
}

const probeOps = 256

// ProbeOpcodes asks the kernel which opcodes it supports
// (IORING_REGISTER_PROBE, 5.6+). supported[op] is true for each supported
// opcode; lastOp is the highest opcode the kernel knows.
func (r *Ring) ProbeOpcodes() (supported []bool, lastOp uint8, err error) {
	var buf struct {
		hdr probeHdr
		ops [probeOps]probeOp
	}
	if _, err := r.register(regProbe, unsafe.Pointer(&buf), probeOps); err != nil {
		return nil, 0, regError("PROBE", err)
	}
	n := int(buf.hdr.OpsLen)
	supported = make([]bool, n)
	for i := 0; i < n; i++ {
		op := buf.ops[i]
		if int(op.Op) < n && op.Flags&ioUringOpSupported != 0 {
			supported[op.Op] = true
		}
	}
	return supported, buf.hdr.LastOp, nil
}

var opNames = [...]string{
	"NOP", "READV", "WRITEV", "FSYNC", "READ_FIXED", "WRITE_FIXED", "POLL_ADD",
	"POLL_REMOVE", "SYNC_FILE_RANGE", "SENDMSG", "RECVMSG", "TIMEOUT",
	"TIMEOUT_REMOVE", "ACCEPT", "ASYNC_CANCEL", "LINK_TIMEOUT", "CONNECT",
	"FALLOCATE", "OPENAT", "CLOSE", "FILES_UPDATE", "STATX", "READ", "WRITE",
	"FADVISE", "MADVISE", "SEND", "RECV", "OPENAT2", "EPOLL_CTL", "SPLICE",
	"PROVIDE_BUFFERS", "REMOVE_BUFFERS", "TEE", "SHUTDOWN", "RENAMEAT",
	"UNLINKAT", "MKDIRAT", "SYMLINKAT", "LINKAT", "MSG_RING", "FSETXATTR",
	"SETXATTR", "FGETXATTR", "GETXATTR", "SOCKET", "URING_CMD", "SEND_ZC",
	"SENDMSG_ZC", "READ_MULTISHOT", "WAITID", "FUTEX_WAIT", "FUTEX_WAKE",
	"FUTEX_WAITV", "FIXED_FD_INSTALL", "FTRUNCATE", "BIND", "LISTEN",
	"RECV_ZC", "EPOLL_WAIT", "READV_FIXED", "WRITEV_FIXED", "PIPE",
}

// OpcodeName returns the IORING_OP_ name without prefix ("READ"), or
// "OP_<n>" for opcodes newer than this package.
func OpcodeName(op uint8) string {
	if int(op) < len(opNames) {
		return opNames[op]
	}
	return fmt.Sprintf("OP_%d", op)
}

var featNames = [...]string{
	"SINGLE_MMAP", "NODROP", "SUBMIT_STABLE", "RW_CUR_POS", "CUR_PERSONALITY",
	"FAST_POLL", "POLL_32BITS", "SQPOLL_NONFIXED", "EXT_ARG", "NATIVE_WORKERS",
	"RSRC_TAGS", "CQE_SKIP", "LINKED_FILE", "REG_REG_RING", "RECVSEND_BUNDLE",
	"MIN_TIMEOUT", "RW_ATTR", "NO_IOWAIT",
}

var setupNames = [...]string{
	"IOPOLL", "SQPOLL", "SQ_AFF", "CQSIZE", "CLAMP", "ATTACH_WQ", "R_DISABLED",
	"SUBMIT_ALL", "COOP_TASKRUN", "TASKRUN_FLAG", "SQE128", "CQE32",
	"SINGLE_ISSUER", "DEFER_TASKRUN", "NO_MMAP", "REGISTERED_FD_ONLY",
	"NO_SQARRAY", "HYBRID_IOPOLL", "CQE_MIXED", "SQE_MIXED",
}

func bitNames(v uint32, names []string, unknown string) []string {
	out := make([]string, 0, bits.OnesCount32(v))
	for v != 0 {
		b := bits.TrailingZeros32(v)
		v &^= 1 << b
		if b < len(names) {
			out = append(out, names[b])
		} else {
			out = append(out, fmt.Sprintf("%s%d", unknown, b))
		}
	}
	return out
}

// FeatureNames lists the IORING_FEAT_ names (without prefix) set in
// features, lowest bit first; unknown bits appear as "BIT<n>".
func FeatureNames(features uint32) []string { return bitNames(features, featNames[:], "BIT") }

// SetupFlagNames lists the IORING_SETUP_ names (without prefix) set in flags.
func SetupFlagNames(flags uint32) []string { return bitNames(flags, setupNames[:], "BIT") }

// RegisterFiles registers fds as the fixed-file table (IORING_REGISTER_FILES);
// -1 leaves a slot empty. The kernel takes its own references.
func (r *Ring) RegisterFiles(fds []int32) error {
	if len(fds) == 0 {
		return fmt.Errorf("io_uring_register(FILES): empty table: %w", unix.EINVAL)
	}
	if _, err := r.register(regFiles, unsafe.Pointer(&fds[0]), uintptr(len(fds))); err != nil {
		return fmt.Errorf("io_uring_register(FILES): %w", err)
	}
	return nil
}

// RegisterFilesSparse registers an empty fixed-file table of n slots
// (IORING_REGISTER_FILES2 with IORING_RSRC_REGISTER_SPARSE, 5.19+), to be
// filled by OpenAt/Accept with FileIndex.
func (r *Ring) RegisterFilesSparse(n uint32) error {
	reg := rsrcRegister{Nr: n, Flags: rsrcRegSparse}
	if _, err := r.register(regFiles2, unsafe.Pointer(&reg), unsafe.Sizeof(reg)); err != nil {
		return regError("FILES2 sparse", err)
	}
	return nil
}

// UnregisterFiles drops the fixed-file table.
func (r *Ring) UnregisterFiles() error {
	if _, err := r.register(unregFiles, nil, 0); err != nil {
		return fmt.Errorf("io_uring_register(UNREGISTER_FILES): %w", err)
	}
	return nil
}

// RegisterBuffers registers bufs as fixed buffers 0..len-1 for ReadFixed /
// WriteFixed (IORING_REGISTER_BUFFERS). The kernel pins the pages (counted
// against RLIMIT_MEMLOCK on older kernels). The caller guarantees the memory
// is off-heap (Arena) or pinned and outlives the registration: the Go GC
// cannot see the kernel's reference.
func (r *Ring) RegisterBuffers(bufs [][]byte) error {
	if len(bufs) == 0 {
		return fmt.Errorf("io_uring_register(BUFFERS): no buffers: %w", unix.EINVAL)
	}
	iov := make([]unix.Iovec, len(bufs))
	for i, b := range bufs {
		if len(b) == 0 {
			return fmt.Errorf("io_uring_register(BUFFERS): buffer %d is empty: %w", i, unix.EINVAL)
		}
		iov[i].Base = &b[0]
		iov[i].SetLen(len(b))
	}
	if _, err := r.register(regBuffers, unsafe.Pointer(&iov[0]), uintptr(len(iov))); err != nil {
		return fmt.Errorf("io_uring_register(BUFFERS): %w", err)
	}
	return nil
}

// UnregisterBuffers drops the fixed buffers.
func (r *Ring) UnregisterBuffers() error {
	if _, err := r.register(unregBuffers, nil, 0); err != nil {
		return fmt.Errorf("io_uring_register(UNREGISTER_BUFFERS): %w", err)
	}
	return nil
}

// RegisterRingFD registers the ring fd with the calling thread
// (IORING_REGISTER_RING_FDS, 5.18+); later io_uring_enter calls pass the
// registered index with IORING_ENTER_REGISTERED_RING, which saves an fd
// reference per enter in a multi-threaded process.
//
// The registration belongs to the calling OS thread, not to the process:
// from any other thread the index is invalid (enter fails with EBADF or hits
// another ring). Call it from a goroutine locked with runtime.LockOSThread
// that owns the ring for its whole life, and Close (or UnregisterRingFD) on
// that same thread.
func (r *Ring) RegisterRingFD() error {
	if r.ringIndex >= 0 {
		return nil
	}
	upd := rsrcUpdate{Offset: ^uint32(0), Data: uint64(r.fd)} // offset -1: kernel picks a slot
	n, err := r.register(regRingFDs, unsafe.Pointer(&upd), 1)
	if err != nil {
		return regError("RING_FDS", err)
	}
	if n != 1 {
		return fmt.Errorf("io_uring_register(RING_FDS): registered %d of 1", n)
	}
	r.ringIndex = int(upd.Offset)
	r.enterFd = r.ringIndex
	r.enterFlags = enterRegisteredRing
	return nil
}

// UnregisterRingFD undoes RegisterRingFD (on the registering thread);
// io_uring_enter goes back to the plain fd.
func (r *Ring) UnregisterRingFD() error {
	if r.ringIndex < 0 {
		return nil
	}
	upd := rsrcUpdate{Offset: uint32(r.ringIndex)}
	r.enterFd, r.enterFlags = r.fd, 0
	r.ringIndex = -1
	n, err := r.register(unregRingFDs, unsafe.Pointer(&upd), 1)
	if err != nil {
		return fmt.Errorf("io_uring_register(UNREGISTER_RING_FDS): %w", err)
	}
	if n != 1 {
		// The kernel found nothing at that index for this thread: we are
		// not on the registering thread, and the registration (which holds
		// a reference to the ring) stays until that thread exits.
		return fmt.Errorf("io_uring_register(UNREGISTER_RING_FDS): index %d not registered on this thread (leaked until the registering thread exits)", upd.Offset)
	}
	return nil
}

// RingFDRegistered reports whether enters use a registered ring index.
func (r *Ring) RingFDRegistered() bool { return r.ringIndex >= 0 }
