package uring

// Connection state: slots, arming receives, and closing a client and its upstream together.

import (
	"github.com/ringbench/ringbench/internal/ring"
	"golang.org/x/sys/unix"
)

func (s *Server) newConn(fd int32, client bool) int32 {
	var i int32
	if n := len(s.free); n > 0 {
		i = s.free[n-1]
		s.free = s.free[:n-1]
	} else {
		s.conns = append(s.conns, conn{})
		i = int32(len(s.conns) - 1)
	}
	q := s.conns[i].q[:0]
	s.conns[i] = conn{inUse: true, client: client, fd: fd, rawFD: -1, peer: -1, q: q}
	return i
}

func (s *Server) startRecv(i int32) {
	cn := &s.conns[i]
	if cn.closing {
		return
	}
	q := s.sqe()
	if s.br != nil {
		ring.Recv{FD: cn.fd, Multishot: true, BufferSelect: true, BufGroup: s.br.Group(), Fixed: s.fixed}.Prep(q)
		cn.recvArmed, cn.starved = true, false
	} else {
		ring.Recv{FD: cn.fd, Buf: s.buf(i), Len: uint32(s.cfg.BufSize), Fixed: s.fixed}.Prep(q)
	}
	q.SetUserData(ud(kRecv, i))
	cn.pending++
}

// closeFD closes a socket that has no requests in flight.
func (s *Server) closeFD(fd int32) {
	if !s.fixed {
		unix.Close(int(fd))
		return
	}
	q := s.sqe()
	ring.Close{FileIndex: uint32(fd) + 1}.Prep(q)
	q.SetUserData(ud(kIgnore, 0))
}

func (s *Server) noteErr(res int32) {
	switch {
	case res == 0, res == -int32(unix.ECONNRESET), res == -int32(unix.EPIPE), res == -int32(unix.ECANCELED):
	default:
		s.errs.Add(1)
	}
}

// closePair starts closing connection i and its peer: both sockets are shut down, which ends their
// requests in flight; each is closed and its slot freed once its last request has completed.
func (s *Server) closePair(i int32) {
	for _, j := range []int32{i, s.conns[i].peer} {
		if j < 0 {
			continue
		}
		cn := &s.conns[j]
		if !cn.inUse || cn.closing {
			continue
		}
		cn.closing = true
		if cn.client {
			s.open.Add(-1)
		}
		if cn.pending > 0 && cn.fd >= 0 && cn.rawFD < 0 {
			q := s.sqe()
			ring.Shutdown{FD: cn.fd, How: unix.SHUT_RDWR, Fixed: s.fixed}.Prep(q)
			q.SetUserData(ud(kIgnore, j))
			if cn.paused && !cn.recvArmed {
				cn.paused = false
			}
		}
		s.maybeRelease(j)
	}
}

// maybeRelease frees a closing connection whose requests have all completed.
func (s *Server) maybeRelease(i int32) {
	cn := &s.conns[i]
	if !cn.closing || cn.pending > 0 || !cn.inUse {
		return
	}
	if s.br != nil {
		for _, it := range cn.q {
			s.recycle(it.bid)
		}
		cn.q = cn.q[:0]
	}
	if cn.rawFD >= 0 {
		unix.Close(int(cn.rawFD))
		cn.rawFD = -1
	}
	if cn.fd >= 0 {
		s.closeFD(cn.fd)
	}
	cn.inUse = false
	cn.fd = -1
	s.free = append(s.free, i)
}
