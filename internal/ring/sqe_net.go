package ring

import "unsafe"

// Builders for socket opcodes. Addresses (sockaddr buffers, their lengths)
// are pointers the garbage collector does not see in the SQE: keep them
// off-heap (Arena, mmap) or pinned until the request completes.

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
	s.prep(OpAccept, o.Fixed, o.FD, ptr(o.Addr), 0, ptr(o.AddrLen))
	s.OpFlags = uint32(o.Flags)
	s.FileIndex = o.FileIndex
	if o.Multishot {
		s.IoPrio |= acceptMultishot
	}
}

// Connect is IORING_OP_CONNECT: connect socket FD to the raw sockaddr at
// Addr (AddrLen bytes, e.g. a struct sockaddr_in), which must stay valid
// until completion. Res is 0 or -errno (-EINPROGRESS is not reported: the
// request completes when the connection does).
type Connect struct {
	FD      int32
	Addr    unsafe.Pointer
	AddrLen uint32
	Fixed   bool // FD is a fixed-file slot
}

// Prep fills s.
func (o Connect) Prep(s *SQE) {
	s.prep(OpConnect, o.Fixed, o.FD, ptr(o.Addr), 0, uint64(o.AddrLen))
}

// Shutdown is IORING_OP_SHUTDOWN (5.11+): shutdown(2) of socket FD with How
// (unix.SHUT_RD, SHUT_WR, SHUT_RDWR). Requests pending on the socket then
// end (a recv with 0, a send with -EPIPE).
type Shutdown struct {
	FD    int32
	How   int
	Fixed bool // FD is a fixed-file slot
}

// Prep fills s.
func (o Shutdown) Prep(s *SQE) {
	s.prep(OpShutdown, o.Fixed, o.FD, 0, uint32(o.How), 0)
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
	s.prepSendRecv(OpRecv, o.Fixed, o.FD, o.Buf, o.Len, o.Flags, o.PollFirst)
	if o.BufferSelect {
		s.Flags |= FlagBufferSelect
		s.BufIndex = o.BufGroup
	}
	if o.Multishot {
		s.IoPrio |= recvMultishot
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
func (o Send) Prep(s *SQE) { s.prepSendRecv(OpSend, o.Fixed, o.FD, o.Buf, o.Len, o.Flags, o.PollFirst) }

// prepSendRecv is what RECV and SEND share (the kernel's io_sendrecv_prep): buffer, MSG_* flags and
// IORING_RECVSEND_POLL_FIRST.
func (s *SQE) prepSendRecv(op uint8, fixed bool, fd int32, buf unsafe.Pointer, n uint32, flags int, pollFirst bool) {
	s.prep(op, fixed, fd, ptr(buf), n, 0)
	s.OpFlags = uint32(flags)
	if pollFirst {
		s.IoPrio |= recvsendPollFirst
	}
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
	var n uint32
	if o.Multishot {
		n = pollAddMulti
	}
	s.prep(OpPollAdd, o.Fixed, o.FD, 0, n, 0)
	s.OpFlags = o.Events // poll32_events; little-endian layout assumed
	if !littleEndian {
		s.OpFlags = o.Events<<16 | o.Events>>16 // the kernel swahw32()s it back
	}
}
