// Package ring is a small pure-Go io_uring implementation (no cgo, no
// liburing) for ringbench's io_uring and SQPOLL backends and its probe.
//
// It maps the submission and completion rings, hands out SQEs, publishes
// them with the memory barriers io_uring requires, and reaps CQEs without
// allocating. It also covers what the benchmarks need around that: typed
// zero-allocation SQE builders (Nop, Read, OpenAt, Recv, ...), opcode probing,
// registered files and buffers, a registered ring fd, provided-buffer rings
// (BufRing), an off-heap buffer arena (Arena), a user data layout (PackUD)
// and a bounded cancel-everything-and-reap for shutdown (CancelAndDrain).
// Code outside this package fills SQEs only through the builders.
//
// Threading: a Ring is not safe for concurrent use; give it to one
// goroutine. Rings set up with SingleIssuer or DeferTaskrun (and a Ring whose
// fd was registered with RegisterRingFD) are additionally bound to one OS
// thread: call runtime.LockOSThread before New and keep that goroutine
// locked (and alive) for the ring's lifetime.
//
// Memory: the kernel reads and writes the buffers named in SQEs after Submit
// returns, while the Go garbage collector cannot see pointers stored in an
// SQE. Use off-heap memory (Arena, BufRing) or runtime.Pinner for anything a
// request points to, and never stack memory.
package ring

