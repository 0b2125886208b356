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

// prep is the core every builder shares (liburing's io_uring_prep_rw): it
// sets the opcode, the fd (a registered-file slot when fixed), addr, len and
// off. Builders then set what only their opcode uses.
func (s *SQE) prep(op uint8, fixed bool, fd int32, addr uint64, n uint32, off uint64) {
	s.Opcode = op
	s.Flags |= fixedFlag(fixed)
	s.Fd = fd
	s.Addr = addr
	s.Len = n
	s.Off = off
}

// The builders fill a zeroed SQE (as returned by GetSQE): they set only the
// fields their opcode uses and OR their flags in. Set user data and IOSQE
// flags after Prep with SetUserData / SetFlags. Builders for network
// opcodes are in sqe_net.go, for cancellation and the file table in
// sqe_ctl.go.

// Nop is IORING_OP_NOP.
type Nop struct{}

// Prep fills s.
func (Nop) Prep(s *SQE) { s.Opcode = OpNop }

// RW is what the read and write opcodes take (liburing's io_uring_prep_rw);
// Read, Write, ReadFixed and WriteFixed are RW under their opcode's name.
// Offset ^uint64(0) (-1) means the file's current position. Buf must stay
// valid until completion. In a link chain a short read counts as a failure
// and cancels the rest of the chain.
type RW struct {
	FD      int32
	Buf     unsafe.Pointer
	Len     uint32
	Offset  uint64
	Fixed   bool // FD is a fixed-file slot
	RWFlags uint32
	// BufIndex is the registered buffer (RegisterBuffers) that Buf..Buf+Len
	// must lie inside, for ReadFixed and WriteFixed.
	BufIndex uint16
}

func (o RW) prep(s *SQE, op uint8) {
	s.prep(op, o.Fixed, o.FD, ptr(o.Buf), o.Len, o.Offset)
	s.OpFlags = o.RWFlags
	s.BufIndex = o.BufIndex
}

// Read is IORING_OP_READ (pread).
type Read RW

// Prep fills s.
func (o Read) Prep(s *SQE) { RW(o).prep(s, OpRead) }

// Write is IORING_OP_WRITE (pwrite).
type Write RW

// Prep fills s.
func (o Write) Prep(s *SQE) { RW(o).prep(s, OpWrite) }

// ReadFixed is IORING_OP_READ_FIXED: a Read into registered buffer BufIndex.
type ReadFixed RW

// Prep fills s.
func (o ReadFixed) Prep(s *SQE) { RW(o).prep(s, OpReadFixed) }

// WriteFixed is IORING_OP_WRITE_FIXED: a Write from registered buffer
// BufIndex.
type WriteFixed RW

// Prep fills s.
func (o WriteFixed) Prep(s *SQE) { RW(o).prep(s, OpWriteFixed) }

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
	s.prep(OpOpenat, false, o.DirFD, ptr(unsafe.Pointer(o.Path)), o.Mode, 0)
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
	fd := o.FD
	if o.FileIndex != 0 {
		fd = 0
	}
	s.prep(OpClose, false, fd, 0, 0, 0)
	s.FileIndex = o.FileIndex
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
	s.prep(OpTimeout, false, -1, ptr(unsafe.Pointer(o.TS)), 1, uint64(o.Count))
	s.OpFlags = o.Flags
}
