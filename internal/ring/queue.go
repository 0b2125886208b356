package ring

import (
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Memory ordering. The SQ and CQ are single-producer/single-consumer queues
// shared with the kernel. Go's sync/atomic Load and Store are sequentially
// consistent (amd64: MOV for loads, XCHG for stores; arm64: LDAR/STLR), so
// an atomic.Store is at least a store-release, an atomic.Load at least a
// load-acquire, and a Store followed by a Load is not reordered (a full
// barrier between them). Plain loads/stores give none of that and the
// compiler may even hoist them out of a loop, so every access to a ring word
// the other side writes, and every publish of a word the other side reads,
// goes through sync/atomic, except two store-releases that need nothing
// stronger (the SQ tail without SQPOLL, the CQ head), which go through
// storeRelease32: on amd64 a plain store instead of an XCHG, a full barrier
// (BenchmarkNopSubmit batch=1: 238 -> 230 ns/op). Each use below says which
// ordering it provides.

// GetSQE returns the next free SQE, zeroed, or nil when the SQ is full
// (Submit to make room; with SQPOLL, SQWait). The SQE is not visible to the
// kernel until Submit or SubmitAndWait publishes it.
func (r *Ring) GetSQE() *SQE {
	// Load-acquire of the kernel's SQ head: once the kernel (or the SQPOLL
	// thread, concurrently) has moved head past an SQE it has finished
	// reading it; the acquire orders our writes into that slot after its
	// reads.
	head := atomic.LoadUint32(r.sqHead)
	if r.sqeTail-head >= r.sqSize {
		return nil
	}
	s := &r.sqes[r.sqeTail&r.sqMask]
	r.sqeTail++
	*s = SQE{}
	return s
}

// SQWait makes room in a full SQ. With SQPOLL the poll thread may post
// CQEs before it advances the SQ head, so GetSQE can return nil even after
// every CQE was reaped: SQWait then blocks in io_uring_enter with
// IORING_ENTER_SQ_WAIT (waking the thread if it sleeps) until an SQE is
// free. Without SQPOLL it is Submit.
func (r *Ring) SQWait() error {
	if !r.sqpoll {
		_, err := r.Submit()
		return err
	}
	r.publish()
	for r.sqeTail-atomic.LoadUint32(r.sqHead) >= r.sqSize {
		if _, errno := r.enterRetry(0, 0, enterSQWait|r.sqpollWake(), nil, 0); errno != 0 {
			return enterError(errno)
		}
	}
	return nil
}

// Pending returns the number of SQEs filled but not yet consumed by the
// kernel (not yet published, or published but left over by a short submit
// or not yet picked up by the SQPOLL thread).
func (r *Ring) Pending() int {
	return int(r.sqeTail - atomic.LoadUint32(r.sqHead))
}

// SQSpace returns how many SQEs GetSQE can still hand out.
func (r *Ring) SQSpace() int {
	return int(r.sqSize - (r.sqeTail - atomic.LoadUint32(r.sqHead)))
}

// CQReady returns the number of CQEs ready to Reap.
func (r *Ring) CQReady() int { return int(r.cqReady()) }

// CQOverflow returns the kernel's CQ overflow counter (completions dropped
// because the CQ was full on kernels without FEAT_NODROP).
func (r *Ring) CQOverflow() uint32 { return atomic.LoadUint32(r.cqOverflow) }

// SQDropped returns the kernel's count of SQEs it dropped as invalid (an
// out-of-range index in the SQ array; always 0 with NO_SQARRAY).
func (r *Ring) SQDropped() uint32 { return atomic.LoadUint32(r.sqDrop) }

func (r *Ring) cqReady() uint32 {
	// Load-acquire of the CQ tail (see Reap); the head is ours.
	return atomic.LoadUint32(r.cqTail) - *r.cqHead
}

// cqNeedsFlush reports whether the kernel holds completions that are not in
// the CQ ring yet: overflowed CQEs (IORING_SQ_CQ_OVERFLOW) or task work that
// needs a kernel entry to run (IORING_SQ_TASKRUN, with COOP_TASKRUN|
// TASKRUN_FLAG). Both are cleared by io_uring_enter(GETEVENTS).
func (r *Ring) cqNeedsFlush() bool {
	return atomic.LoadUint32(r.sqFlags)&(sqCQOverflow|sqTaskrun) != 0
}

// publish makes SQEs [sqePublished, sqeTail) visible to the kernel and
// returns how many published SQEs the kernel has not consumed yet.
func (r *Ring) publish() uint32 {
	if r.sqePublished != r.sqeTail {
		r.sqePublished = r.sqeTail
		// Store-release of the SQ tail: all our writes to the SQEs happen
		// before the kernel (or the SQPOLL thread, which reads the tail with
		// an acquire) can see the new tail and read them. With SQPOLL the
		// store must also be a full barrier before sqpollWake's load of the
		// flags, so it is sync/atomic's; without, the kernel reads the tail
		// only inside io_uring_enter, and a release is all it needs.
		if r.sqpoll {
			atomic.StoreUint32(r.sqTail, r.sqeTail)
		} else {
			storeRelease32(r.sqTail, r.sqeTail)
		}
	}
	return r.sqeTail - atomic.LoadUint32(r.sqHead)
}

// sqpollWake returns IORING_ENTER_SQ_WAKEUP if the SQPOLL thread is asleep.
func (r *Ring) sqpollWake() uint32 {
	// Full barrier between the SQ tail store (publish) and this load of the
	// SQ flags: both are sequentially consistent atomics, so this load cannot
	// be satisfied before the tail store is visible. Otherwise the poll
	// thread could go to sleep after we read NEED_WAKEUP as clear but before
	// it saw our new tail, and nobody would wake it: the requests would hang.
	if atomic.LoadUint32(r.sqFlags)&sqNeedWakeup != 0 {
		return enterSQWakeup // 2, not 1 (1 is GETEVENTS)
	}
	return 0
}

func (r *Ring) enter(toSubmit, minComplete, flags uint32, arg unsafe.Pointer, argSz uintptr) (int, unix.Errno) {
	r.stats.Enters++
	if flags&enterSQWakeup != 0 {
		r.stats.Wakeups++
		r.stats.SubmitEnters++
	} else if toSubmit > 0 && !r.sqpoll {
		r.stats.SubmitEnters++
	}
	if flags&enterGetEvents != 0 {
		if minComplete > 0 {
			r.stats.WaitEnters++
		} else {
			r.stats.OverflowFlushes++
		}
	}
	if r.rawWaits || minComplete == 0 && flags&enterSQWait == 0 {
		// An enter that waits for nothing (no completions, no SQ space) returns once the kernel has issued
		// the SQEs (a request that would block is punted to io-wq, not waited for), so it can skip the
		// scheduler's syscall bookkeeping (entersyscall/exitsyscall, which let another thread take this P
		// during a blocking call): at one enter per op that was ~4% of the CPU of a batch-1 read loop.
		// With SetRawWaits, enters that wait skip it too.
		n, _, errno := syscall.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.enterFd),
			uintptr(toSubmit), uintptr(minComplete), uintptr(flags|r.enterFlags), uintptr(arg), argSz)
		return int(n), errno
	}
	n, _, errno := syscall.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.enterFd),
		uintptr(toSubmit), uintptr(minComplete), uintptr(flags|r.enterFlags),
		uintptr(arg), argSz)
	return int(n), errno
}