import (
	"errors"
	"fmt"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrNotSupported is returned (wrapped, with the errno) when the kernel lacks
// io_uring or a requested io_uring feature. Test with errors.Is.
var ErrNotSupported = errors.New("io_uring: not supported by this kernel")

// Params selects how New sets the ring up.
type Params struct {
	// Entries is the SQ size (rounded up to a power of two by the kernel);
	// 0 means 128.
	Entries uint32
	// CQEntries is the CQ size; 0 means the kernel default (2 x Entries).
	CQEntries uint32

	// SQPoll starts a kernel thread that polls the SQ (IORING_SETUP_SQPOLL).
	SQPoll bool
	// SQThreadIdle is how long the poll thread spins before sleeping;
	// 0 means the kernel default (1 s). Millisecond resolution.
	SQThreadIdle time.Duration
	// SQThreadCPU pins the poll thread to a CPU (IORING_SETUP_SQ_AFF);
	// -1 leaves it unpinned. Note that the zero value pins to CPU 0.
	SQThreadCPU int
	// AttachWQ shares another ring's SQPOLL thread (and io-wq) instead of starting one: IORING_SETUP_ATTACH_WQ
	// with wq_fd set to AttachWQ's descriptor; nil starts its own. Both rings must belong to this process,
	// and AttachWQ must stay open until New returns.
	AttachWQ *Ring

	// SingleIssuer: only the creating thread may submit (6.0+).
	SingleIssuer bool
	// DeferTaskrun defers completion work to the owner's next
	// io_uring_enter(GETEVENTS) (6.1+). Implies SingleIssuer.
	DeferTaskrun bool
	// CoopTaskrun sets COOP_TASKRUN|TASKRUN_FLAG (5.19+).
	CoopTaskrun bool
	// NoSQArray removes the SQ index array (6.6+).
	NoSQArray bool

	// RegisterRingFD registers the ring fd with the calling thread right after setup
	// (IORING_REGISTER_RING_FDS, 5.18+), so that every io_uring_enter skips the fd lookup, which in a
	// multi-threaded process (every Go process) takes and drops a reference on the file. It binds the
	// ring to the calling thread (see RegisterRingFD). Best effort: when the kernel refuses, the ring
	// keeps entering through its fd (RingFDRegistered says which).
	RegisterRingFD bool

	// NoFallback makes New fail instead of stepping down when the kernel
	// rejects the flags with EINVAL (the error then also wraps
	// ErrNotSupported).
	NoFallback bool
}

// Stats are the ring's own counters, updated without atomics by the owning
// goroutine. One io_uring_enter may count in several fields.
type Stats struct {
	Enters          uint64 // every io_uring_enter syscall
	SubmitEnters    uint64 // enters that submitted SQEs (to_submit > 0 without SQPOLL) or woke the SQPOLL thread
	WaitEnters      uint64 // enters with GETEVENTS and min_complete > 0
	Wakeups         uint64 // enters with IORING_ENTER_SQ_WAKEUP
	SQEsSubmitted   uint64 // SQEs consumed by the kernel (with SQPOLL: published)
	CQEsReaped      uint64 // CQEs copied out by Reap
	OverflowFlushes uint64 // enters (GETEVENTS, min 0) only to flush CQ overflow / pending task work
	Interrupted     uint64 // waits cut short by a signal (EINTR, or early return) and retried
}

// Ring is one io_uring instance.
type Ring struct {
	fd         int
	enterFd    int    // fd, or the registered ring index
	enterFlags uint32 // IORING_ENTER_REGISTERED_RING when enterFd is an index
	ringIndex  int    // registered ring index, -1 if none
	flags      uint32
	features   uint32
	sqpoll     bool

	sqRingMem []byte // SQ ring (and CQ ring with FEAT_SINGLE_MMAP)
	cqRingMem []byte // CQ ring without FEAT_SINGLE_MMAP, else nil
	sqeMem    []byte

	// SQ ring, kernel-shared words.
	sqHead  *uint32 // written by the kernel
	sqTail  *uint32 // written by us
	sqFlags *uint32 // written by the kernel
	sqDrop  *uint32
	sqes    []SQE
	sqMask  uint32
	sqSize  uint32
	// Local SQ state: SQEs [sqePublished, sqeTail) are filled but not yet
	// published to the kernel.
	sqeTail      uint32
	sqePublished uint32

	// CQ ring.
	cqHead     *uint32 // written by us
	cqTail     *uint32 // written by the kernel
	cqOverflow *uint32
	cqes       []CQE
	cqMask     uint32
	cqSize     uint32

	stats    Stats
	rawWaits bool // SetRawWaits

	// EXT_ARG wait arguments; kept in the Ring so a timed wait does not
	// allocate. The kernel reads them only during the syscall, and passing
	// &r.extArg to the syscall keeps this whole Ring (extTS included) alive
	// until it returns.
	extArg      geteventsArg
	extTS       kernelTimespec
	extDeadline time.Time // when the current timed wait ends

	bufRings []*BufRing
	closed   bool
	// drainGaveUp: the last CancelAndDrain timed out or failed, so requests
	// may still be in flight (see Close).
	drainGaveUp bool
}

// New sets up a ring as p asks. On EINVAL it steps down one flag at a time
// and retries (unless p.NoFallback): with SQPOLL, DEFER/COOP_TASKRUN are
// dropped first (never valid together); then NO_SQARRAY is dropped (6.6+),
// DEFER_TASKRUN becomes COOP_TASKRUN|TASKRUN_FLAG (6.1+), COOP_TASKRUN|
// TASKRUN_FLAG are dropped (5.19+), and last SINGLE_ISSUER (6.0+). SQPOLL,
// SQ_AFF and CQSIZE are never dropped. SetupFlags reports what is in effect.
// Errors wrap the errno (errors.Is(err, unix.EPERM)); ENOSYS, and EINVAL
// under NoFallback, also wrap ErrNotSupported.
func New(p Params) (*Ring, error) {
	entries := p.Entries
	if entries == 0 {
		entries = 128
	}
	flags := uint32(0)
	if p.CQEntries != 0 {
		flags |= SetupCQSize
	}
	if p.SQPoll {
		flags |= SetupSQPoll
		if p.SQThreadCPU >= 0 {
			flags |= SetupSQAff
		}
	}
	if p.SingleIssuer {
		flags |= SetupSingleIssuer
	}
	if p.DeferTaskrun {
		flags |= SetupDeferTaskrun | SetupSingleIssuer
	}
	if p.CoopTaskrun {
		flags |= SetupCoopTaskrun | SetupTaskrunFlag
	}
	if p.NoSQArray {
		flags |= SetupNoSQArray
	}
	if p.AttachWQ != nil {
		flags |= SetupAttachWQ
	}

	var idleMs uint32
	if p.SQPoll && p.SQThreadIdle > 0 {
		idleMs = uint32(p.SQThreadIdle.Milliseconds())
		if idleMs == 0 {
			idleMs = 1
		}
	}

	requested := flags
	for {
		var kp params
		kp.Flags = flags
		kp.CQEntries = p.CQEntries
		kp.SQThreadIdle = idleMs
		if flags&SetupSQAff != 0 {
			kp.SQThreadCPU = uint32(p.SQThreadCPU)
		}
		if flags&SetupAttachWQ != 0 {
			kp.WQFd = uint32(p.AttachWQ.fd)
		}
		fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&kp)), 0)
		if errno == unix.EINTR {
			continue
		}
		if errno == 0 {
			r, err := newRing(int(fd), &kp)
			if err != nil {
				unix.Close(int(fd))
				return nil, err
			}
			if p.RegisterRingFD {
				_ = r.RegisterRingFD() // an old kernel (EINVAL): enter through the fd
			}
			return r, nil
		}
		if errno == unix.EINVAL && !p.NoFallback {
			if next, ok := stepDown(flags); ok {
				flags = next
				continue
			}
		}
		return nil, setupError(entries, requested, flags, errno, p.NoFallback)
	}
}

