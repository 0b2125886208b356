package ring

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// SQE is struct io_uring_sqe (64 bytes), living in the kernel-shared mmap.
// Unions are flattened to their most common name; see the per-opcode
// builders (Nop, Read, ...) for which field means what.
//
// Pointer-valued fields (Addr, Off as addr2, Addr3) are plain integers: the
// garbage collector does not see them. Whatever they point to must be
// off-heap (Arena, BufRing, other mmap) or pinned with runtime.Pinner and
// stay valid until the request completes.
type SQE struct {
	Opcode      uint8
	Flags       uint8  // IOSQE_* (Flag*)
	IoPrio      uint16 // ioprio; accept/recv/send flags for network opcodes
	Fd          int32
	Off         uint64 // off / addr2
	Addr        uint64 // addr / splice_off_in
	Len         uint32
	OpFlags     uint32 // rw_flags, msg_flags, open_flags, timeout_flags, poll32_events, ...
	UserData    uint64
	BufIndex    uint16 // buf_index (fixed buffers) / buf_group (buffer select)
	Personality uint16
	FileIndex   uint32 // file_index / splice_fd_in / addr_len
	Addr3       uint64
	pad2        uint64
}

// SetUserData sets the 64-bit value returned in the CQE.
func (s *SQE) SetUserData(u uint64) { s.UserData = u }

// SetFlags ORs IOSQE_* flags (Flag*) into the SQE. It adds to, never
// clears, flags a builder already set (FlagFixedFile, FlagBufferSelect).
func (s *SQE) SetFlags(f uint8) { s.Flags |= f }

// CQE is struct io_uring_cqe (16 bytes).
type CQE struct {
	UserData uint64
	Res      int32
	Flags    uint32
}

// More reports IORING_CQE_F_MORE: the multishot request that produced this
// CQE is still armed and will post more.
func (c CQE) More() bool { return c.Flags&CQEFMore != 0 }

// BufferID returns the provided-buffer id carried by this CQE, if any.
func (c CQE) BufferID() (uint16, bool) {
	if c.Flags&CQEFBuffer == 0 {
		return 0, false
	}
	return uint16(c.Flags >> cqeBufferShift), true
}

// Err returns nil for Res >= 0, else the errno -Res (no allocation).
func (c CQE) Err() error {
	if c.Res >= 0 {
		return nil
	}
	return unix.Errno(-c.Res)
}

func ptr(p unsafe.Pointer) uint64 { return uint64(uintptr(p)) }

func fixedFlag(fixed bool) uint8 {
	if fixed {
		return FlagFixedFile
	}
	return 0
}

// The builders below fill a zeroed SQE (as returned by GetSQE): they set
// only the fields their opcode uses and OR their flags in. Set user data and
// IOSQE flags after Prep with SetUserData / SetFlags.

// Nop is IORING_OP_NOP.
type Nop struct{}

// Prep fills s.
func (Nop) Prep(s *SQE) { s.Opcode = OpNop }

// Read is IORING_OP_READ (pread). Offset ^uint64(0) (-1) means the file's
// current position. Buf must stay valid until completion. In a link chain a
// short read counts as a failure and cancels the rest of the chain.
type Read struct {
	FD      int32
	Buf     unsafe.Pointer
	Len     uint32
	Offset  uint64
	Fixed   bool // FD is a fixed-file slot
	RWFlags uint32
}

// Prep fills s.
func (o Read) Prep(s *SQE) {
	s.Opcode = OpRead
	s.Flags |= fixedFlag(o.Fixed)
	s.Fd = o.FD
	s.Addr = ptr(o.Buf)
	s.Len = o.Len
	s.Off = o.Offset
	s.OpFlags = o.RWFlags
}

// Write is IORING_OP_WRITE (pwrite).
type Write struct {
	FD      int32
	Buf     unsafe.Pointer
	Len     uint32
	Offset  uint64
	Fixed   bool
	RWFlags uint32
}

