package perfcount

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ErrUnavailable is returned (wrapped, with the reason) when syscalls cannot be counted at all: perf_event_open
// denied or missing, no tracepoint usable, the target gone.
var ErrUnavailable = errors.New("kernel syscall counting unavailable")

// Names is a list of syscall names for the breakdown, as in the tracepoint syscalls:sys_enter_<name>.
type Names []string

// DefaultBreakdown is the breakdown ringbench reports; every other syscall is "other" (total - sum).
var DefaultBreakdown = []string{"io_uring_enter", "pread64", "read", "write", "openat", "close", "epoll_wait",
	"epoll_pwait", "epoll_ctl", "futex", "recvfrom", "sendto", "accept4"}

// testHookBeforeRelist, set by tests, runs between opening the groups and listing the threads again.
var testHookBeforeRelist func(attempt int)

// maxOpenAttempts bounds how often Open starts over because threads appeared while it was opening groups.
const maxOpenAttempts = 10

// Counter counts syscalls, context switches and CPU time of a set of threads. Its methods are safe for
// concurrent use. Close releases every file descriptor.
type Counter struct {
	mu      sync.Mutex
	p       *plan
	inherit inheritMode
	pid     int // process whose threads are counted (OpenThreads: this process)
	groups  []*group
	buf     []byte
	closed  bool
	enabled bool
	// echildRetries counts group reads retried because an inherited copy was being torn down.
	echildRetries int
}

// group is one thread's event group: fds[i] is plan event i, fds[0] the leader.
type group struct {
	tid  int
	fds  []int
	ids  map[uint64]int
	base groupValues // software Reset baseline
}

// echildPatience bounds how long a group read retries ECHILD (see readGroupOf).
const echildPatience = 2 * time.Second

// readGroupOf reads g. The kernel answers ECHILD while a thread that carries an inherited copy of g is
// exiting: from its first event's teardown to its last, the copy's grouping no longer matches g's, and the
// kernel refuses to sum mismatched groups. That lasts only until the exit completes (then the copy's counts
// are folded into g), so the read is retried. It does not mean g's own thread has exited: a group whose
// thread has exited reads normally, its counts included. Taking ECHILD as "exited" and keeping an older
// reading lost everything counted since, e.g. every thread created after Open by a thread whose read once
// raced with an exit.
func (c *Counter) readGroupOf(g *group, n int) (groupValues, error) {
	var deadline time.Time
	for retries := 0; ; retries++ {
		v, err := readGroup(g.fds[0], g.ids, n, c.buf)
		if !errors.Is(err, unix.ECHILD) {
			return v, err
		}
		c.echildRetries++
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(echildPatience)
		} else if now.After(deadline) {
			return v, fmt.Errorf("%w after %d retries in %v (a thread carrying an inherited copy kept exiting)",
				err, retries, echildPatience)
		}
		// Let the exiting thread finish: on a busy machine it may need this CPU.
		_ = unix.Nanosleep(&unix.Timespec{Nsec: 20_000}, nil)
	}
}

func (g *group) close() {
	for _, fd := range g.fds {
		unix.Close(fd)
	}
	g.fds = nil
}

var errThreadGone = errors.New("thread gone")

