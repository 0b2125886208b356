// Package backend is the one interface that I/O backends implement and workloads drive, and the registry
// that names them. A backend is a folder under backends/ whose init registers it; workloads never know
// which backend they drive.
//
// File I/O follows the completion model (fio's queue/commit/getevents): a workload hands an engine a batch
// of requests and asks for at least N completions back. A readiness backend such as epoll, which cannot
// poll regular files, completes each request with a plain pread inside Submit; io_uring backends put the
// whole batch in one io_uring_enter.
//
// Engines do not time requests: the one driver of file workloads (workloads/internal/filedrive) stamps
// latency the same way for every backend, as fio's `lat` does: from the clock read just before it hands
// a request to Submit to the clock read just after the Submit that returned the request's completion.
// Whatever an engine does in between (a hand-off to a worker goroutine, the earlier preads of a
// synchronous batch, a completion left waiting in the CQ) is the request's latency, so an engine cannot
// leave part of its cost out by stamping late or early.
//
// Servers with --threads N (ServerConfig.Threads) are N complete one-thread servers, each on its own
// locked thread with its own ring (and SQPOLL thread, buffer ring, registered files) or epoll instance,
// each accepting on a listening socket of its own: N sockets bound to one address with SO_REUSEPORT, the
// kernel spreading connections over them. Not one acceptor handing connections out, because accepting
// where the connection is served is what thread-per-core servers do, lets multishot accept go straight
// into that ring's registered-file table, and keeps the loops sharing nothing (no hand-off syscall or
// cross-thread wake-up per connection); the cost is a spread by hash, uneven with few connections. See
// NewThreaded.
package backend

import (
	"fmt"
	"time"

	"github.com/ringbench/ringbench/internal/ring/caps"
)

// ErrNotSupported marks a backend or feature that this kernel or this user cannot run. Errors wrapping it
// say why in plain words. It is caps.ErrNotSupported, so the capability probes' errors match it too.
var ErrNotSupported = caps.ErrNotSupported

// Backend is one way of doing I/O: a Builder with the Description it was registered with.
type Backend interface {
	// Name is the --backend value.
	Name() string
	// Summary is one line for `--help` and `probe`.
	Summary() string
	// Available reports whether the backend can run here: nil, or an error wrapping ErrNotSupported.
	Available() error
	Builder
}

// Builder is what a backend does.
type Builder interface {
	// NewFileEngine returns an engine for file I/O. The engine must be created, used and closed on one
	// goroutine locked to its OS thread (runtime.LockOSThread): io_uring rings set up with SINGLE_ISSUER
	// refuse other threads.
	NewFileEngine(cfg FileConfig) (FileEngine, error)
	// NewServer sets a network server up on cfg.ListenFD (see server.go). The server owns ListenFD from
	// then on (Close closes it, also when NewServer fails). NewServer starts the server's OS thread, so
	// ThreadID is valid on return.
	NewServer(cfg ServerConfig) (Server, error)
}

// Description is what a backend says about itself (Backend's Name, Summary and Available); Register pairs
// it with the backend's Builder.
type Description struct {
	Name    string
	Summary string
	// Available is nil for a backend that runs on every Linux this runs on.
	Available func() error
}

// described is a registered Backend. It is registered by pointer: Description holds a func, and a Backend
// must be comparable (the runner keys its series by it).
type described struct {
	d Description
	Builder
}

func (b described) Name() string    { return b.d.Name }
func (b described) Summary() string { return b.d.Summary }

func (b described) Available() error {
	if b.d.Available == nil {
		return nil
	}
	return b.d.Available()
}