// stepDown returns the next, more conservative flag set to try after EINVAL.
func stepDown(f uint32) (uint32, bool) {
	switch {
	case f&SetupSQPoll != 0 && f&(SetupDeferTaskrun|SetupCoopTaskrun|SetupTaskrunFlag) != 0:
		// Invalid together on every kernel: the task-run modes are about
		// the submitting task, which SQPOLL replaces. Keep the rest.
		return f &^ (SetupDeferTaskrun | SetupCoopTaskrun | SetupTaskrunFlag), true
	case f&SetupNoSQArray != 0:
		return f &^ SetupNoSQArray, true
	case f&SetupDeferTaskrun != 0:
		return f&^SetupDeferTaskrun | SetupCoopTaskrun | SetupTaskrunFlag, true
	case f&(SetupCoopTaskrun|SetupTaskrunFlag) != 0:
		return f &^ (SetupCoopTaskrun | SetupTaskrunFlag), true
	case f&SetupSingleIssuer != 0:
		return f &^ SetupSingleIssuer, true
	}
	return f, false
}

func setupError(entries, requested, flags uint32, errno unix.Errno, exact bool) error {
	msg := fmt.Sprintf("io_uring_setup(entries=%d, flags=%#x %v)", entries, flags, SetupFlagNames(flags))
	if requested != flags {
		msg += fmt.Sprintf(" after stepping down from %v", SetupFlagNames(requested))
	}
	switch {
	case errno == unix.ENOSYS:
		return fmt.Errorf("%s: %w (%w)", msg, ErrNotSupported, errno)
	case errno == unix.EPERM:
		return fmt.Errorf("%s: %w (io_uring disabled by kernel.io_uring_disabled, seccomp or missing privilege)", msg, errno)
	case errno == unix.EINVAL && exact:
		return fmt.Errorf("%s: %w (%w)", msg, ErrNotSupported, errno)
	}
	return fmt.Errorf("%s: %w", msg, errno)
}

func newRing(fd int, kp *params) (*Ring, error) {
	r := &Ring{
		fd:        fd,
		enterFd:   fd,
		ringIndex: -1,
		flags:     kp.Flags,
		features:  kp.Features,
		sqpoll:    kp.Flags&SetupSQPoll != 0,
	}
	noArray := kp.Flags&SetupNoSQArray != 0

	// Ring sizes. With NO_SQARRAY the kernel reports sq_off.array = 0, so a
	// size computed as array + 4*entries would be far too small: take the
	// largest offset actually used instead. With FEAT_SINGLE_MMAP both rings
	// live in one mapping (the kernel's struct io_rings), so map the larger
	// of the two sizes once.
	o := kp.SQOff
	sqSize := uintptr(max(o.Head, o.Tail, o.RingMask, o.RingEntries, o.Flags, o.Dropped)) + 4
	if !noArray {
		sqSize = max(sqSize, uintptr(kp.SQOff.Array)+4*uintptr(kp.SQEntries))
	}
	cqSize := uintptr(kp.CQOff.CQEs) + sizeofCQE*uintptr(kp.CQEntries)
	single := kp.Features&FeatSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
		cqSize = sqSize
	} else if noArray {
		return nil, fmt.Errorf("io_uring: NO_SQARRAY without FEAT_SINGLE_MMAP: %w", ErrNotSupported)
	}

	var err error
	const prot = unix.PROT_READ | unix.PROT_WRITE
	const mflags = unix.MAP_SHARED | unix.MAP_POPULATE
	r.sqRingMem, err = unix.Mmap(fd, offSQRing, int(sqSize), prot, mflags)
	if err != nil {
		return nil, fmt.Errorf("io_uring: mmap SQ ring (%d bytes): %w", sqSize, err)
	}
	cqMem := r.sqRingMem
	if !single {
		r.cqRingMem, err = unix.Mmap(fd, offCQRing, int(cqSize), prot, mflags)
		if err != nil {
			r.unmap()
			return nil, fmt.Errorf("io_uring: mmap CQ ring (%d bytes): %w", cqSize, err)
		}
		cqMem = r.cqRingMem
	}
	r.sqeMem, err = unix.Mmap(fd, offSQEs, int(sizeofSQE)*int(kp.SQEntries), prot, mflags)
	if err != nil {
		r.unmap()
		return nil, fmt.Errorf("io_uring: mmap SQEs: %w", err)
	}

	sq := unsafe.Pointer(&r.sqRingMem[0])
	r.sqHead = (*uint32)(unsafe.Add(sq, kp.SQOff.Head))
	r.sqTail = (*uint32)(unsafe.Add(sq, kp.SQOff.Tail))
	r.sqFlags = (*uint32)(unsafe.Add(sq, kp.SQOff.Flags))
	r.sqDrop = (*uint32)(unsafe.Add(sq, kp.SQOff.Dropped))
	r.sqMask = *(*uint32)(unsafe.Add(sq, kp.SQOff.RingMask))
	r.sqSize = *(*uint32)(unsafe.Add(sq, kp.SQOff.RingEntries))
	r.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&r.sqeMem[0])), r.sqSize)
	if !noArray {
		// Identity-map the index array once (as liburing does): slot i of the
		// array names SQE i, so submitting never touches the array again.
		arr := unsafe.Slice((*uint32)(unsafe.Add(sq, kp.SQOff.Array)), r.sqSize)
		for i := range arr {
			arr[i] = uint32(i)
		}
	}
	// The kernel has not consumed anything yet, but start from its values.
	r.sqeTail = *r.sqTail
	r.sqePublished = r.sqeTail

	cq := unsafe.Pointer(&cqMem[0])
	r.cqHead = (*uint32)(unsafe.Add(cq, kp.CQOff.Head))
	r.cqTail = (*uint32)(unsafe.Add(cq, kp.CQOff.Tail))
	r.cqOverflow = (*uint32)(unsafe.Add(cq, kp.CQOff.Overflow))
	r.cqMask = *(*uint32)(unsafe.Add(cq, kp.CQOff.RingMask))
	r.cqSize = *(*uint32)(unsafe.Add(cq, kp.CQOff.RingEntries))
	r.cqes = unsafe.Slice((*CQE)(unsafe.Add(cq, kp.CQOff.CQEs)), r.cqSize)
	return r, nil
}

