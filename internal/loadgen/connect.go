package loadgen

// Connecting: every connection opened a window at a time, and idle ones primed with one echo each.

import (
	"fmt"
	"time"

	"github.com/ringbench/ringbench/internal/netutil"
	"github.com/ringbench/ringbench/internal/rawsys"
	"golang.org/x/sys/unix"
)

// connectAll opens every connection, a window of non-blocking connects at a time, then has each idle one
// complete one small echo (so that a server's per-connection buffers have been used once, as on a
// keep-alive connection that went quiet).
func (l *loop) connectAll() error {
	sa, family, err := netutil.ResolveSockaddr(l.cfg.Target, false)
	if err != nil {
		return err
	}
	total := l.cfg.Conns + l.cfg.IdleConns
	l.active = l.cfg.Conns
	l.conns = make([]*gconn, 0, total)
	deadline := time.Now().Add(l.cfg.ConnectTimeout)
	const window = 512
	pending := 0
	next := 0
	for next < total || pending > 0 {
		for next < total && pending < window {
			fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
			if err != nil {
				return fmt.Errorf("load generator: socket for connection %d: %w", next, err)
			}
			c := &gconn{fd: fd, idx: int32(next), heapIdx: -1, idle: next >= l.cfg.Conns,
				phase: int((uint64(next) * 2654435761) % patternPeriod)}
			l.conns = append(l.conns, c)
			_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
			err = unix.Connect(fd, sa)
			if err != nil && err != unix.EINPROGRESS {
				return fmt.Errorf("load generator: connect %s (connection %d): %w", l.cfg.Target, next, err)
			}
			if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLOUT, Fd: int32(fd), Pad: c.idx}); err != nil {
				return fmt.Errorf("load generator: epoll_ctl: %w", err)
			}
			pending++
			next++
		}
		n, err := unix.EpollWait(l.epfd, l.events, 100)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("load generator: epoll_wait: %w", err)
		}
		for i := 0; i < n; i++ {
			c := l.conns[l.events[i].Pad]
			soerr, gerr := unix.GetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_ERROR)
			if gerr == nil && soerr != 0 {
				gerr = unix.Errno(soerr)
			}
			if gerr != nil {
				return fmt.Errorf("load generator: connect %s (connection %d): %w", l.cfg.Target, c.idx, gerr)
			}
			// Connected: watch for input only (idle connections too: a close by the server shows).
			if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(c.fd), Pad: c.idx}); err != nil {
				return fmt.Errorf("load generator: epoll_ctl: %w", err)
			}
			pending--
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("load generator: connecting %d connections to %s: %d still pending after %v: %w",
				total, l.cfg.Target, pending+total-next, l.cfg.ConnectTimeout, ErrServerGone)
		}
	}
	return l.pingIdle(deadline)
}

// pingIdle sends each idle connection one small message and waits for all the echoes.
func (l *loop) pingIdle(deadline time.Time) error {
	if l.cfg.IdleConns == 0 {
		return nil
	}
	size := min(l.cfg.MsgSize, 64)
	waiting := 0
	for _, c := range l.conns[l.active:] {
		n, errno := rawsys.Send(c.fd, l.pool[c.phase:c.phase+size])
		if errno != 0 || n != size {
			return fmt.Errorf("load generator: first echo on idle connection %d: short write (%d, %v)", c.idx, n, errno)
		}
		c.pingBytes = size
		waiting++
	}
	for waiting > 0 {
		n, err := unix.EpollWait(l.epfd, l.events, 100)
		if err != nil && err != unix.EINTR {
			return fmt.Errorf("load generator: epoll_wait: %w", err)
		}
		for i := 0; i < n; i++ {
			c := l.conns[l.events[i].Pad]
			if !c.idle || c.pingBytes == 0 {
				continue
			}
			got, errno := rawsys.Read(c.fd, l.rbuf[:c.pingBytes])
			if errno == unix.EAGAIN {
				continue
			}
			if errno != 0 || got == 0 {
				return fmt.Errorf("load generator: first echo on idle connection %d: %w (%s)", c.idx, ErrServerGone, errnoText(errno, got))
			}
			off := c.phase + size - c.pingBytes
			if string(l.rbuf[:got]) != string(l.pool[off:off+got]) {
				return fmt.Errorf("load generator: idle connection %d: echo differs from what was sent", c.idx)
			}
			c.pingBytes -= got
			if c.pingBytes == 0 {
				waiting--
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("load generator: %d idle connections got no echo within %v: %w", waiting, l.cfg.ConnectTimeout, ErrServerGone)
		}
	}
	return nil
}

func errnoText(errno unix.Errno, n int) string {
	if errno != 0 {
		return errno.Error()
	}
	if n == 0 {
		return "EOF"
	}
	return "short"
}
