package uring

import (
	"errors"
	"fmt"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/clock"
	"github.com/ringbench/ringbench/internal/ring"
	"golang.org/x/sys/unix"
)

// User data (ring.PackUD): the stage of a linked open-read-close chain as the kind, the buffer slot as the id.
const (
	stageRead   uint8 = 0 // plain read, or the READ of a chain
	stageOpen   uint8 = 1
	stageClose  uint8 = 2
	stageCancel uint8 = 3 // Close's cancel-everything request
)

// closeDrainTimeout bounds how long Close waits for requests still in flight.
const closeDrainTimeout = 5 * time.Second

// FileEngine runs file requests on one io_uring. Buffers live in an off-heap arena (the kernel writes into
// them after io_uring_enter returns, so they must not be Go memory the GC could free or move); user_data
// is the buffer slot, so a completion never needs a map lookup or an allocation.
type FileEngine struct {
	name    string
	r       *ring.Ring
	arena   *ring.Arena
	cfg     backend.FileConfig
	fixed   bool // cfg.FDs registered: Request.File is the fixed slot
	cqSpin  int64
	sqpoll  bool
	tag     []uint64
	readRes []int32 // chains: result of the READ (or of the failed OPENAT)
	cqes    []ring.CQE
	// outstanding counts the CQEs that requests in flight will still post.
	outstanding int
	cqesPerOp   int
	warns       []backend.Warning
	pollTID     int
	// drainTimeout is how long Close waits for requests in flight (closeDrainTimeout; tests shorten it).
	drainTimeout time.Duration
}

// NewFileEngine sets up a ring with p for cfg; name labels errors. Call it on the thread that will use it.
func NewFileEngine(cfg backend.FileConfig, p ring.Params, name string) (*FileEngine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Up to three SQEs per request (open, read, close), all of a batch in the SQ at once.
	entries := uint32(1)
	for entries < uint32(3*cfg.Depth) {
		entries <<= 1
	}
	p.Entries = entries
	p.CQEntries = 2 * entries
	var before map[int]bool
	newThread := p.SQPoll && p.AttachWQ == nil // an attached ring starts no poll thread
	if newThread {
		before = sqpollThreads()
	}
	r, err := ring.New(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, Explain(err))
	}
	r.SetRawWaits(cfg.KeepP)
	e := &FileEngine{name: name, r: r, cfg: cfg, sqpoll: p.SQPoll, cqSpin: int64(cfg.CQSpin),
		tag: make([]uint64, cfg.Depth), readRes: make([]int32, cfg.Depth),
		cqes: make([]ring.CQE, 2*entries), drainTimeout: closeDrainTimeout}
	if newThread {
		e.pollTID = newPollThread(before)
	}
	if e.arena, err = ring.NewArena(cfg.Depth, cfg.BufSize); err != nil {
		e.Close()
		return nil, fmt.Errorf("%s: buffers: %w", name, err)
	}
	if cfg.FixedBufs {
		if err := r.RegisterBuffers(e.arena.Iovecs()); err != nil {
			e.Close()
			if errors.Is(err, unix.ENOMEM) {
				// Registered buffers are pinned and charged to RLIMIT_MEMLOCK: a limit, not a failure.
				err = fmt.Errorf("%w: %d buffers of %d bytes exceed the locked-memory limit (%w; RLIMIT_MEMLOCK: "+
					"raise it with ulimit -l, or lower --depth)", backend.ErrNotSupported, cfg.Depth, cfg.BufSize, err)
			}
			return nil, fmt.Errorf("%s: --fixed-bufs: %w", name, err)
		}
	}
	if cfg.FixedFiles && len(cfg.FDs) > 0 {
		fds := make([]int32, len(cfg.FDs))
		for i, fd := range cfg.FDs {
			fds[i] = int32(fd)
		}
		if err := r.RegisterFiles(fds); err != nil {
			e.Close()
			return nil, fmt.Errorf("%s: --fixed-files: %w", name, err)
		}
		e.fixed = true
	} else if len(cfg.FDs) == 0 {
		// Open-read-close chains open straight into a sparse fixed-file table: one slot per buffer slot.
		if err := r.RegisterFilesSparse(uint32(cfg.Depth)); err != nil {
			e.Close()
			return nil, fmt.Errorf("%s: sparse fixed-file table (needs 5.19+): %w", name, errors.Join(backend.ErrNotSupported, err))
		}
	}
	e.cqesPerOp = 1
	if len(cfg.FDs) == 0 {
		e.cqesPerOp = 3
	}
	return e, nil
}

// SharePollThread records tid as the engine's SQPOLL thread: a ring attached to another's poll thread
// (ring.Params.AttachWQ) starts none of its own.
func (e *FileEngine) SharePollThread(tid int) {
	if e.pollTID == 0 {
		e.pollTID = tid
	}
}

// Ring exposes the ring, for the sqpoll backend's diagnostics.
func (e *FileEngine) Ring() *ring.Ring { return e.r }

// Buffer implements backend.FileEngine.
func (e *FileEngine) Buffer(i int) []byte { return e.arena.Slot(i)[:e.cfg.BufSize] }

