//go:build linux

package kmatrix

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A minimal, self-contained io_uring client: just enough to register a provided buffer ring and run one
// multishot recv. It does not use internal/ring on purpose, so that the matrix is an independent check.
// Layouts from include/uapi/linux/io_uring.h.

const (
	iouOpRecv          = 27
	iouSqeBufferSelect = 1 << 5 // IOSQE_BUFFER_SELECT
	iouRecvMultishot   = 1 << 1 // IORING_RECV_MULTISHOT, in sqe.ioprio
	iouCqeFBuffer      = 1 << 0 // IORING_CQE_F_BUFFER
	iouCqeFMore        = 1 << 1 // IORING_CQE_F_MORE
	iouEnterGetEvents  = 1 << 0
	iouRegPbufRing     = 22
	iouOffSQRing       = 0
	iouOffCQRing       = 0x8000000
	iouOffSQEs         = 0x10000000
)

type iouSQOffsets struct {
	Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1 uint32
	UserAddr                                                        uint64
}

type iouCQOffsets struct {
	Head, Tail, RingMask, RingEntries, Overflow, Cqes, Flags, Resv1 uint32
	UserAddr                                                        uint64
}

type iouParams struct {
	SQEntries, CQEntries, Flags, SQThreadCPU, SQThreadIdle, Features, WQFd uint32
	Resv                                                                   [3]uint32
	SQOff                                                                  iouSQOffsets
	CQOff                                                                  iouCQOffsets
}

type iouSQE struct {
	Opcode      uint8
	Flags       uint8
	Ioprio      uint16
	Fd          int32
	Off         uint64
	Addr        uint64
	Len         uint32
	OpFlags     uint32
	UserData    uint64
	BufGroup    uint16
	Personality uint16
	FileIndex   uint32
	Addr3       uint64
	Pad         uint64
}

type iouCQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

type iouBufReg struct {
	RingAddr    uint64
	RingEntries uint32
	Bgid        uint16
	Flags       uint16
	Resv        [3]uint64
}

// Sizes the kernel expects; checked in caps_linux_test.go.
var (
	sizeofParams = unsafe.Sizeof(iouParams{})
	sizeofSQE    = unsafe.Sizeof(iouSQE{})
	sizeofCQE    = unsafe.Sizeof(iouCQE{})
	sizeofBufReg = unsafe.Sizeof(iouBufReg{})
)

type miniRing struct {
	fd             int
	sq, cq, sqes   []byte
	p              iouParams
	bufRing, arena []byte
}

func errnoName(err error) string {
	var e unix.Errno
	if errors.As(err, &e) {
		if n := unix.ErrnoName(e); n != "" {
			return n
		}
	}
	return err.Error()
}

func newMiniRing() (*miniRing, error) {
	r := &miniRing{fd: -1}
	r.p.SQEntries = 4
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafe.Pointer(&r.p)), 0)
	if e != 0 {
		return nil, fmt.Errorf("io_uring_setup: %s", errnoName(e))
	}
	r.fd = int(fd)
	var err error
	sqSize := int(r.p.SQOff.Array + r.p.SQEntries*4)
	cqSize := int(r.p.CQOff.Cqes + r.p.CQEntries*uint32(sizeofCQE))
	prot, flags := unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE
	if r.sq, err = unix.Mmap(r.fd, iouOffSQRing, sqSize, prot, flags); err != nil {
		r.close()
		return nil, fmt.Errorf("mmap SQ ring: %s", errnoName(err))
	}
	if r.cq, err = unix.Mmap(r.fd, iouOffCQRing, cqSize, prot, flags); err != nil {
		r.close()
		return nil, fmt.Errorf("mmap CQ ring: %s", errnoName(err))
	}
	if r.sqes, err = unix.Mmap(r.fd, iouOffSQEs, int(r.p.SQEntries)*int(sizeofSQE), prot, flags); err != nil {
		r.close()
		return nil, fmt.Errorf("mmap SQEs: %s", errnoName(err))
	}
	return r, nil
}

func (r *miniRing) close() {
	for _, m := range [][]byte{r.sq, r.cq, r.sqes, r.bufRing, r.arena} {
		if m != nil {
			_ = unix.Munmap(m)
		}
	}
	if r.fd >= 0 {
		_ = unix.Close(r.fd)
	}
}

func u32(b []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&b[off])) }

// submit queues one SQE and enters the kernel, waiting for at least one completion.
func (r *miniRing) submit(sqe iouSQE) error {
	mask := *u32(r.sq, r.p.SQOff.RingMask)
	tail := atomic.LoadUint32(u32(r.sq, r.p.SQOff.Tail))
	idx := tail & mask
	*(*iouSQE)(unsafe.Pointer(&r.sqes[uintptr(idx)*sizeofSQE])) = sqe
	*u32(r.sq, r.p.SQOff.Array+idx*4) = idx
	atomic.StoreUint32(u32(r.sq, r.p.SQOff.Tail), tail+1)
	return r.enter(1)
}

func (r *miniRing) enter(toSubmit uint32) error {
	for {
		_, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), 1, iouEnterGetEvents, 0, 0)
		if e == unix.EINTR {
			toSubmit = 0 // the SQE was consumed or will be; just wait again
			continue
		}
		if e != 0 {
			return fmt.Errorf("io_uring_enter: %s", errnoName(e))
		}
		return nil
	}
}

