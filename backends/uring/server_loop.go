package uring

// The event loop: one io_uring_enter per turn, reaping and dispatching completions by request kind.

import (
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"github.com/ringbench/ringbench/internal/clock"
	"github.com/ringbench/ringbench/internal/ring"
	"golang.org/x/sys/unix"
)

// waitTimeout bounds a wait for this turn's sends plus one completion (see loop).
const waitTimeout = 100 * time.Millisecond

// sqe returns a free SQE, submitting what is queued when the SQ is full.
func (s *Server) sqe() *ring.SQE {
	s.reserve(1)
	s.inflight++
	return s.r.GetSQE()
}

// reserve makes room for n SQEs (a linked pair must go to the kernel in one submission).
func (s *Server) reserve(n int) {
	for i := 0; ; i++ {
		if s.r.SQSpace() >= n {
			return
		}
		if _, err := s.r.Submit(); err != nil && i > 1000 {
			panic(fmt.Sprintf("%s server: submission queue stuck: %v", s.name, err))
		}
		if i > 0 {
			// The kernel may want room in the CQ first: reap aside, handled (in ring order) right after
			// the batch being handled now, before anything reaped later (see reapAll).
			k := s.r.Reap(s.aux)
			for _, c := range s.aux[:k] {
				if c.Flags&ring.CQEFMore == 0 {
					s.inflight--
				}
			}
			s.deferred = append(s.deferred, s.aux[:k]...)
		}
	}
}

func (s *Server) loop() error {
	if err := s.armWake(); err != nil {
		return err
	}
	s.armAccept()
	lastYield := clock.Now()
	for iter := 0; ; iter++ {
		if s.closing.Load() {
			return nil
		}
		if iter&63 == 63 {
			// A locked goroutine that only makes syscalls is never rescheduled; after 10 ms the runtime's
			// sysmon takes its P mid-syscall and polls every 20 us (12% of a core on a 2-vCPU VM, Go
			// 1.26). A yield every few milliseconds costs one handoff instead.
			if now := clock.Now(); now-lastYield > int64(4*time.Millisecond) {
				runtime.Gosched()
				lastYield = now
			}
		}
		if s.sqpoll && s.cqSpin > 0 && s.r.CQReady() == 0 {
			if _, err := s.r.Submit(); err != nil && !retryable(err) {
				return fmt.Errorf("%s server: io_uring_enter: %w", s.name, err)
			}
			s.spin()
		}
		// Sends to loopback sockets complete inline, during the enter that submits them. Waiting for
		// them and one completion more lets a single enter both submit this turn's sends and wait for the
		// next request: one enter per turn instead of two. The timeout only matters when a send does not
		// complete at once (its socket is full) and nothing else happens: the loop then still wakes within
		// waitTimeout. It is long on purpose: a 1 ms timer, which is re-armed on every enter, cost 25% more
		// CPU per request at one connection on this VM (timer reprogramming), a 100 ms one nothing measurable.
		// A minimum wait (IORING_FEAT_MIN_TIMEOUT, 6.12+) arms a timer on every enter too: tried in place of the
		// 100 ms fallback, it raised CPU per request at 64 B and saved 7% of the enters at 64 KiB (1 conn).
		var err error
		if expect := s.expect; expect > 0 && s.timedWait && !s.expectBig {
			_, err = s.r.SubmitAndWaitTimeout(uint32(expect)+1, waitTimeout)
			if err == unix.ETIME {
				err = nil
			}
		} else {
			_, err = s.r.SubmitAndWait(1)
		}
		s.expect, s.expectBig = 0, false
		if err != nil && !retryable(err) && err != unix.EINTR {
			return fmt.Errorf("%s server: io_uring_enter: %w", s.name, err)
		}
		if stop := s.reapAll(); stop {
			return nil
		}
		if s.fatal != nil {
			return s.fatal
		}
		st := s.r.Stats()
		s.enters.Store(int64(st.Enters))
		s.submitEnters.Store(int64(st.SubmitEnters))
		s.waitEnters.Store(int64(st.WaitEnters))
	}
}

func (s *Server) spin() {
	deadline := clock.Now() + s.cqSpin
	for i := 0; s.r.CQReady() == 0; i++ {
		if i&15 == 15 && clock.Now() >= deadline {
			return
		}
	}
}

// reapAll handles every ready completion, in ring order; true when the wake-up (Close) arrived.
//
// CQEs that reserve reaped aside (s.deferred) while an earlier batch was being handled are older than
// anything still in the ring, so they are handled before the next Reap: handling them out of order
// would, for example, echo two chunks of one socket swapped (multishot), or see a recv complete before
// the send linked ahead of it (plain). Handling them may defer more, which are newer still and go last.
func (s *Server) reapAll() bool {
	stop := s.handleDeferred()
	for {
		n := s.r.Reap(s.cqes)
		if n == 0 {
			break
		}
		for i := 0; i < n; i++ {
			c := s.cqes[i]
			if c.Flags&ring.CQEFMore == 0 {
				s.inflight--
			}
			if s.handle(c) {
				stop = true
			}
		}
		if s.handleDeferred() {
			stop = true
		}
		if n < len(s.cqes) {
			break
		}
	}
	if s.br != nil && s.recycled > 0 {
		s.br.Advance()
		s.rearmStarved()
		s.recycled = 0
	}
	return stop
}

// handleDeferred handles the CQEs reserve reaped aside, oldest first, including any deferred while
// doing so.
func (s *Server) handleDeferred() bool {
	stop := false
	for k := 0; k < len(s.deferred); k++ {
		if s.handle(s.deferred[k]) {
			stop = true
		}
	}
	s.deferred = s.deferred[:0]
	return stop
}

func (s *Server) handle(c ring.CQE) bool {
	kind, _, id := ring.UnpackUD(c.UserData)
	slot := int32(id)
	switch kind {
	case kWake:
		return true
	case kIgnore:
	case kAccept:
		s.onAccept(c)
	case kAcceptRetry:
		s.accepts = false
		s.armAccept()
	case kRecv:
		if s.br != nil {
			s.onRecvMultishot(slot, c)
		} else {
			s.onRecv(slot, c.Res)
		}
	case kSend:
		if s.br != nil {
			s.onSendMultishot(slot, c.Res)
		} else {
			s.onSend(slot, c.Res)
		}
	case kUpReg:
		s.onUpReg(slot, c.Res)
	case kConnect:
		s.onConnect(slot, c.Res)
	}
	return false
}

func (s *Server) armWake() error {
	q := s.sqe()
	ring.Read{FD: int32(s.evfd), Buf: unsafe.Pointer(&s.scratch[0]), Len: 8, Offset: ^uint64(0)}.Prep(q)
	q.SetUserData(ud(kWake, 0))
	return nil
}