// openGroup opens the plan's events on one thread. It returns errThreadGone if the thread no longer exists.
func (c *Counter) openGroup(tid int) (*group, error) {
	g := &group{tid: tid, ids: map[uint64]int{}}
	for i, e := range c.p.events {
		lead := -1
		if i > 0 {
			lead = g.fds[0]
		}
		fd, err := perfOpen(e, tid, lead, c.inherit, c.p.excludeKernel)
		if i == 0 && c.inherit == inheritThreads && errors.Is(err, unix.EINVAL) {
			// Kernel before 5.13: no inherit_thread. Child processes will be counted too.
			c.inherit = inheritAll
			fd, err = perfOpen(e, tid, lead, c.inherit, c.p.excludeKernel)
		}
		if err != nil {
			g.close()
			if errors.Is(err, unix.ESRCH) || (errors.Is(err, unix.EINVAL) && c.threadExited(tid)) {
				return nil, errThreadGone
			}
			if errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE) {
				return nil, fmt.Errorf("perf_event_open %s on thread %d: %w (each counted thread needs %d fds: "+
					"raise RLIMIT_NOFILE or shorten the breakdown)", e.label, tid, err, len(c.p.events))
			}
			if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
				return nil, fmt.Errorf("%w: perf_event_open %s on thread %d: %v (%s; another user's process needs ptrace access)",
					ErrUnavailable, e.label, tid, err, c.p.priv)
			}
			return nil, fmt.Errorf("perf_event_open %s on thread %d: %w", e.label, tid, err)
		}
		g.fds = append(g.fds, fd)
		id, err := eventID(fd)
		if err != nil {
			g.close()
			return nil, fmt.Errorf("perf: PERF_EVENT_IOC_ID: %w", err)
		}
		g.ids[id] = i
	}
	return g, nil
}

// threadExited reports whether thread tid of the counted process has exited or is exiting. Opening a
// thread that is exiting can fail with EINVAL rather than ESRCH (seen once, on a server's thread on a busy
// machine: "perf_event_open syscalls:sys_enter_futex on thread N: invalid argument"), so an EINVAL is
// first checked against the thread's state: gone, a zombie, or so within a second (a busy machine may be slow to finish an exit), it
// is a thread gone; alive, the EINVAL stands.
func (c *Counter) threadExited(tid int) bool {
	path := "/proc/" + strconv.Itoa(c.pid) + "/task/" + strconv.Itoa(tid) + "/stat"
	for range 200 {
		b, err := os.ReadFile(path)
		if err != nil {
			return true
		}
		// The state is the field after the command name, which ends at the last ')'.
		if i := bytes.LastIndexByte(b, ')'); i < 0 || i+2 >= len(b) || b[i+2] == 'Z' || b[i+2] == 'X' {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// closeGroups closes every group. Closing the last perf event of a tracepoint unregisters it, and the kernel
// then waits for an RCU grace period while holding its trace event mutex: about 35 ms per tracepoint on the
// development VM (0.5 s for DefaultBreakdown), serialised, so closing from several threads does not help.
func (c *Counter) closeGroups() {
	for _, g := range c.groups {
		g.close()
	}
	c.groups = nil
}

func newCounter(breakdown []string, pid int, inherit inheritMode, opts []Option) (*Counter, error) {
	p, err := makePlan(breakdown, applyOptions(opts).tracepoints)
	if err != nil {
		p.release()
		return nil, err
	}
	hasSyscalls := p.index(labelTotal) >= 0
	for _, e := range p.events {
		hasSyscalls = hasSyscalls || e.name != ""
	}
	if !hasSyscalls {
		p.release()
		return nil, fmt.Errorf("%w: total: %s", ErrUnavailable, p.totalReason)
	}
	return &Counter{p: p, pid: pid, inherit: inherit, buf: make([]byte, 8*(3+2*len(p.events)))}, nil
}

// Open starts counting the syscalls of this whole process (see the package documentation for how threads are
// covered). The breakdown names syscalls to count separately (e.g. DefaultBreakdown); names that cannot be
// counted are listed in Reading.Unavailable. Counting starts when Open returns.
func Open(breakdown []string, opts ...Option) (*Counter, error) {
	return openProcess(os.Getpid(), breakdown, opts)
}

// OpenPID counts another process, all its threads, as Open does for this one. Counting another user's
// process needs ptrace access to it.
func OpenPID(pid int, breakdown []string, opts ...Option) (*Counter, error) {
	if pid <= 0 {
		return nil, fmt.Errorf("perfcount: bad pid %d", pid)
	}
	return openProcess(pid, breakdown, opts)
}

func openProcess(pid int, breakdown []string, opts []Option) (*Counter, error) {
	c, err := newCounter(breakdown, pid, inheritThreads, opts)
	if err != nil {
		return nil, err
	}
	defer c.p.release()
	var appeared []int
	for attempt := 0; attempt < maxOpenAttempts; attempt++ {
		tids, err := listTasks(pid)
		if err != nil {
			return nil, err
		}
		for _, tid := range tids {
			g, err := c.openGroup(tid)
			if errors.Is(err, errThreadGone) {
				continue
			}
			if err != nil {
				c.closeGroups()
				return nil, err
			}
			c.groups = append(c.groups, g)
		}
		if testHookBeforeRelist != nil {
			testHookBeforeRelist(attempt)
		}
		after, err := listTasks(pid)
		if err != nil {
			c.closeGroups()
			return nil, err
		}
		appeared = appeared[:0]
		for _, t := range after {
			if _, found := slices.BinarySearch(tids, t); !found {
				appeared = append(appeared, t)
			}
		}
		if len(appeared) == 0 {
			if len(c.groups) == 0 {
				return nil, fmt.Errorf("%w: process %d has no threads left", ErrUnavailable, pid)
			}
			if err := c.start(); err != nil {
				c.closeGroups()
				return nil, err
			}
			return c, nil
		}
		// Threads appeared while opening: their creator may or may not have had its group yet, so they
		// may or may not carry an inherited copy. Start over rather than risk a miss or a double count.
		c.closeGroups()
	}
	return nil, fmt.Errorf("perfcount: threads of process %d kept appearing while opening counters (%d attempts, last new: %v)",
		pid, maxOpenAttempts, appeared)
}

// OpenThreads counts exactly the given threads (inherit=0: threads they create are not counted), e.g. a
// backend's LockOSThread worker. The threads may belong to any process we may trace.
func OpenThreads(tids []int, breakdown []string, opts ...Option) (*Counter, error) {
	if len(tids) == 0 {
		return nil, errors.New("perfcount: OpenThreads: no threads")
	}
	c, err := newCounter(breakdown, os.Getpid(), inheritNone, opts)
	if err != nil {
		return nil, err
	}
	defer c.p.release()
	for _, tid := range dedupeInts(tids) {
		g, err := c.openGroup(tid)
		if errors.Is(err, errThreadGone) {
			err = fmt.Errorf("perfcount: thread %d does not exist", tid)
		}
		if err != nil {
			c.closeGroups()
			return nil, err
		}
		c.groups = append(c.groups, g)
	}
	if err := c.start(); err != nil {
		c.closeGroups()
		return nil, err
	}
	return c, nil
}

func dedupeInts(in []int) []int {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

// listTasks returns the sorted thread ids of a process.
func listTasks(pid int) ([]int, error) {
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: process %d does not exist", ErrUnavailable, pid)
		}
		return nil, err
	}
	tids := make([]int, 0, len(ents))
	for _, e := range ents {
		if t, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, t)
		}
	}
	slices.Sort(tids)
	return tids, nil
}

