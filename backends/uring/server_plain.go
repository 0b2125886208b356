package uring

// Plain receive mode: one recv at a time per connection into its own buffer, echoed by a send linked to
// the next recv.

import (
	"fmt"
	"unsafe"

	"github.com/ringbench/ringbench/internal/ring"
	"golang.org/x/sys/unix"
)

// chunkSlots is how many per-connection buffers (plain mode) one mapping holds; mappings are made as
// connection slots are first used, and their pages are touched only by data.
const chunkSlots = 64

// buf returns the plain-mode buffer of slot i, mapping its chunk on first use.
func (s *Server) buf(i int32) unsafe.Pointer {
	ch := int(i) / chunkSlots
	for ch >= len(s.chunks) {
		m, err := unix.Mmap(-1, 0, chunkSlots*s.cfg.BufSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
		if err != nil {
			panic(fmt.Sprintf("%s server: mmap receive buffers: %v", s.name, err))
		}
		s.chunks = append(s.chunks, m)
	}
	return unsafe.Pointer(&s.chunks[ch][(int(i)%chunkSlots)*s.cfg.BufSize])
}

// completed counts the completion of one of connection i's requests and returns the connection, or nil
// when it is closing (it is then released once its last request has completed).
func (s *Server) completed(i int32) *conn {
	cn := &s.conns[i]
	cn.pending--
	if cn.closing {
		s.maybeRelease(i)
		return nil
	}
	return cn
}

// transferred is completed for a recv or send that moves res bytes: an error or the end of the stream
// (res <= 0) starts closing the connection and its peer, and gives nil too.
func (s *Server) transferred(i int32, res int32) *conn {
	cn := s.completed(i)
	if cn != nil && res <= 0 {
		s.noteErr(res)
		s.closePair(i)
		return nil
	}
	return cn
}

func (s *Server) onRecv(i int32, res int32) {
	cn := s.transferred(i, res)
	if cn == nil {
		return
	}
	if cn.client {
		s.bytesIn.Add(int64(res))
	}
	cn.sendOff, cn.sendLen = 0, res
	s.sendPlain(i)
}

// sendPlain sends what connection i received to its peer, linked to i's next recv into the same buffer:
// MSG_WAITALL makes the kernel finish a partial send itself, and the link starts the recv only once the
// whole echo is out (a failed send cancels it). One submission, no buffer reused early.
func (s *Server) sendPlain(i int32) {
	cn := &s.conns[i]
	s.reserve(2)
	q := s.sqe()
	ring.Send{FD: s.conns[cn.peer].fd, Buf: unsafe.Add(s.buf(i), cn.sendOff), Len: uint32(cn.sendLen - cn.sendOff),
		Flags: unix.MSG_NOSIGNAL | unix.MSG_WAITALL, Fixed: s.fixed}.Prep(q)
	q.SetFlags(ring.FlagIOLink)
	q.SetUserData(ud(kSend, i))
	r := s.sqe()
	ring.Recv{FD: cn.fd, Buf: s.buf(i), Len: uint32(s.cfg.BufSize), Fixed: s.fixed}.Prep(r)
	r.SetUserData(ud(kRecv, i))
	cn.pending += 2
	s.expect++
	// A full buffer means a bulk transfer (more data waiting): its sends are likely to block.
	s.expectBig = s.expectBig || cn.sendLen-cn.sendOff > smallSend || int(cn.sendLen) == s.cfg.BufSize
}

func (s *Server) onSend(i int32, res int32) {
	cn := s.completed(i)
	if cn == nil {
		return
	}
	if res != cn.sendLen-cn.sendOff {
		// An error, or (MSG_WAITALL) a send cut short by one: the linked recv is cancelled.
		s.noteErr(res)
		s.closePair(i)
	}
}