func (r *Ring) unmap() {
	for _, m := range []*[]byte{&r.sqeMem, &r.cqRingMem, &r.sqRingMem} {
		if *m != nil {
			_ = unix.Munmap(*m)
			*m = nil
		}
	}
}

// Close releases the ring: the registered ring fd (this must run on the
// thread that registered it), the ring fd, the ring mappings and open
// BufRings. Close is idempotent.
//
// Closing an io_uring fd does not wait for requests in flight: the kernel
// cancels them and tears the ring down asynchronously, and until then a
// request may still write into memory it was given. So the fd is closed
// first and BufRing memory is unmapped after it, and only when no request
// can still use it: when the last CancelAndDrain gave up (ErrDrainTimeout),
// the buffers are deliberately left mapped (leaked) and Close returns an
// error wrapping ErrMemoryKept. Callers must handle their own memory (an
// Arena) the same way: drain first, and keep it mapped if the drain failed.
// The SQ/CQ/SQE mappings are the kernel's own pages, safe to unmap anytime.
func (r *Ring) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	var errs []error
	if r.ringIndex >= 0 {
		if err := r.UnregisterRingFD(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := unix.Close(r.fd); err != nil {
		errs = append(errs, fmt.Errorf("io_uring: close ring fd: %w", err))
	}
	r.unmap()
	// Use after Close becomes a nil dereference, not a fault on unmapped
	// memory.
	r.sqes, r.cqes = nil, nil
	r.sqHead, r.sqTail, r.sqFlags, r.sqDrop = nil, nil, nil, nil
	r.cqHead, r.cqTail, r.cqOverflow = nil, nil, nil
	// The buffer groups went with the ring fd (no unregister needed).
	kept := 0
	for _, b := range r.bufRings {
		b.closed = true
		if r.drainGaveUp {
			kept += len(b.bufMem)
			b.leak()
		} else {
			b.unmap()
		}
	}
	r.bufRings = nil
	if kept > 0 {
		errs = append(errs, fmt.Errorf("%w (%d bytes)", ErrMemoryKept, kept))
	}
	return errors.Join(errs...)
}

// Fd returns the ring's file descriptor.
func (r *Ring) Fd() int { return r.fd }

// SetupFlags returns the IORING_SETUP_* flags in effect (after fallback).
func (r *Ring) SetupFlags() uint32 { return r.flags }

// Features returns the IORING_FEAT_* bits the kernel reported.
func (r *Ring) Features() uint32 { return r.features }

// SQEntries returns the SQ size.
func (r *Ring) SQEntries() uint32 { return r.sqSize }

// CQEntries returns the CQ size.
func (r *Ring) CQEntries() uint32 { return r.cqSize }

// Stats returns a copy of the ring's counters.
func (r *Ring) Stats() Stats { return r.stats }

// ResetStats zeroes the counters.
func (r *Ring) ResetStats() { r.stats = Stats{} }