// reap returns the next completion; ok is false when the CQ is empty.
func (r *miniRing) reap() (c iouCQE, ok bool) {
	head := atomic.LoadUint32(u32(r.cq, r.p.CQOff.Head))
	tail := atomic.LoadUint32(u32(r.cq, r.p.CQOff.Tail))
	if head == tail {
		return c, false
	}
	mask := *u32(r.cq, r.p.CQOff.RingMask)
	c = *(*iouCQE)(unsafe.Pointer(&r.cq[uintptr(r.p.CQOff.Cqes)+uintptr(head&mask)*sizeofCQE]))
	atomic.StoreUint32(u32(r.cq, r.p.CQOff.Head), head+1)
	return c, true
}

// registerBufRing registers a provided buffer ring of n buffers of size bytes as group bgid and fills it.
func (r *miniRing) registerBufRing(n, size int, bgid uint16) error {
	var err error
	if r.bufRing, err = unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE); err != nil {
		return fmt.Errorf("mmap: %s", errnoName(err))
	}
	if r.arena, err = unix.Mmap(-1, 0, n*size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE); err != nil {
		return fmt.Errorf("mmap: %s", errnoName(err))
	}
	reg := iouBufReg{RingAddr: uint64(uintptr(unsafe.Pointer(&r.bufRing[0]))), RingEntries: uint32(n), Bgid: bgid}
	_, _, e := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), iouRegPbufRing, uintptr(unsafe.Pointer(&reg)), 1, 0, 0)
	if e != 0 {
		return fmt.Errorf("IORING_REGISTER_PBUF_RING: %s", errnoName(e))
	}
	// struct io_uring_buf { u64 addr; u32 len; u16 bid; u16 resv; }: the ring's 16-bit tail is bufs[0].resv.
	for i := 0; i < n; i++ {
		e := r.bufRing[i*16:]
		*(*uint64)(unsafe.Pointer(&e[0])) = uint64(uintptr(unsafe.Pointer(&r.arena[i*size])))
		*(*uint32)(unsafe.Pointer(&e[8])) = uint32(size)
		*(*uint16)(unsafe.Pointer(&e[12])) = uint16(i)
	}
	// Publish the tail with one 32-bit release store over bufs[0].bid (0) and the tail.
	atomic.StoreUint32(u32(r.bufRing, 12), uint32(n)<<16)
	return nil
}

// ProbeCaps tries a provided buffer ring and a multishot recv on this kernel.
func ProbeCaps() Caps {
	c := Caps{Schema: CapsSchema}
	r, err := newMiniRing()
	if err != nil {
		c.BufRing.Detail, c.MultishotRecv.Detail = err.Error(), err.Error()
		return c
	}
	defer r.close()
	if err := r.registerBufRing(4, 256, 7); err != nil {
		c.BufRing.Detail = err.Error()
		c.MultishotRecv.Detail = "not tried: needs a provided buffer ring"
		return c
	}
	c.BufRing = Cap{Supported: true, Detail: "registered 4 buffers"}
	c.MultishotRecv = multishotRecv(r)
	return c
}

// multishotRecv arms one multishot recv on a socket pair and checks that two messages arrive on it, each
// in a provided buffer, with IORING_CQE_F_MORE set on the first.
func multishotRecv(r *miniRing) Cap {
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return Cap{Detail: "socketpair: " + errnoName(err)}
	}
	defer unix.Close(sp[0])
	defer unix.Close(sp[1])
	if _, err := unix.Write(sp[1], []byte("first")); err != nil {
		return Cap{Detail: "write: " + errnoName(err)}
	}
	sqe := iouSQE{Opcode: iouOpRecv, Flags: iouSqeBufferSelect, Ioprio: iouRecvMultishot, Fd: int32(sp[0]), BufGroup: 7, UserData: 42}
	if err := r.submit(sqe); err != nil {
		return Cap{Detail: err.Error()}
	}
	first, ok := r.reap()
	if !ok {
		return Cap{Detail: "no completion for the first message"}
	}
	if first.Res < 0 {
		return Cap{Detail: "recv: " + errnoName(unix.Errno(-first.Res))}
	}
	if first.Res != 5 || first.Flags&iouCqeFBuffer == 0 {
		return Cap{Detail: fmt.Sprintf("first completion res=%d flags=%#x: not a provided-buffer receive", first.Res, first.Flags)}
	}
	if first.Flags&iouCqeFMore == 0 {
		return Cap{Detail: fmt.Sprintf("first completion flags=%#x lack IORING_CQE_F_MORE: recv is not multishot", first.Flags)}
	}
	if _, err := unix.Write(sp[1], []byte("second")); err != nil {
		return Cap{Detail: "write: " + errnoName(err)}
	}
	if err := r.enter(0); err != nil {
		return Cap{Detail: err.Error()}
	}
	second, ok := r.reap()
	if !ok || second.Res != 6 || second.UserData != 42 {
		return Cap{Detail: fmt.Sprintf("second message: completion ok=%v res=%d", ok, second.Res)}
	}
	return Cap{Supported: true, Detail: "2 messages on one armed recv"}
}
