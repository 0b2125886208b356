package loadgen

// The io_uring engine of the load generator. Per connection one multishot recv picks buffers from a
// provided-buffer ring and stays armed; sends go out of the pattern (off the Go heap) one at a time per
// connection; sockets are registered files. Each loop turn is one io_uring_enter that submits the turn's
// sends and waits for their completions (inline on loopback) plus one more, so a generator at N
// connections makes far fewer than one syscall per request, and spends its CPU on TCP rather than on
// system-call overhead.

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/ringbench/ringbench/internal/clock"
	"github.com/ringbench/ringbench/internal/ring"
	"golang.org/x/sys/unix"
)

// smallSend is the largest send counted on to complete inline.
const smallSend = 16 << 10

// Request kinds, in the kind byte of user data (ring.PackUD); the id is the connection index.
const (
	ukRecv uint8 = iota + 1
	ukSend
	ukWake
	ukIgnore
)

type uringIO struct {
	l        *loop
	r        *ring.Ring
	br       *ring.BufRing
	evbuf    []byte // off-heap: the eventfd read's 8 bytes
	cqes     []ring.CQE
	expect   int
	big      bool // a send this turn may not complete inline: wait for one completion only
	inflight int
	recycled int
	starved  []int32
	armed    []bool // multishot recv armed, by connection
	sending  []bool // a send in flight, by connection
}

// uringParams are the generator's ring settings, those of the uring backend: the ring is created, used and
// closed on the generator's locked thread (loop.run), so its fd can be registered with that thread and each
// enter skips the fd lookup a multi-threaded process pays; no SQ index array where the kernel allows.
func uringParams() ring.Params {
	const entries = 1024
	return ring.Params{Entries: entries, CQEntries: 8 * entries, SingleIssuer: true, DeferTaskrun: true,
		NoSQArray: true, RegisterRingFD: true}
}

// newUringIO sets the engine up for the loop's active connections, or says why it cannot.
func newUringIO(l *loop) (*uringIO, error) {
	u := &uringIO{l: l, armed: make([]bool, l.active), sending: make([]bool, l.active)}
	var err error
	u.r, err = ring.New(uringParams())
	if err != nil {
		return nil, fmt.Errorf("load generator: io_uring: %w", err)
	}
	fail := func(err error) (*uringIO, error) {
		u.r.Close()
		if u.evbuf != nil {
			_ = unix.Munmap(u.evbuf)
		}
		return nil, fmt.Errorf("load generator: io_uring: %w", err)
	}
	if u.r.Features()&ring.FeatExtArg == 0 {
		return fail(errors.New("no timed waits (IORING_FEAT_EXT_ARG, 5.11+)"))
	}
	fds := make([]int32, l.active)
	for i, c := range l.conns[:l.active] {
		fds[i] = int32(c.fd)
	}
	if err := u.r.RegisterFiles(fds); err != nil {
		return fail(err)
	}
	bufSize := 4096
	for bufSize < int(l.msgSize*l.pipeline) && bufSize < 64<<10 {
		bufSize *= 2
	}
	nbufs := uint32(1)
	for nbufs < uint32((4<<20)/bufSize) {
		nbufs *= 2
	}
	if u.br, err = u.r.NewBufRing(0, nbufs, bufSize); err != nil {
		return fail(err)
	}
	if u.evbuf, err = unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS); err != nil {
		return fail(err)
	}
	u.cqes = make([]ring.CQE, 1024)
	u.armWake()
	for i := range l.conns[:l.active] {
		u.arm(int32(i))
	}
	if _, err := u.r.Submit(); err != nil {
		u.close()
		return nil, fmt.Errorf("load generator: io_uring: %w", err)
	}
	return u, nil
}

func (u *uringIO) sqe() *ring.SQE {
	for i := 0; ; i++ {
		if q := u.r.GetSQE(); q != nil {
			u.inflight++
			return q
		}
		if _, err := u.r.Submit(); err != nil && i > 1000 {
			panic(fmt.Sprintf("load generator: io_uring submission queue stuck: %v", err))
		}
	}
}

func (u *uringIO) armWake() {
	q := u.sqe()
	ring.Read{FD: int32(u.l.evfd), Buf: unsafe.Pointer(&u.evbuf[0]), Len: 8, Offset: ^uint64(0)}.Prep(q)
	q.SetUserData(ring.PackUD(ukWake, 0, 0))
}

func (u *uringIO) arm(i int32) {
	q := u.sqe()
	ring.Recv{FD: i, Fixed: true, Multishot: true, BufferSelect: true, BufGroup: u.br.Group()}.Prep(q)
	q.SetUserData(ring.PackUD(ukRecv, 0, uint32(i)))
	u.armed[i] = true
}