// SetRawWaits makes the enters that wait (for completions or SQ space) skip the scheduler's syscall
// bookkeeping as well, so the thread keeps its P while the kernel waits. In a loop that spends most of its
// time inside io_uring_enter, sysmon otherwise takes the P away in the middle of the enter again and again
// once the goroutine has run for 10 ms without being rescheduled (as a goroutine locked to its thread never
// is), handing it to another thread and back: thousands of handoffs a second, and sysmon itself polling
// every 20 µs. Only for a ring driven by a goroutine locked to its thread in a process with a P to spare
// for everything else: a wait holds its P however long it lasts (a signal still interrupts it, EINTR).
func (r *Ring) SetRawWaits(on bool) { r.rawWaits = on }

// RawWaits reports what SetRawWaits set.
func (r *Ring) RawWaits() bool { return r.rawWaits }

// enterRetry is enter retried on EINTR, which it counts in
// Stats.Interrupted; every enter and wait path goes through it. The kernel
// reports EINTR only when it consumed no SQE, so the same arguments are
// still right, except a timed wait's timeout: that is shortened to what is
// left until r.extDeadline (down to 0, which still submits and then returns
// ETIME).
func (r *Ring) enterRetry(toSubmit, minComplete, flags uint32, arg unsafe.Pointer, argSz uintptr) (int, unix.Errno) {
	for {
		n, errno := r.enter(toSubmit, minComplete, flags, arg, argSz)
		if errno != unix.EINTR {
			return n, errno
		}
		r.stats.Interrupted++
		if flags&enterExtArg != 0 {
			r.setExtTimeout(max(time.Until(r.extDeadline), 0))
		}
	}
}