// Submit implements backend.FileEngine: it queues every request's SQEs, then makes one
// io_uring_enter that submits them and waits for enough completions. With SQPOLL, publishing needs no
// syscall unless the poll thread sleeps, and waiting spins on the CQ for --cq-spin before entering.
func (e *FileEngine) Submit(reqs []backend.Request, minComplete int, out []backend.Completion) (int, error) {
	if len(reqs) > 0 {
		need := 0
		for i := range reqs {
			need += sqesPerRequest(reqs[i].Kind)
		}
		if err := e.ensureSpace(need); err != nil {
			return 0, err
		}
	}
	for i := range reqs {
		if err := e.prep(&reqs[i]); err != nil {
			// The requests before it are counted in outstanding: hand them to the kernel, so that every
			// CQE Close waits for belongs to a submitted request.
			_, _ = e.r.Submit()
			return 0, err
		}
	}
	if e.r.Pending() > 0 && (minComplete == 0 || e.sqpoll) {
		if _, err := e.r.Submit(); err != nil && !retryable(err) {
			return 0, e.enterErr(err)
		}
	}
	// Reap what is there already, unless the loop below submits and waits in one enter: that wait counts
	// the CQEs already posted, and completions that sufficed here would leave the new SQEs unsubmitted.
	n := 0
	if minComplete == 0 || e.sqpoll || e.r.Pending() == 0 {
		n = e.reap(out)
	}
	for n < minComplete {
		// Wait for the CQEs still missing (a chain posts three), never more than are outstanding: a wait
		// for CQEs that will not come would never return.
		want := uint32(min((minComplete-n)*e.cqesPerOp, e.outstanding))
		// Under SQPOLL, Pending stays non-zero until the poll thread has taken the SQEs, so it must not gate
		// the spin: Submit above already published them (and woke the thread if it slept).
		if e.sqpoll && e.cqSpin > 0 && e.spin(want) {
			n += e.reap(out[n:])
			continue
		}
		var err error
		if e.r.Pending() > 0 {
			_, err = e.r.SubmitAndWait(want)
		} else {
			err = e.r.WaitCQE(want)
		}
		if err != nil && !retryable(err) {
			return n, e.enterErr(err)
		}
		// After EAGAIN/EBUSY, reaping frees the kernel's resources; unconsumed SQEs stay queued.
		n += e.reap(out[n:])
	}
	return n, nil
}

func retryable(err error) bool { return errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EBUSY) }

// spin polls the CQ for up to --cq-spin; true when want CQEs are ready.
func (e *FileEngine) spin(want uint32) bool {
	deadline := clock.Now() + e.cqSpin
	for i := 0; ; i++ {
		if uint32(e.r.CQReady()) >= want {
			return true
		}
		// No runtime.Gosched: on a goroutine locked to its thread it hands the P around with futex calls,
		// syscalls this loop exists to avoid. The spin is bounded by --cq-spin.
		if i&15 == 15 && clock.Now() >= deadline {
			return false
		}
	}
}

func (e *FileEngine) enterErr(err error) error {
	return fmt.Errorf("%s: io_uring_enter: %w", e.name, err)
}

// ensureSpace makes room for k SQEs. The SQ holds 3*depth, so it is short only while an SQPOLL thread
// has not yet consumed entries whose requests already completed (completions can be posted before the
// SQ head moves); waiting for it is the fix. Without SQPOLL, short means more than --depth in flight.
func (e *FileEngine) ensureSpace(k int) error {
	for tries := 0; e.r.SQSpace() < k; tries++ {
		if !e.sqpoll || tries == 1000 {
			return fmt.Errorf("%s: submission queue full (more than --depth requests in flight)", e.name)
		}
		if err := e.r.SQWait(); err != nil && !retryable(err) {
			return e.enterErr(err)
		}
	}
	return nil
}

// sqesPerRequest is how many SQEs a request of kind k takes (0 for a kind prep rejects).
func sqesPerRequest(k backend.OpKind) int {
	switch k {
	case backend.OpRead:
		return 1
	case backend.OpOpenReadClose:
		return 3
	}
	return 0
}