// start enables every group and takes the Reset baseline.
func (c *Counter) start() error {
	if err := c.enableLocked(true); err != nil {
		return err
	}
	return c.resetLocked()
}

func (c *Counter) enableLocked(on bool) error {
	req := uint(unix.PERF_EVENT_IOC_DISABLE)
	if on {
		req = unix.PERF_EVENT_IOC_ENABLE
	}
	for _, g := range c.groups {
		if err := ioctlNoArg(g.fds[0], req); err != nil {
			return fmt.Errorf("perf: enable/disable thread %d: %w", g.tid, err)
		}
	}
	c.enabled = on
	return nil
}

var errClosed = errors.New("perfcount: counter closed")

// whileOpen runs f under the lock, or returns errClosed once the counter is closed.
func (c *Counter) whileOpen(f func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errClosed
	}
	return f()
}

// Enable resumes counting after Disable. Threads created while disabled are counted once enabled.
func (c *Counter) Enable() error {
	return c.whileOpen(func() error { return c.enableLocked(true) })
}

// Disable pauses counting; Read still works and returns the counts so far.
func (c *Counter) Disable() error {
	return c.whileOpen(func() error { return c.enableLocked(false) })
}

// Reset makes later Reads count from now. It is done in user space (a baseline), see the package doc.
func (c *Counter) Reset() error {
	return c.whileOpen(c.resetLocked)
}