// send queues connection c's next send (one in flight per connection: a socket's bytes stay in order).
func (u *uringIO) send(c *gconn) {
	i := c.idx
	if u.sending[i] {
		return
	}
	owe := c.issued*u.l.msgSize - c.sent
	if owe <= 0 {
		return
	}
	off := c.phase + int(c.sent%patternPeriod)
	q := u.sqe()
	n := min(owe, chunk)
	ring.Send{FD: i, Fixed: true, Buf: unsafe.Pointer(&u.l.pool[off]), Len: uint32(n), Flags: unix.MSG_NOSIGNAL}.Prep(q)
	q.SetUserData(ring.PackUD(ukSend, 0, uint32(i)))
	u.sending[i] = true
	u.expect++
	// A large request, or several in flight, fills socket buffers: then a send may block.
	u.big = u.big || n > smallSend || u.l.msgSize*u.l.pipeline > smallSend
}

// runUring is run's loop on the io_uring engine.
func (l *loop) runUring(cmds <-chan command, end int64, limit time.Duration) (closed, stopped bool) {
	u := l.u
	now := clock.Now()
	p := pacer{lastCheck: now, lastYield: now}
	for l.err == nil {
		timeout := l.turnTimeout()
		// Wait for this turn's sends (small ones complete inline) and one completion more. A send that
		// may block is not waited for: with DEFER_TASKRUN the kernel would not even run the receives
		// that could unblock the server until enough completions were due.
		want := uint32(1)
		if !u.big {
			want += uint32(u.expect)
		}
		_, err := u.r.SubmitAndWaitTimeout(want, time.Duration(timeout))
		u.expect, u.big = 0, false
		if err != nil && err != unix.ETIME && err != unix.EINTR && err != unix.EAGAIN && err != unix.EBUSY {
			l.err = fmt.Errorf("load generator: io_uring_enter: %w", err)
			break
		}
		now = clock.Now()
		if l.series != nil {
			l.series.At(now)
		}
		p.yield(now)
		u.reap(now)
		if done, closed, stopped := l.endTurn(&p, now, end, limit, cmds); done {
			return closed, stopped
		}
	}
	l.running = false
	return false, false
}

func (u *uringIO) reap(now int64) {
	l := u.l
	for l.err == nil {
		n := u.r.Reap(u.cqes)
		for _, cq := range u.cqes[:n] {
			if cq.Flags&ring.CQEFMore == 0 {
				u.inflight--
			}
			if l.err != nil {
				if bid, ok := cq.BufferID(); ok {
					u.recycle(bid)
				}
				continue
			}
			kind, _, id := ring.UnpackUD(cq.UserData)
			i := int32(id)
			switch kind {
			case ukWake:
				u.armWake()
			case ukSend:
				c := l.conns[i]
				u.sending[i] = false
				if cq.Res < 0 {
					l.fail(c, unix.Errno(-cq.Res).Error())
					continue
				}
				c.sent += int64(cq.Res)
				u.send(c)
			case ukRecv:
				c := l.conns[i]
				if !cq.More() {
					u.armed[i] = false
				}
				switch {
				case cq.Res > 0:
					bid, ok := cq.BufferID()
					if !ok {
						l.err = fmt.Errorf("load generator: io_uring recv without a buffer")
						continue
					}
					l.deliver(c, u.br.Buf(bid)[:cq.Res], now)
					u.recycle(bid)
					if !u.armed[i] && l.err == nil {
						u.arm(i)
					}
				case cq.Res == 0:
					l.fail(c, "EOF")
				case cq.Res == -int32(unix.ENOBUFS):
					u.starved = append(u.starved, i) // re-armed when buffers come back
				default:
					l.fail(c, unix.Errno(-cq.Res).Error())
				}
			}
		}
		if n < len(u.cqes) {
			break
		}
	}
	if u.recycled > 0 {
		u.br.Advance()
		u.recycled = 0
		for _, i := range u.starved {
			if !u.armed[i] {
				u.arm(i)
			}
		}
		u.starved = u.starved[:0]
	}
}

func (u *uringIO) recycle(bid uint16) {
	u.br.Recycle(bid)
	u.recycled++
}

// close cancels every request, waits (boundedly) for them to end, and releases the ring.
func (u *uringIO) close() {
	drained := u.r.CancelAndDrain(ring.PackUD(ukIgnore, 0, 0), &u.inflight, u.cqes, 2*time.Second) == nil
	_ = u.r.Close() // the registered files and the buffer ring go with it
	if drained {
		_ = unix.Munmap(u.evbuf)
	} else {
		u.l.keepPool = true // the kernel may still write or read there: leak rather than reuse
	}
	u.l.u = nil
}