// prep queues req's SQEs; Submit has made room for them (ensureSpace).
func (e *FileEngine) prep(req *backend.Request) error {
	slot := req.Buf
	e.tag[slot] = req.Tag
	buf := e.arena.Ptr(int(slot))
	switch req.Kind {
	case backend.OpRead:
		s := e.r.GetSQE()
		fd := int32(e.cfg.FDs[req.File])
		if e.fixed {
			fd = req.File
		}
		if e.cfg.FixedBufs {
			ring.ReadFixed{FD: fd, Buf: buf, Len: uint32(req.Len), Offset: uint64(req.Offset), BufIndex: uint16(slot), Fixed: e.fixed}.Prep(s)
		} else {
			ring.Read{FD: fd, Buf: buf, Len: uint32(req.Len), Offset: uint64(req.Offset), Fixed: e.fixed}.Prep(s)
		}
		s.SetUserData(ring.PackUD(stageRead, 0, uint32(slot)))
		e.outstanding++
	case backend.OpOpenReadClose:
		e.readRes[slot] = 0
		s := e.r.GetSQE()
		// No O_CLOEXEC: a direct descriptor lives only in the ring's table, and the kernel rejects the flag
		// for it with -EINVAL.
		ring.OpenAt{DirFD: unix.AT_FDCWD, Path: &req.Path[0], Flags: unix.O_RDONLY, FileIndex: uint32(slot) + 1}.Prep(s)
		s.SetUserData(ring.PackUD(stageOpen, 0, uint32(slot)))
		// Every SQE of the chain posts a CQE. IOSQE_CQE_SKIP_SUCCESS would save one per file, but whether
		// the rest of a failed chain then posts depends on the kernel version, and a wait for a CQE that
		// never comes hangs.
		s.SetFlags(ring.FlagIOLink)
		s = e.r.GetSQE()
		if e.cfg.FixedBufs {
			ring.ReadFixed{FD: slot, Buf: buf, Len: uint32(req.Len), BufIndex: uint16(slot), Fixed: true}.Prep(s)
		} else {
			ring.Read{FD: slot, Buf: buf, Len: uint32(req.Len), Fixed: true}.Prep(s)
		}
		s.SetUserData(ring.PackUD(stageRead, 0, uint32(slot)))
		// A hard link: CLOSE runs even when the READ fails or comes up short (a short read breaks a soft
		// link), so the slot never keeps a file open. A failed OPENAT still cancels both.
		s.SetFlags(ring.FlagIOHardlink)
		s = e.r.GetSQE()
		ring.Close{FileIndex: uint32(slot) + 1}.Prep(s)
		s.SetUserData(ring.PackUD(stageClose, 0, uint32(slot)))
		e.outstanding += e.cqesPerOp
	default:
		return fmt.Errorf("%s: unknown request kind %d", e.name, req.Kind)
	}
	return nil
}

// reap takes every ready CQE with one acquire and one release of the ring indices and turns finished
// requests into completions.
func (e *FileEngine) reap(out []backend.Completion) int {
	got := e.r.Reap(e.cqes)
	if got == 0 {
		return 0
	}
	n := 0
	e.outstanding -= got
	for _, c := range e.cqes[:got] {
		stage, _, id := ring.UnpackUD(c.UserData)
		slot := int32(id)
		var res int32
		switch stage {
		case stageOpen:
			// A failed OPENAT is what the request reports; READ and CLOSE then follow as -ECANCELED.
			if c.Res < 0 {
				e.readRes[slot] = c.Res
			}
			continue
		case stageRead:
			if len(e.cfg.FDs) == 0 {
				if e.readRes[slot] == 0 || e.readRes[slot] == -int32(unix.ECANCELED) {
					e.readRes[slot] = c.Res
				}
				continue
			}
			res = c.Res
		case stageClose:
			res = e.readRes[slot]
			if res >= 0 && c.Res < 0 && c.Res != -int32(unix.ECANCELED) {
				res = c.Res
			}
		}
		if n == len(out) {
			// Cannot happen: out holds Depth completions and at most Depth requests are in flight.
			panic("uring: more completions than requests in flight")
		}
		out[n] = backend.Completion{Tag: e.tag[slot], Res: res, Buf: slot}
		n++
	}
	return n
}

// Counters implements backend.FileEngine.
func (e *FileEngine) Counters() backend.EngineCounters {
	st := e.r.Stats()
	return backend.EngineCounters{Enters: int64(st.Enters), SubmitEnters: int64(st.SubmitEnters), WaitEnters: int64(st.WaitEnters),
		PollThreadTID: e.pollTID}
}

// AddWarning records a condition that makes this engine's figures suspect.
func (e *FileEngine) AddWarning(w backend.Warning) { e.warns = append(e.warns, w) }

// Warnings implements backend.Warner.
func (e *FileEngine) Warnings() []backend.Warning { return e.warns }

// Close implements backend.FileEngine. Requests still in flight (after an error) are cancelled and
// waited for, at most drainTimeout, with SQEs queued but never submitted handed to the kernel first: the
// kernel may still write into the arena, which must outlive them. If the drain gives up, the arena is
// left mapped (leaked) rather than unmapped under the kernel, and Close returns the drain's error.
func (e *FileEngine) Close() error {
	var errs []error
	drained := true
	if e.r != nil {
		if e.outstanding > 0 || e.r.Pending() > 0 {
			if err := e.r.CancelAndDrain(ring.PackUD(stageCancel, 0, 0), &e.outstanding, e.cqes, e.drainTimeout); err != nil {
				drained = false
				errs = append(errs, fmt.Errorf("%s: close: %w", e.name, err))
			}
		}
		errs = append(errs, e.r.Close())
		e.r = nil
	}
	if e.arena != nil {
		if drained {
			errs = append(errs, e.arena.Close())
		} else {
			errs = append(errs, fmt.Errorf("%s: close: %d-byte buffer arena left mapped: the kernel may still write into it",
				e.name, len(e.arena.Bytes())))
		}
		e.arena = nil
	}
	return errors.Join(errs...)
}