// Prep fills s.
func (o Write) Prep(s *SQE) {
	s.Opcode = OpWrite
	s.Flags |= fixedFlag(o.Fixed)
	s.Fd = o.FD
	s.Addr = ptr(o.Buf)
	s.Len = o.Len
	s.Off = o.Offset
	s.OpFlags = o.RWFlags
}

// ReadFixed is IORING_OP_READ_FIXED: Buf..Buf+Len must lie inside
// registered buffer BufIndex (RegisterBuffers).
type ReadFixed struct {
	FD       int32
	Buf      unsafe.Pointer
	Len      uint32
	Offset   uint64
	BufIndex uint16
	Fixed    bool
}

// Prep fills s.
func (o ReadFixed) Prep(s *SQE) {
	s.Opcode = OpReadFixed
	s.Flags |= fixedFlag(o.Fixed)
	s.Fd = o.FD
	s.Addr = ptr(o.Buf)
	s.Len = o.Len
	s.Off = o.Offset
	s.BufIndex = o.BufIndex
}

// WriteFixed is IORING_OP_WRITE_FIXED.
type WriteFixed struct {
	FD       int32
	Buf      unsafe.Pointer
	Len      uint32
	Offset   uint64
	BufIndex uint16
	Fixed    bool
}

// Prep fills s.
func (o WriteFixed) Prep(s *SQE) {
	s.Opcode = OpWriteFixed
	s.Flags |= fixedFlag(o.Fixed)
	s.Fd = o.FD
	s.Addr = ptr(o.Buf)
	s.Len = o.Len
	s.Off = o.Offset
	s.BufIndex = o.BufIndex
}

// OpenAt is IORING_OP_OPENAT. Path is a NUL-terminated string that must stay
// valid until the kernel has consumed the SQE (with SQPOLL that is after
// Submit returns; keep it until the CQE to be safe). FileIndex 0 opens a
// normal fd (returned in Res); slot+1 opens directly into fixed-file slot
// `slot` (Res 0 on success); FileIndexAlloc picks a free slot (Res = slot).
type OpenAt struct {
	DirFD     int32
	Path      *byte
	Flags     int
	Mode      uint32
	FileIndex uint32
}

// Prep fills s.
func (o OpenAt) Prep(s *SQE) {
	s.Opcode = OpOpenat
	s.Fd = o.DirFD
	s.Addr = ptr(unsafe.Pointer(o.Path))
	s.Len = o.Mode
	s.OpFlags = uint32(o.Flags)
	s.FileIndex = o.FileIndex
}

// Close is IORING_OP_CLOSE. With FileIndex = slot+1 it closes fixed-file
// slot `slot` and FD is ignored (sent as 0, as the kernel requires).
type Close struct {
	FD        int32
	FileIndex uint32
}

// Prep fills s.
func (o Close) Prep(s *SQE) {
	s.Opcode = OpClose
	if o.FileIndex != 0 {
		s.FileIndex = o.FileIndex
		return
	}
	s.Fd = o.FD
}

// Accept is IORING_OP_ACCEPT. Addr/AddrLen (sockaddr buffer and a *uint32
// length, both off-heap or pinned) may be nil. Multishot keeps accepting
// (CQE F_MORE); FileIndex slot+1 / FileIndexAlloc accepts into the fixed
// table (multishot requires FileIndexAlloc then). Fixed: FD is a fixed slot.
type Accept struct {
	FD        int32
	Flags     int // SOCK_NONBLOCK, SOCK_CLOEXEC
	Multishot bool
	Fixed     bool
	FileIndex uint32
	Addr      unsafe.Pointer
	AddrLen   unsafe.Pointer
}

// Prep fills s.
func (o Accept) Prep(s *SQE) {
	s.Opcode = OpAccept
	s.Flags |= fixedFlag(o.Fixed)
	s.Fd = o.FD
	s.Addr = ptr(o.Addr)
	s.Off = ptr(o.AddrLen)
	s.OpFlags = uint32(o.Flags)
	s.FileIndex = o.FileIndex
	if o.Multishot {
		s.IoPrio |= acceptMultishot
	}
}

