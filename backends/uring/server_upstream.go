package uring

// Proxy mode: each client gets an upstream socket, installed in the registered-file table with
// FILES_UPDATE and connected through the ring.

import (
	"unsafe"

	"github.com/ringbench/ringbench/internal/ring"
	"golang.org/x/sys/unix"
)

// dialUpstream opens client i's upstream connection.
func (s *Server) dialUpstream(i int32) {
	fd, err := unix.Socket(s.upFamily, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		s.ctr.Errors.Add(1)
		s.closePair(i)
		return
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	u := s.newConn(int32(fd), false)
	s.conns[i].peer, s.conns[u].peer = u, i
	if !s.fixed {
		s.connect(u)
		return
	}
	// Install the socket in the registered table (the kernel picks the slot and writes it back), then
	// connect through the slot.
	s.conns[u].rawFD = int32(fd)
	*s.fdSlot(u) = int32(fd)
	q := s.sqe()
	ring.FilesUpdate{FDs: s.fdSlot(u), N: 1, Offset: ring.FileIndexAlloc}.Prep(q)
	q.SetUserData(ud(kUpReg, u))
	s.conns[u].pending++
}

func (s *Server) fdSlot(i int32) *int32 { return (*int32)(unsafe.Pointer(&s.fdArr[4*int(i)])) }

func (s *Server) onUpReg(u int32, res int32) {
	cn := &s.conns[u]
	cn.pending--
	unix.Close(int(cn.rawFD)) // the table holds its own reference now (or the install failed)
	cn.rawFD = -1
	if res < 1 {
		cn.fd = -1
		s.ctr.Errors.Add(1)
		s.closePair(u)
		return
	}
	cn.fd = *s.fdSlot(u)
	if cn.closing {
		s.maybeRelease(u)
		return
	}
	s.connect(u)
}

func (s *Server) connect(u int32) {
	q := s.sqe()
	ring.Connect{FD: s.conns[u].fd, Addr: unsafe.Pointer(&s.scratch[64]), AddrLen: uint32(len(s.upstream)), Fixed: s.fixed}.Prep(q)
	q.SetUserData(ud(kConnect, u))
	s.conns[u].pending++
}

func (s *Server) onConnect(u int32, res int32) {
	cn := s.completed(u)
	if cn == nil {
		return
	}
	if res < 0 {
		s.ctr.Errors.Add(1)
		s.closePair(u)
		return
	}
	c := cn.peer
	cn.ready, s.conns[c].ready = true, true
	s.startRecv(u)
	s.startRecv(c)
}

// rawSockaddr lays out sa as the kernel's struct sockaddr_in / sockaddr_in6.
func rawSockaddr(sa unix.Sockaddr) []byte {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		b := make([]byte, unix.SizeofSockaddrInet4)
		*(*uint16)(unsafe.Pointer(&b[0])) = unix.AF_INET
		b[2], b[3] = byte(a.Port>>8), byte(a.Port)
		copy(b[4:8], a.Addr[:])
		return b
	case *unix.SockaddrInet6:
		b := make([]byte, unix.SizeofSockaddrInet6)
		*(*uint16)(unsafe.Pointer(&b[0])) = unix.AF_INET6
		b[2], b[3] = byte(a.Port>>8), byte(a.Port)
		copy(b[8:24], a.Addr[:])
		return b
	}
	return nil
}
