package uring

// Multishot receive mode: one multishot recv per connection from the shared provided-buffer ring, queued
// chunks sent one at a time, buffers recycled when their send completes, backpressure by cancelling recvs.

import (
	"unsafe"

	"github.com/ringbench/ringbench/internal/ring"
	"golang.org/x/sys/unix"
)

// pauseAt is how many received chunks a multishot connection may have queued for sending before its
// recv is cancelled (backpressure); it is re-armed once the queue is empty.
const pauseAt = 16

func (s *Server) onRecvMultishot(i int32, c ring.CQE) {
	cn := &s.conns[i]
	if !c.More() {
		cn.pending--
		cn.recvArmed = false
	}
	if c.Res > 0 {
		bid, ok := c.BufferID()
		if !ok {
			s.errs.Add(1)
			s.closePair(i)
			return
		}
		if cn.closing {
			s.recycle(bid)
			s.maybeRelease(i)
			return
		}
		if cn.client {
			s.bytesIn.Add(int64(c.Res))
		}
		cn.q = append(cn.q, qitem{bid: bid, len: c.Res})
		if !cn.sending {
			s.sendNext(i)
		}
		cn = &s.conns[i]
		switch {
		case len(cn.q) >= pauseAt && cn.recvArmed && !cn.paused:
			cn.paused = true
			s.paused.Add(1)
			q := s.sqe()
			ring.Cancel{UserData: ud(kRecv, i)}.Prep(q)
			q.SetUserData(ud(kIgnore, i))
		case !cn.recvArmed && !cn.paused:
			s.startRecv(i) // the multishot recv ended without error: re-arm
		}
		return
	}
	if cn.closing {
		s.maybeRelease(i)
		return
	}
	switch {
	case c.Res == -int32(unix.ENOBUFS):
		// The buffer ring is empty: re-armed when buffers come back. A paused connection whose recv ran
		// out of buffers before the backpressure cancel reached it stays paused, and sendNext re-arms it
		// once its queue drains, as after the cancel. Only if the queue has already drained is the pause
		// over here; left set, it would outlive the recv re-armed for the starved connection and
		// disable backpressure on the connection for good.
		if cn.paused {
			if len(cn.q) > 0 || cn.sending {
				break
			}
			cn.paused = false
		}
		if !cn.starved {
			cn.starved = true
			s.starved = append(s.starved, i)
		}
	case c.Res == -int32(unix.ECANCELED) && cn.paused:
		// Cancelled for backpressure: re-armed when the queue drains.
		if len(cn.q) == 0 && !cn.sending {
			cn.paused = false
			s.startRecv(i)
		}
	default:
		s.noteErr(c.Res)
		s.closePair(i)
	}
}

func (s *Server) sendNext(i int32) {
	cn := &s.conns[i]
	if len(cn.q) == 0 {
		cn.sending = false
		if cn.paused && !cn.recvArmed && !cn.closing {
			cn.paused = false
			s.startRecv(i)
		}
		return
	}
	it := cn.q[0]
	q := s.sqe()
	ring.Send{FD: s.conns[cn.peer].fd, Buf: unsafe.Pointer(&s.br.Buf(it.bid)[it.off]), Len: uint32(it.len - it.off),
		Flags: unix.MSG_NOSIGNAL, Fixed: s.fixed}.Prep(q)
	q.SetUserData(ud(kSend, i))
	cn.sending = true
	cn.pending++
	s.expect++
	// A full buffer or a queue means a bulk transfer or a slow reader: this send may well block.
	s.expectBig = s.expectBig || it.len-it.off > smallSend || int(it.len) == s.cfg.BufSize || len(cn.q) > 1
}

func (s *Server) onSendMultishot(i int32, res int32) {
	s.conns[i].sending = false
	cn := s.transferred(i, res)
	if cn == nil {
		return
	}
	it := &cn.q[0]
	it.off += res
	if it.off < it.len {
		s.paused.Add(1)
	} else {
		s.recycle(it.bid)
		copy(cn.q, cn.q[1:])
		cn.q = cn.q[:len(cn.q)-1]
	}
	s.sendNext(i)
}

func (s *Server) recycle(bid uint16) {
	s.br.Recycle(bid)
	s.recycled++
}

// rearmStarved re-arms recvs that ran out of buffers, as many as buffers came back.
func (s *Server) rearmStarved() {
	n := min(s.recycled, len(s.starved))
	for _, i := range s.starved[:n] {
		cn := &s.conns[i]
		// A paused connection is re-armed by sendNext when its queue drains, not here.
		if cn.inUse && cn.starved && !cn.closing && !cn.recvArmed && !cn.paused {
			s.startRecv(i)
		}
		cn.starved = false
	}
	s.starved = append(s.starved[:0], s.starved[n:]...)
}
