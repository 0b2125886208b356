package uring

// Accepting clients: one (multishot) accept, straight into the registered-file table where there is one,
// re-armed after a pause when descriptors run out.

import (
	"fmt"
	"unsafe"

	"github.com/ringbench/ringbench/internal/ring"
	"golang.org/x/sys/unix"
)

func (s *Server) armAccept() {
	if s.accepts {
		return
	}
	s.accepts = true
	q := s.sqe()
	a := ring.Accept{FD: int32(s.lfd), Flags: unix.SOCK_CLOEXEC, Multishot: s.cfg.Multishot}
	if s.fixed {
		a.FileIndex = ring.FileIndexAlloc
		a.Flags = 0 // SOCK_CLOEXEC is EINVAL for a registered-file slot (and meaningless)
	}
	a.Prep(q)
	q.SetUserData(ud(kAccept, 0))
}

func (s *Server) onAccept(c ring.CQE) {
	if !c.More() {
		s.accepts = false
	}
	if c.Res < 0 {
		switch unix.Errno(-c.Res) {
		case unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM:
			// Out of descriptors or table slots: try again in 10 ms rather than spin.
			s.ctr.Errors.Add(1)
			if !s.accepts {
				s.accepts = true
				q := s.sqe()
				ts := (*unix.Timespec)(unsafe.Pointer(&s.scratch[32]))
				*ts = unix.NsecToTimespec(10e6)
				ring.Timeout{TS: ts}.Prep(q)
				q.SetUserData(ud(kAcceptRetry, 0))
			}
			return
		case unix.ECANCELED, unix.EBADF:
			if s.th.Closing.Load() {
				return
			}
		case unix.EINVAL, unix.EOPNOTSUPP:
			s.fatal = fmt.Errorf("%s server: accept: %w (multishot accept needs 5.19+, accepting into registered files 5.15+)",
				s.name, unix.Errno(-c.Res))
			return
		}
		s.armAccept()
		return
	}
	s.armAccept()
	fd := c.Res
	s.ctr.Accepted.Add(1)
	if s.ctr.Open.Load() >= int64(s.cfg.MaxConns) {
		s.ctr.Rejected.Add(1)
		s.closeFD(fd)
		return
	}
	if !s.fixed {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	// (Registered sockets cannot be setsockopt'ed; they inherit TCP_NODELAY from the listener, see Listen.)
	i := s.newConn(fd, true)
	s.ctr.Open.Add(1)
	if s.upstream == nil {
		cn := &s.conns[i]
		cn.peer, cn.ready = i, true
		s.startRecv(i)
		return
	}
	s.dialUpstream(i)
}