// setExtTimeout points r.extArg at a timeout of d.
func (r *Ring) setExtTimeout(d time.Duration) {
	r.extTS = kernelTimespec{Sec: int64(d / time.Second), Nsec: int64(d % time.Second)}
	r.extArg = geteventsArg{Ts: uint64(uintptr(unsafe.Pointer(&r.extTS)))}
}

// Submit publishes the filled SQEs and hands them to the kernel, returning
// how many it handed over in this call.
//
// Without SQPOLL it calls io_uring_enter(to_submit) until the kernel has
// consumed every published SQE: a short submit (the kernel stops after an
// SQE that fails to prepare; that SQE still gets an error CQE) is continued.
// It enters with GETEVENTS (min 0) as well when the CQ has overflowed or
// task work is pending, which flushes them.
//
// With SQPOLL it only publishes, and enters (with IORING_ENTER_SQ_WAKEUP)
// only when the poll thread has gone to sleep (IORING_SQ_NEED_WAKEUP), or to
// flush an overflowed CQ. The return value then counts SQEs published.
//
// Errors are the bare unix.Errno from io_uring_enter (no allocation), except
// EBADR, which is ErrCQDropped.
// EAGAIN/EBUSY mean the kernel is short of resources or completions are
// backed up: SQEs not consumed stay queued (Pending); Reap and call again.
// EINTR is retried internally.
func (r *Ring) Submit() (int, error) {
	newly := r.sqeTail - r.sqePublished
	pending := r.publish()
	if r.sqpoll {
		r.stats.SQEsSubmitted += uint64(newly)
		if pending == 0 && !r.cqNeedsFlush() {
			return int(newly), nil
		}
		flags := uint32(0)
		if pending > 0 {
			flags = r.sqpollWake()
		}
		if r.cqNeedsFlush() {
			flags |= enterGetEvents
		}
		if flags != 0 {
			if _, errno := r.enterRetry(pending, 0, flags, nil, 0); errno != 0 {
				return int(newly), enterError(errno)
			}
		}
		return int(newly), nil
	}

	submitted := 0
	for pending > 0 {
		flags := uint32(0)
		if r.cqNeedsFlush() {
			flags = enterGetEvents
		}
		n, errno := r.enterRetry(pending, 0, flags, nil, 0)
		if errno != 0 {
			return submitted, enterError(errno)
		}
		r.stats.SQEsSubmitted += uint64(n)
		submitted += n
		if n == 0 {
			break // nothing consumed and no error: do not spin
		}
		pending = r.sqeTail - atomic.LoadUint32(r.sqHead)
	}
	return submitted, nil
}

// SubmitAndWait publishes the filled SQEs, submits them and waits until at
// least waitNr CQEs are ready (waitNr is capped at the CQ size), normally in
// one io_uring_enter(to_submit, min_complete=waitNr, GETEVENTS). It returns
// the number of SQEs handed to the kernel.
//
// It loops when that one enter was not enough: on EINTR, when a signal cut
// the wait short (the kernel then returns the submit count without error and
// fewer CQEs are ready), and after a short submit. It makes no syscall when
// nothing needs submitting and waitNr CQEs are already ready (and no
// overflow is pending). With SQPOLL it enters with GETEVENTS, adding
// SQ_WAKEUP only when the poll thread sleeps.
//
// Errors are the bare unix.Errno from io_uring_enter (EBADR: ErrCQDropped). On EAGAIN or EBUSY the
// call returns at once (errors.Is(err, unix.EAGAIN)); SQEs not consumed stay
// queued: Reap what is ready and call again.
func (r *Ring) SubmitAndWait(waitNr uint32) (int, error) {
	return r.submitAndWait(waitNr, 0, false)
}

// SubmitAndWaitTimeout is SubmitAndWait with a time limit (IORING_ENTER_EXT_ARG,
// 5.11+; ErrNotSupported without FEAT_EXT_ARG). When d passes before waitNr
// CQEs are ready it returns unix.ETIME. It reads the clock once per call, plus
// once per retry.
func (r *Ring) SubmitAndWaitTimeout(waitNr uint32, d time.Duration) (int, error) {
	if r.features&FeatExtArg == 0 {
		return 0, ErrNotSupported
	}
	if d < 0 {
		d = 0
	}
	return r.submitAndWait(waitNr, d, true)
}

