package loadgen

// Requests on one connection: issuing, sending (epoll), reading, checking the echo against the pattern,
// completing requests into the histogram, and noticing a server that stopped answering.

import (
	"container/heap"
	"fmt"

	"github.com/ringbench/ringbench/internal/rawsys"
	"github.com/ringbench/ringbench/internal/result"
	"golang.org/x/sys/unix"
)

// issue queues one more request on c, timed from start.
func (l *loop) issue(c *gconn, start, now int64) {
	if c.starts == nil {
		c.starts = make([]int64, l.pipeline)
	}
	if c.issued == c.completed {
		c.lastSeen = now // it was quiet: the stall clock starts now
	}
	c.starts[c.issued%l.pipeline] = start
	c.issued++
	l.issuedAll++
}

// flush sends what c owes: at once with epoll (registering for writability only when the socket is
// full), as a queued send with io_uring.
func (l *loop) flush(c *gconn) {
	if l.u != nil {
		l.u.send(c)
		return
	}
	for {
		owe := c.issued*l.msgSize - c.sent
		if owe <= 0 {
			break
		}
		off := c.phase + int(c.sent%patternPeriod)
		n, errno := rawsys.Send(c.fd, l.pool[off:off+int(min(owe, chunk))])
		if errno == unix.EAGAIN {
			if !c.wantOut {
				l.watch(c, unix.EPOLLIN|unix.EPOLLOUT)
				c.wantOut = true
			}
			return
		}
		if errno != 0 {
			l.fail(c, errno.Error())
			return
		}
		c.sent += int64(n)
	}
	if c.wantOut {
		l.watch(c, unix.EPOLLIN)
		c.wantOut = false
	}
}

func (l *loop) watch(c *gconn, events uint32) {
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: events, Fd: int32(c.fd), Pad: c.idx}); err != nil {
		l.err = fmt.Errorf("load generator: epoll_ctl: %w", err)
	}
}

// read takes what arrived on c, checks it, and completes the requests it finishes.
func (l *loop) read(c *gconn, now int64) {
	if c.idle {
		n, errno := rawsys.Read(c.fd, l.rbuf)
		if errno == unix.EAGAIN {
			return
		}
		if errno != 0 || n == 0 {
			l.fail(c, errnoText(errno, n))
		} else {
			l.err = fmt.Errorf("load generator: idle connection %d received %d unexpected bytes", c.idx, n)
		}
		return
	}
	want := c.sent - c.recvd // never read more than has been sent: anything more is the server's error
	if want <= 0 {
		want = 1 // to see a close, or unexpected bytes
	}
	n, errno := rawsys.Read(c.fd, l.rbuf[:min(want, chunk)])
	if errno != 0 {
		if errno == unix.EAGAIN || errno == unix.EINTR {
			return
		}
		l.fail(c, errno.Error())
		return
	}
	if n == 0 {
		l.fail(c, "EOF")
		return
	}
	l.deliver(c, l.rbuf[:n], now)
}

// deliver checks bytes that came back on c and completes the requests they finish.
func (l *loop) deliver(c *gconn, data []byte, now int64) {
	n := len(data)
	if c.recvd+int64(n) > c.sent {
		l.err = fmt.Errorf("load generator: connection %d received more bytes than it sent", c.idx)
		return
	}
	if l.cfg.Verify {
		off := c.phase + int(c.recvd%patternPeriod)
		if string(data) != string(l.pool[off:off+n]) {
			at := 0
			for at < n && data[at] == l.pool[off+at] {
				at++
			}
			pos := c.recvd + int64(at)
			l.err = fmt.Errorf("load generator: --verify: connection %d, request %d, byte %d of the echo differs from what was sent",
				c.idx, pos/l.msgSize, pos%l.msgSize)
			return
		}
	}
	c.recvd += int64(n)
	c.lastSeen = now
	done := c.recvd / l.msgSize
	for c.completed < done {
		lat := now - c.starts[c.completed%l.pipeline]
		if lat < result.HistMin {
			lat = result.HistMin
		} else if lat > result.HistMax {
			lat = result.HistMax
		}
		_ = l.hist.RecordValue(lat)
		if l.series != nil {
			l.series.Record(lat)
		}
		c.completed++
		l.ops++
		l.bytes += l.msgSize
		if !l.openLoop {
			if l.issuedAll < l.cfg.MaxRequests {
				l.issue(c, now, now)
			}
		} else if c.heapIdx < 0 {
			heap.Push(&l.heap, c)
		}
	}
	if !l.openLoop {
		l.flush(c)
	}
}

// checkStalls fails the run when a connection with requests in flight has heard nothing for Timeout.
func (l *loop) checkStalls(now int64) {
	limit := int64(l.cfg.Timeout)
	for _, c := range l.conns[:l.active] {
		if c.issued > c.completed && now-c.lastSeen > limit {
			l.err = fmt.Errorf("load generator: connection %d: no echo for %v with %d requests in flight: %w",
				c.idx, l.cfg.Timeout, c.issued-c.completed, ErrServerGone)
			return
		}
	}
}

func (l *loop) fail(c *gconn, why string) {
	kind := "connection"
	if c.idle {
		kind = "idle connection"
	}
	l.err = fmt.Errorf("load generator: %s %d to %s: %s: %w", kind, c.idx, l.cfg.Target, why, ErrServerGone)
}