// Recv is IORING_OP_RECV. With BufferSelect the kernel picks a buffer from
// provided-buffer group BufGroup (Buf nil; Len 0 = whole buffer) and reports
// it in the CQE (BufferID). Multishot (6.0+) requires BufferSelect and keeps
// posting CQEs with F_MORE until it ends (re-arm when F_MORE is missing, e.g.
// after -ENOBUFS).
type Recv struct {
	FD           int32
	Buf          unsafe.Pointer
	Len          uint32
	Flags        int // MSG_* flags
	Multishot    bool
	BufferSelect bool
	BufGroup     uint16
	Fixed        bool
	PollFirst    bool
}

// Prep fills s.
func (o Recv) Prep(s *SQE) {
	s.Opcode = OpRecv
	s.Flags |= fixedFlag(o.Fixed)
	s.Fd = o.FD
	s.Addr = ptr(o.Buf)
	s.Len = o.Len
	s.OpFlags = uint32(o.Flags)
	if o.BufferSelect {
		s.Flags |= FlagBufferSelect
		s.BufIndex = o.BufGroup
	}
	if o.Multishot {
		s.IoPrio |= recvMultishot
	}
	if o.PollFirst {
		s.IoPrio |= recvsendPollFirst
	}
}

// Send is IORING_OP_SEND. Buf must stay valid until completion.
type Send struct {
	FD        int32
	Buf       unsafe.Pointer
	Len       uint32
	Flags     int // MSG_* flags
	Fixed     bool
	PollFirst bool
}

// Prep fills s.
func (o Send) Prep(s *SQE) {
	s.Opcode = OpSend
	s.Flags |= fixedFlag(o.Fixed)
	s.Fd = o.FD
	s.Addr = ptr(o.Buf)
	s.Len = o.Len
	s.OpFlags = uint32(o.Flags)
	if o.PollFirst {
		s.IoPrio |= recvsendPollFirst
	}
}

// Timeout is IORING_OP_TIMEOUT: completes with -ETIME after TS, or with 0
// once Count other completions have been posted (Count 0 = pure timer).
// TS points to a struct __kernel_timespec (unix.Timespec has that layout on
// 64-bit Linux); the kernel copies it while consuming the SQE, so it must
// stay valid until then (with SQPOLL, after Submit returns).
type Timeout struct {
	TS    *unix.Timespec
	Count uint32
	Flags uint32 // Timeout* flags
}

// Prep fills s.
func (o Timeout) Prep(s *SQE) {
	s.Opcode = OpTimeout
	s.Fd = -1
	s.Addr = ptr(unsafe.Pointer(o.TS))
	s.Len = 1
	s.Off = uint64(o.Count)
	s.OpFlags = o.Flags
}

// PollAdd is IORING_OP_POLL_ADD: completes with the ready poll mask
// (unix.POLLIN, ...). Multishot keeps it armed (F_MORE).
type PollAdd struct {
	FD        int32
	Events    uint32
	Multishot bool
	Fixed     bool
}

// Prep fills s.
func (o PollAdd) Prep(s *SQE) {
	s.Opcode = OpPollAdd
	s.Flags |= fixedFlag(o.Fixed)
	s.Fd = o.FD
	s.OpFlags = o.Events // poll32_events; little-endian layout assumed
	if !littleEndian {
		s.OpFlags = o.Events<<16 | o.Events>>16 // the kernel swahw32()s it back
	}
	if o.Multishot {
		s.Len = pollAddMulti
	}
}

// Cancel is IORING_OP_ASYNC_CANCEL for the request whose user data is
// UserData (e.g. to stop a multishot accept/recv). Res is 0, -ENOENT or
// -EALREADY.
type Cancel struct {
	UserData uint64
	Flags    uint32 // IORING_ASYNC_CANCEL_* flags
}

// Prep fills s.
func (o Cancel) Prep(s *SQE) {
	s.Opcode = OpAsyncCancel
	s.Fd = -1
	s.Addr = o.UserData
	s.OpFlags = o.Flags
}
