package epollserver

import (
	"github.com/ringbench/ringbench/internal/rawsys"
	"golang.org/x/sys/unix"
)

// handle acts on the events epoll reported for c.
func (s *Server) handle(c *conn, events uint32) {
	if events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		// Reset or hung up both ways: nothing more can be written to it, and a connection that is not
		// being read would otherwise be reported again and again.
		if c.connecting {
			s.ctr.Errors.Add(1)
		}
		s.closeConn(c)
		return
	}
	var resumed *conn
	if events&unix.EPOLLOUT != 0 && (c.connecting || len(c.out) > 0) {
		var open bool
		if open, resumed = s.writable(c); !open {
			return
		}
	}
	if s.mode == Edge && resumed != nil && resumed != c {
		// Its input edges came while it could not read, and will not come again.
		s.readable(resumed)
		if s.conns[c.fd] != c {
			return
		}
	}
	if (events&unix.EPOLLIN != 0 || s.mode == Edge && resumed == c) && !c.paused && !c.connecting {
		s.readable(c)
	}
}

// readable reads from c and writes what it got to c's peer: once, or in Edge mode until read says EAGAIN
// or c stops reading (a backlog, or closed).
func (s *Server) readable(c *conn) {
	if s.mode != Edge {
		s.readOnce(c)
		return
	}
	for s.readOnce(c) {
	}
}

// readOnce reads once from c and writes what it got to c's peer. It tells whether c may have more to read:
// all it read was written, and c is still open.
func (s *Server) readOnce(c *conn) bool {
	n, errno := rawsys.Read(c.fd, s.buf)
	if errno != 0 {
		if errno == unix.EAGAIN {
			return false
		}
		if errno == unix.EINTR {
			return true
		}
		if errno != unix.ECONNRESET {
			s.ctr.Errors.Add(1)
		}
		s.closeConn(c)
		return false
	}
	if n == 0 {
		s.closeConn(c)
		return false
	}
	if c.client {
		s.ctr.BytesIn.Add(int64(n))
	}
	dst := c.peer
	w, errno := s.send(dst.fd, s.buf[:n])
	if errno != 0 && errno != unix.EAGAIN && errno != unix.EINTR {
		if errno != unix.ECONNRESET && errno != unix.EPIPE {
			s.ctr.Errors.Add(1)
		}
		s.closeConn(c)
		return false
	}
	if w == n {
		return true
	}
	// Backlog: keep the rest for the peer, stop reading c until it has been written.
	out := s.spare()
	dst.out = append(out[:0], s.buf[w:n]...)
	dst.outOff = 0
	c.paused = true
	s.ctr.Paused.Add(1)
	s.setInterest(dst, s.interest(dst))
	if dst != c {
		s.setInterest(c, s.interest(c))
	}
	return false
}

// send writes b to fd: once, or in Edge mode until all of b is written or send says EAGAIN (an EPOLLOUT
// edge then follows when the socket has room again). It returns how much was written and, when that is
// not all of b, the errno that stopped it.
func (s *Server) send(fd int, b []byte) (int, unix.Errno) {
	w := 0
	for {
		n, errno := rawsys.Send(fd, b[w:])
		if errno == unix.EINTR && s.mode == Edge {
			continue
		}
		if errno != 0 {
			return w, errno
		}
		w += n
		if w == len(b) || s.mode != Edge {
			return w, 0
		}
	}
}

// writable completes an upstream connect or writes c's backlog. It tells whether c is still open, and
// which connection may read again now (the client once its upstream is connected, or the one whose bytes
// the backlog held once it is written), if any.
func (s *Server) writable(c *conn) (bool, *conn) {
	if c.connecting {
		soerr, err := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil || soerr != 0 {
			s.ctr.Errors.Add(1)
			s.closeConn(c)
			return false, nil
		}
		c.connecting = false
		c.peer.connecting = false
		s.setInterest(c, s.interest(c))
		s.setInterest(c.peer, s.interest(c.peer))
		return true, c.peer
	}
	w, errno := s.send(c.fd, c.out[c.outOff:])
	c.outOff += w
	if errno != 0 {
		if errno == unix.EAGAIN || errno == unix.EINTR {
			return true, nil
		}
		if errno != unix.ECONNRESET && errno != unix.EPIPE {
			s.ctr.Errors.Add(1)
		}
		s.closeConn(c)
		return false, nil
	}
	if c.outOff < len(c.out) {
		return true, nil
	}
	s.spares = append(s.spares, c.out)
	c.out, c.outOff = nil, 0
	src := c.peer // the conn whose bytes these were: c itself when echoing
	src.paused = false
	s.setInterest(c, s.interest(c))
	if src != c {
		s.setInterest(src, s.interest(src))
	}
	return true, src
}