// Options are the tuning flags a backend may honour; each backend ignores what does not apply to it.
type Options struct {
	Depth int // requests in flight
	Batch int // requests per submission (SQEs per io_uring_enter)
	// FixedFiles registers the data set's descriptors (IORING_REGISTER_FILES); FixedBufs registers the
	// buffers and reads with READ_FIXED.
	FixedFiles bool
	FixedBufs  bool
	// SQCPU pins the SQPOLL thread (-1: not pinned); SQIdle is how long it spins before sleeping.
	SQCPU  int
	SQIdle time.Duration
	// CQSpin is how long to spin on the completion queue before waiting in io_uring_enter (sqpoll).
	CQSpin time.Duration
	// EpollMode is how the epoll server registers its connections: "" or EpollLevel (the default),
	// EpollEdge or EpollOneshot; see their doc. Other backends ignore it.
	EpollMode string
}

// The values of Options.EpollMode (--epoll-mode).
//
// EpollLevel registers each socket once, level-triggered, and calls epoll_ctl only when its interest
// changes; each readiness gets one read. EpollEdge registers each socket once with EPOLLET for input and
// output and never changes it: each readiness is drained with reads until EAGAIN, and a write backlog is
// written until EAGAIN and resumed on the next EPOLLOUT edge. EpollOneshot registers with EPOLLONESHOT and
// re-arms with epoll_ctl after every event.
//
// Before EpollEdge was edge-triggered, the default mode was called "edge" though it was level-triggered;
// no sample ever recorded that name (the default records no epoll-mode), but a server of that time names
// "edge" over the control channel (see workloads/echoproxy).
const (
	EpollLevel   = "level"
	EpollEdge    = "edge"
	EpollOneshot = "oneshot"
)

// CheckEpollMode refuses an EpollMode other than "", EpollLevel, EpollEdge and EpollOneshot, naming the flag.
func CheckEpollMode(mode string) error {
	switch mode {
	case "", EpollLevel, EpollEdge, EpollOneshot:
		return nil
	}
	return fmt.Errorf("%s %q: want %s, %s or %s", FlagEpollMode, mode, EpollLevel, EpollEdge, EpollOneshot)
}

// EpollModeDefault tells whether mode is the default, level-triggered one ("" or EpollLevel).
func EpollModeDefault(mode string) bool { return mode == "" || mode == EpollLevel }

// FileConfig sets up a file engine.
type FileConfig struct {
	Options
	// FDs are open raw descriptors of the data set; Request.File indexes them (OpRead). The workload owns
	// and closes them after the engine is closed.
	FDs []int
	// BufSize is the size of each of the Depth buffers the engine allocates (page aligned, off the Go heap
	// where the kernel writes into them asynchronously).
	BufSize int
	// ShareSQPoll, for the sqpoll backend, is an engine of the same backend (on another thread of this
	// process, still open) whose SQPOLL thread this engine's ring shares (IORING_SETUP_ATTACH_WQ) instead
	// of starting its own; nil starts its own. Other backends ignore it.
	ShareSQPoll FileEngine
	// KeepP lets the engine's syscalls that may block (io_uring_enter waits, pread) keep the goroutine's P
	// instead of going through the scheduler's syscall bookkeeping, as a C loop keeps its thread (see
	// ring.Ring.SetRawWaits for why that matters). The driver sets it when every I/O thread is locked and
	// the process has more Ps than I/O threads. gostd ignores it: Go's own I/O is what it measures.
	// Stopping the world (GC) then waits for such a syscall to return: at most one device read for a
	// pread; an io_uring wait returns at once on the runtime's preemption signal (EINTR) and is retried.
	KeepP bool
}

// OpKind is what a request does.
type OpKind uint8

const (
	// OpRead reads Len bytes at Offset of FDs[File] into buffer Buf.
	OpRead OpKind = iota
	// OpOpenReadClose opens Path read-only, reads up to Len bytes from offset 0 into buffer Buf, and closes.
	OpOpenReadClose
)

// Request is one file operation. Buf is a buffer slot, 0 <= Buf < Depth, not in use by another request.
type Request struct {
	Kind   OpKind
	Buf    int32
	File   int32
	Len    int32
	Offset int64
	// Path is NUL-terminated and must stay unchanged until the request completes.
	Path []byte
	Tag  uint64
}