func (c *Counter) resetLocked() error {
	for _, g := range c.groups {
		v, err := c.readGroupOf(g, len(c.p.events))
		if err != nil {
			return fmt.Errorf("perf: read thread %d: %w", g.tid, err)
		}
		g.base = v
	}
	return nil
}

// Close releases every file descriptor. It is safe to call more than once. It is slow: closing the last event
// on a tracepoint costs an RCU grace period (about 35 ms per tracepoint here, 0.5 s with DefaultBreakdown);
// open one Counter for a session and use Read/Sub (or Reset) per run rather than one Counter per run.
func (c *Counter) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.closeGroups()
	return nil
}

// Threads returns the thread ids with an event group of their own (threads created later by them are
// counted in their creator's group).
func (c *Counter) Threads() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]int, len(c.groups))
	for i, g := range c.groups {
		out[i] = g.tid
	}
	return out
}

// CountsChildProcesses reports whether processes started by counted threads after Open are counted too. That
// happens only on kernels before 5.13, which lack perf_event_attr.inherit_thread; from 5.13 on, only threads
// are followed, so a load generator or server started from the counted process is not mixed in.
func (c *Counter) CountsChildProcesses() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inherit == inheritAll
}

// FDs returns how many file descriptors the counter holds.
func (c *Counter) FDs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, g := range c.groups {
		n += len(g.fds)
	}
	return n
}

// Reading holds counts since Open or the last Reset. An event that could not be counted is marked
// unavailable with a reason; its count is then 0 and must not be used.
type Reading struct {
	TotalAvailable bool
	TotalReason    string
	Total          uint64 // raw_syscalls:sys_enter

	ByName      map[string]uint64 // only names that could be counted
	Unavailable map[string]string // breakdown name -> reason

	Other          uint64 // Total - sum(ByName); unavailable names fall into Other
	OtherAvailable bool

	ContextSwitches uint64
	CtxAvailable    bool
	CtxReason       string

	TaskClockNs uint64 // CPU time of the counted threads (software event task-clock)
	// EnabledNs is the time the events were enabled while their threads ran (per-thread events only advance
	// then), summed over event groups including inherited copies; RunningNs the part they were scheduled on
	// the PMU. They differ only if the kernel multiplexed the events (not with software events/tracepoints).
	EnabledNs, RunningNs uint64
	Threads              int // event groups (threads opened directly)

	// Tracepoints are the counts of the tracepoints asked for with WithTracepoints, by "category:name";
	// only those that could be counted. TracepointUnavailable gives the others, with the reason.
	Tracepoints           map[string]uint64
	TracepointUnavailable map[string]string
}

// ThreadReading is one directly opened thread's share of a Reading (including threads it created since).
type ThreadReading struct {
	TID int
	Reading
}

// Read returns the counts since Open or the last Reset.
func (c *Counter) Read() (Reading, error) {
	per, err := c.read(false)
	if err != nil {
		return Reading{}, err
	}
	return per[0].Reading, nil
}

// ReadThreads returns the counts of each directly opened thread (its inherited copies included).
func (c *Counter) ReadThreads() ([]ThreadReading, error) {
	return c.read(true)
}

func (c *Counter) read(perThread bool) ([]ThreadReading, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errClosed
	}
	n := len(c.p.events)
	sum := groupValues{vals: make([]uint64, n)}
	var out []ThreadReading
	for _, g := range c.groups {
		v, err := c.readGroupOf(g, n)
		if err != nil {
			return nil, fmt.Errorf("perf: read thread %d: %w", g.tid, err)
		}
		d := groupValues{vals: make([]uint64, n), enabled: sat(v.enabled, g.base.enabled), running: sat(v.running, g.base.running)}
		for i := range v.vals {
			d.vals[i] = sat(v.vals[i], g.base.vals[i])
		}
		sum.enabled += d.enabled
		sum.running += d.running
		for i := range d.vals {
			sum.vals[i] += d.vals[i]
		}
		if perThread {
			r := c.reading(d)
			r.Threads = 1
			out = append(out, ThreadReading{TID: g.tid, Reading: r})
		}
	}
	if perThread {
		return out, nil
	}
	r := c.reading(sum)
	r.Threads = len(c.groups)
	return []ThreadReading{{Reading: r}}, nil
}