func (r *Ring) submitAndWait(waitNr uint32, d time.Duration, timed bool) (int, error) {
	want := min(waitNr, r.cqSize)
	newly := r.sqeTail - r.sqePublished
	pending := r.publish()
	submitted := 0
	if r.sqpoll {
		submitted = int(newly)
		r.stats.SQEsSubmitted += uint64(newly)
	}
	if timed {
		r.extDeadline = time.Now().Add(d)
	}
	for {
		var flags, toSubmit, minC uint32
		if r.sqpoll {
			if pending > 0 {
				flags |= r.sqpollWake()
			}
		} else {
			toSubmit = pending
		}
		if r.cqReady() < want {
			flags |= enterGetEvents
			minC = want
		} else if r.cqNeedsFlush() {
			flags |= enterGetEvents
		}
		if toSubmit == 0 && flags == 0 {
			return submitted, nil
		}
		var arg unsafe.Pointer
		var argSz uintptr
		if timed && minC > 0 {
			left := time.Until(r.extDeadline)
			if left <= 0 {
				if toSubmit == 0 && flags&enterSQWakeup == 0 {
					return submitted, unix.ETIME
				}
				left = 0
			}
			r.setExtTimeout(left)
			arg, argSz = unsafe.Pointer(&r.extArg), unsafe.Sizeof(r.extArg)
			flags |= enterExtArg
		}
		n, errno := r.enterRetry(toSubmit, minC, flags, arg, argSz)
		switch errno {
		case 0:
		case unix.ETIME:
			if r.cqReady() >= want {
				return submitted, nil
			}
			return submitted, unix.ETIME
		default:
			return submitted, enterError(errno)
		}
		if !r.sqpoll {
			r.stats.SQEsSubmitted += uint64(n)
			submitted += n
			pending = r.sqeTail - atomic.LoadUint32(r.sqHead)
		} else {
			pending = 0 // woken (or awake): the poll thread takes it from here
		}
		if r.cqReady() >= want && pending == 0 {
			return submitted, nil
		}
		if n == 0 && minC == 0 {
			return submitted, nil // no progress possible without waiting
		}
		if minC > 0 && r.cqReady() < want {
			r.stats.Interrupted++ // the wait returned early (signal)
			if timed && !time.Now().Before(r.extDeadline) {
				return submitted, unix.ETIME
			}
		}
	}
}

// WaitCQE waits until at least min CQEs are ready (min is capped at the CQ
// size), entering the kernel with GETEVENTS as often as needed (EINTR and
// early returns are retried). The wait flushes overflowed CQEs and runs
// pending task work. WaitCQE(0) enters once with GETEVENTS and min 0: it
// runs deferred task work (DEFER_TASKRUN) and flushes overflow without
// waiting. Errors are bare unix.Errno values (EBADR: ErrCQDropped).
func (r *Ring) WaitCQE(min uint32) error {
	want := minU32(min, r.cqSize)
	if want == 0 {
		return r.flush()
	}
	for r.cqReady() < want {
		if _, errno := r.enterRetry(0, want, enterGetEvents, nil, 0); errno != 0 {
			return enterError(errno)
		}
	}
	return nil
}

func minU32(a, b uint32) uint32 {
	if a < b {
		return a
	}
	return b
}

// flush enters with GETEVENTS and min_complete 0.
func (r *Ring) flush() error {
	if _, errno := r.enterRetry(0, 0, enterGetEvents, nil, 0); errno != 0 {
		return enterError(errno)
	}
	return nil
}

// Reap copies up to len(out) ready CQEs into out and returns how many, with
// one load-acquire of the CQ tail and one store-release of the CQ head. It
// never blocks and does not allocate. When the CQ ring is empty but the
// kernel flags an overflow (IORING_SQ_CQ_OVERFLOW) or pending task work
// (IORING_SQ_TASKRUN), it first flushes them with io_uring_enter(GETEVENTS,
// min 0) and loads the tail once more. With DEFER_TASKRUN, completions reach
// the ring only through SubmitAndWait/WaitCQE on the owning thread.
func (r *Ring) Reap(out []CQE) int {
	if len(out) == 0 {
		return 0
	}
	head := *r.cqHead // only we write the head
	// Load-acquire of the CQ tail: the kernel fills a CQE and then
	// store-releases the tail, so every CQE below the tail we see is
	// completely written before we read it.
	tail := atomic.LoadUint32(r.cqTail)
	if tail == head {
		if !r.cqNeedsFlush() {
			return 0
		}
		_ = r.flush() // errors here resurface on the next enter
		tail = atomic.LoadUint32(r.cqTail)
		if tail == head {
			return 0
		}
	}
	n := minU32(tail-head, uint32(len(out)))
	start := head & r.cqMask
	first := minU32(n, r.cqSize-start)
	copy(out[:first], r.cqes[start:start+first])
	if first < n {
		copy(out[first:n], r.cqes[:n-first])
	}
	// Store-release of the CQ head: our reads of those CQEs happen before
	// the kernel sees the slots as free and overwrites them.
	storeRelease32(r.cqHead, head+n)
	r.stats.CQEsReaped += uint64(n)
	return int(n)
}