// Completion reports a finished request. Res is bytes transferred or -errno. It carries no times: the
// driver stamps latency (see the package doc).
type Completion struct {
	Tag uint64
	Res int32
	Buf int32
}

// FileEngine executes file requests.
type FileEngine interface {
	// Buffer returns buffer slot i. It stays valid until Close.
	Buffer(i int) []byte
	// Submit issues reqs (at most the free capacity: Depth minus requests in flight), then waits until at
	// least minComplete requests have completed and writes every completion it has into out (len(out) must
	// be at least Depth). It returns the number written. minComplete may not exceed requests in flight.
	Submit(reqs []Request, minComplete int, out []Completion) (int, error)
	// Counters reports the engine's own counts.
	Counters() EngineCounters
	// Close waits for requests in flight, then releases everything the engine holds.
	Close() error
}

// OffThreadIO is implemented by engines whose I/O syscalls run on threads other than the one that calls
// Submit (gostd: worker goroutines on Go's threads). Their syscalls are counted for the whole process:
// counting the calling thread alone would leave the I/O out.
type OffThreadIO interface {
	IOOffThread() bool
}

// EngineCounters are the engine's own counts, beside the kernel's.
type EngineCounters struct {
	// Enters is io_uring_enter calls made; -1 when the backend has no ring.
	Enters int64
	// SubmitEnters and WaitEnters split Enters by purpose (sqpoll: waking the poll thread vs waiting).
	SubmitEnters, WaitEnters int64
	// PollThreadTID is the SQPOLL kernel thread, when there is one (0 otherwise).
	PollThreadTID int
}

// Flag names used in errors, so that a bad option names the flag the user typed.
const (
	FlagDepth = "--depth"
	FlagBatch = "--batch"
	// FlagEpollMode is Options.EpollMode's flag.
	FlagEpollMode = "--epoll-mode"
)

// Validate checks options common to every backend.
func (o Options) Validate() error {
	if o.Depth < 1 {
		return fmt.Errorf("%s %d: must be at least 1", FlagDepth, o.Depth)
	}
	if o.Depth > 4096 {
		return fmt.Errorf("%s %d: at most 4096", FlagDepth, o.Depth)
	}
	if o.Batch < 1 {
		return fmt.Errorf("%s %d: must be at least 1", FlagBatch, o.Batch)
	}
	if o.Batch > o.Depth {
		return fmt.Errorf("%s %d is larger than %s %d", FlagBatch, o.Batch, FlagDepth, o.Depth)
	}
	return CheckEpollMode(o.EpollMode)
}

// registry holds the backends; epoll, uring, sqpoll and gostd come first, in that order, others follow by name.
var registry = NewRegistry[Backend]("backend", "epoll", "uring", "sqpoll", "gostd")

// Register adds the backend that d describes and b builds; backends call it from init. Registering a name
// twice panics.
func Register(d Description, b Builder) { registry.Register(&described{d, b}) }

// All returns every registered backend in display order.
func All() []Backend { return registry.All() }

// Lookup finds a backend by name; the error lists the known names.
func Lookup(name string) (Backend, error) { return registry.Lookup(name) }

// Names lists registered backend names in display order: the order result files record for report and
// compare.
func Names() []string { return registry.Names() }

// Warner is implemented by engines that know of conditions that make their figures suspect (for example
// an SQPOLL thread without a core of its own); the workload copies the warnings into the sample.
type Warner interface {
	Warnings() []Warning
}

// Warning is a condition that makes a backend's figures suspect. Kind is one of the result file's warning
// kinds, so that readers act on it without matching Text.
type Warning struct{ Kind, Text string }

// String is the text.
func (w Warning) String() string { return w.Text }

// The warning kinds backends give (the same strings as the result file's).
const (
	WarnSQPollSharedCPU = "sqpoll-shared-cpu"
	WarnRingFallback    = "ring-fallback"
)