func (c *Counter) reading(v groupValues) Reading {
	p := c.p
	r := Reading{ByName: map[string]uint64{}, Unavailable: map[string]string{},
		Tracepoints: map[string]uint64{}, TracepointUnavailable: map[string]string{},
		TotalReason: p.totalReason, CtxReason: p.ctxReason, EnabledNs: v.enabled, RunningNs: v.running}
	for i, e := range p.events {
		switch {
		case e.label == labelTaskClock:
			r.TaskClockNs = v.vals[i]
		case e.label == labelTotal:
			r.Total, r.TotalAvailable = v.vals[i], true
		case e.label == labelCtx:
			r.ContextSwitches, r.CtxAvailable = v.vals[i], true
		case e.extra:
			r.Tracepoints[e.label] = v.vals[i]
		case e.name != "":
			r.ByName[e.name] = v.vals[i]
		}
	}
	for t, why := range p.tpReason {
		r.TracepointUnavailable[t] = why
	}
	for n, why := range p.nameReason {
		r.Unavailable[n] = why
	}
	r.setOther()
	return r
}

// setOther sets Other, Total less the named counts, where Total is available.
func (r *Reading) setOther() {
	if !r.TotalAvailable {
		return
	}
	var named uint64
	for _, x := range r.ByName {
		named += x
	}
	r.Other, r.OtherAvailable = sat(r.Total, named), true
}

func sat(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// Sub returns r - prev, field by field. A count is available only if it is in both.
func (r Reading) Sub(prev Reading) Reading {
	d := Reading{
		TotalAvailable: r.TotalAvailable && prev.TotalAvailable,
		TotalReason:    firstNonEmpty(r.TotalReason, prev.TotalReason),
		Total:          sat(r.Total, prev.Total),
		CtxAvailable:   r.CtxAvailable && prev.CtxAvailable,
		CtxReason:      firstNonEmpty(r.CtxReason, prev.CtxReason),

		ContextSwitches: sat(r.ContextSwitches, prev.ContextSwitches),
		TaskClockNs:     sat(r.TaskClockNs, prev.TaskClockNs),
		EnabledNs:       sat(r.EnabledNs, prev.EnabledNs),
		RunningNs:       sat(r.RunningNs, prev.RunningNs),
		Threads:         r.Threads,
	}
	d.ByName, d.Unavailable = subCounts(r.ByName, prev.ByName, r.Unavailable, prev.Unavailable)
	d.Tracepoints, d.TracepointUnavailable = subCounts(r.Tracepoints, prev.Tracepoints, r.TracepointUnavailable,
		prev.TracepointUnavailable)
	if !d.TotalAvailable {
		d.Total = 0
		if d.TotalReason == "" {
			d.TotalReason = "total unavailable in one of the readings"
		}
	}
	if !d.CtxAvailable {
		d.ContextSwitches = 0
		if d.CtxReason == "" {
			d.CtxReason = "context switches unavailable in one of the readings"
		}
	}
	d.setOther()
	return d
}

// subCounts is cur - prev, name by name, with the names that cannot be subtracted and why: unavailable in
// either reading, or counted in cur only.
func subCounts(cur, prev map[string]uint64, curWhy, prevWhy map[string]string) (map[string]uint64, map[string]string) {
	d, why := map[string]uint64{}, map[string]string{}
	for n, v := range cur {
		if pv, ok := prev[n]; ok {
			d[n] = sat(v, pv)
		} else if w, bad := prevWhy[n]; bad {
			why[n] = w
		} else {
			why[n] = "not in the earlier reading"
		}
	}
	for n, w := range curWhy {
		why[n] = w
	}
	return d, why
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
