package perfcount

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

const (
	labelTaskClock = "task-clock"
	labelTotal     = "raw_syscalls:sys_enter"
	labelCtx       = "context-switches"
	syscallPrefix  = "syscalls:sys_enter_"
)

func nameLabel(name string) string { return syscallPrefix + name }

// event is one perf event of a group.
type event struct {
	label     string // perf-style name, e.g. "syscalls:sys_enter_read"
	name      string // breakdown name for syscall tracepoints ("read"), else ""
	typ       uint32
	config    uint64
	tp        bool   // tracepoint: config is resolved from tracefs
	probeOnly bool   // used by the probe only, never counted
	extra     bool   // a tracepoint asked for with WithTracepoints (label is "category:name")
	filter    string // ftrace filter on the tracepoint's fields (PERF_EVENT_IOC_SET_FILTER), "" for none
}

var taskClockEvent = event{label: labelTaskClock, typ: unix.PERF_TYPE_SOFTWARE, config: unix.PERF_COUNT_SW_TASK_CLOCK}

const readFormat = unix.PERF_FORMAT_GROUP | unix.PERF_FORMAT_ID |
	unix.PERF_FORMAT_TOTAL_TIME_ENABLED | unix.PERF_FORMAT_TOTAL_TIME_RUNNING

// inheritMode says which tasks created by a counted thread are counted too.
type inheritMode int

const (
	inheritNone    inheritMode = iota
	inheritThreads             // threads only (inherit + inherit_thread, Linux 5.13+)
	inheritAll                 // threads and child processes (inherit alone, older kernels)
)

// perfBitInheritThread is perf_event_attr.inherit_thread: children inherit only if cloned with CLONE_THREAD.
const perfBitInheritThread = 1 << 35

// perfOpen opens one counting event on thread tid (any CPU). Leaders start disabled; members follow their
// leader. The fd is close-on-exec.
func perfOpen(e event, tid, groupFd int, inherit inheritMode, excludeKernel bool) (int, error) {
	attr := unix.PerfEventAttr{
		Type:        e.typ,
		Config:      e.config,
		Size:        uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Read_format: readFormat,
		Bits:        unix.PerfBitExcludeHv,
	}
	if groupFd < 0 {
		attr.Bits |= unix.PerfBitDisabled
	}
	switch inherit {
	case inheritThreads:
		attr.Bits |= unix.PerfBitInherit | perfBitInheritThread
	case inheritAll:
		attr.Bits |= unix.PerfBitInherit
	}
	if excludeKernel {
		attr.Bits |= unix.PerfBitExcludeKernel
	}
	for {
		fd, err := unix.PerfEventOpen(&attr, tid, -1, groupFd, unix.PERF_FLAG_FD_CLOEXEC)
		if err == unix.EINTR {
			continue
		}
		if err == nil && e.filter != "" {
			if ferr := setFilter(fd, e.filter); ferr != nil {
				unix.Close(fd)
				return -1, fmt.Errorf("filter %q on %s: %w", e.filter, e.label, ferr)
			}
		}
		return fd, err
	}
}

// setFilter sets an ftrace filter on a tracepoint event. Threads created later count through inherited
// copies of the event, which are filtered too (TestRingSQPollSubmitsOnThePollThread checks it on the SQPOLL
// thread).
func setFilter(fd int, filter string) error {
	b, err := unix.BytePtrFromString(filter)
	if err != nil {
		return err
	}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.PERF_EVENT_IOC_SET_FILTER), uintptr(unsafe.Pointer(b)))
	if errno != 0 {
		return errno
	}
	return nil
}

// eventID returns the kernel's id of an event (PERF_EVENT_IOC_ID), used to match group read values.
func eventID(fd int) (uint64, error) {
	var id uint64
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(unix.PERF_EVENT_IOC_ID), uintptr(unsafe.Pointer(&id)))
	if errno != 0 {
		return 0, errno
	}
	return id, nil
}

func ioctlNoArg(fd int, req uint) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// groupValues is one PERF_FORMAT_GROUP read, values ordered like the group's events.
type groupValues struct {
	vals             []uint64
	enabled, running uint64
}

// readGroup reads a group leader and orders the values by event index through ids (kernel id -> index).
func readGroup(fd int, ids map[uint64]int, n int, buf []byte) (groupValues, error) {
	need := 8 * (3 + 2*n)
	if len(buf) < need {
		buf = make([]byte, need)
	}
	var m int
	var err error
	for {
		m, err = unix.Read(fd, buf[:need])
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return groupValues{}, err
	}
	if m < 24 {
		return groupValues{}, fmt.Errorf("short perf read: %d bytes", m)
	}
	le := binary.NativeEndian
	nr := int(le.Uint64(buf[0:]))
	if nr != n || m < 8*(3+2*nr) {
		return groupValues{}, fmt.Errorf("perf group read: %d values in %d bytes, want %d", nr, m, n)
	}
	g := groupValues{vals: make([]uint64, n), enabled: le.Uint64(buf[8:]), running: le.Uint64(buf[16:])}
	for i := 0; i < nr; i++ {
		v := le.Uint64(buf[24+16*i:])
		id := le.Uint64(buf[32+16*i:])
		j, ok := ids[id]
		if !ok {
			return groupValues{}, fmt.Errorf("perf group read: unknown event id %d", id)
		}
		g.vals[j] = v
	}
	return g, nil
}

// privInfo is what decides whether kernel-side events count.
type privInfo struct {
	euid        int
	paranoid    int
	paranoidErr error
	capPerfmon  bool
	capSysAdmin bool
}

const (
	capSysAdmin = 21
	capPerfmon  = 38
)

func readPriv() privInfo {
	p := privInfo{euid: os.Geteuid()}
	p.paranoid, p.paranoidErr = readParanoid()
	if b, err := os.ReadFile("/proc/thread-self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
				if caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64); err == nil {
					p.capSysAdmin = caps&(1<<capSysAdmin) != 0
					p.capPerfmon = caps&(1<<capPerfmon) != 0
				}
			}
		}
	}
	return p
}

func readParanoid() (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/perf_event_paranoid")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

func (p privInfo) String() string {
	par := strconv.Itoa(p.paranoid)
	if p.paranoidErr != nil {
		par = "unknown"
	}
	caps := "no CAP_PERFMON/CAP_SYS_ADMIN"
	if p.capPerfmon || p.capSysAdmin {
		caps = "CAP_PERFMON or CAP_SYS_ADMIN held"
	}
	return fmt.Sprintf("perf_event_paranoid=%s, euid=%d, %s", par, p.euid, caps)
}

// openErrReason turns a perf_event_open failure into a reason for the report.
func openErrReason(err error, p privInfo) string {
	switch {
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return fmt.Sprintf("perf_event_open denied: %v (%s)", err, p)
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENODEV), errors.Is(err, unix.EOPNOTSUPP):
		return fmt.Sprintf("event not supported by this kernel: %v", err)
	case errors.Is(err, unix.ENOSYS):
		return "perf_event_open not available (kernel without CONFIG_PERF_EVENTS, or blocked by seccomp)"
	case errors.Is(err, unix.EMFILE), errors.Is(err, unix.ENFILE):
		return fmt.Sprintf("out of file descriptors: %v", err)
	}
	return fmt.Sprintf("perf_event_open: %v", err)
}

// RingTracepoints are io_uring's own tracepoints that ringbench counts for io_uring backends (see
// WithTracepoints): requests submitted, requests punted to io-wq workers, task-work runs, requests that
// armed a poll (waited for readiness), and completions that overflowed the CQ ring.
var RingTracepoints = []string{
	"io_uring:io_uring_submit_req",
	"io_uring:io_uring_queue_async_work",
	"io_uring:io_uring_task_work_run",
	"io_uring:io_uring_local_work_run",
	"io_uring:io_uring_poll_arm",
	"io_uring:io_uring_cqe_overflow",
}

// tracepointFilters are the filters put on tracepoints counted with WithTracepoints. The task-work
// tracepoints fire on every pass that looks for task work, found or not: an SQPOLL thread's loop passes
// them millions of times a second. Counting only passes that ran something makes them count task-work runs.
var tracepointFilters = map[string]string{
	"io_uring:io_uring_task_work_run":  "count > 0",
	"io_uring:io_uring_local_work_run": "count > 0",
}

// Option adds to what a Counter counts.
type Option func(*openOptions)

type openOptions struct {
	tracepoints []string
}

// WithTracepoints counts the given "category:name" tracepoints too (e.g. RingTracepoints), in the same event
// groups as the syscalls, so over the same threads. They are read back in Reading.Tracepoints; ones that
// cannot be counted are in Reading.TracepointUnavailable with the reason. Kernel tracepoints other than
// syscall entries are fired with kernel registers, so where exclude_kernel=1 is forced (perf_event_paranoid
// >= 2 without privilege) they would read a false 0 and are reported unavailable instead.
func WithTracepoints(names ...string) Option {
	return func(o *openOptions) { o.tracepoints = append(o.tracepoints, names...) }
}

func applyOptions(opts []Option) openOptions {
	var o openOptions
	for _, f := range opts {
		f(&o)
	}
	o.tracepoints = dedupe(o.tracepoints)
	return o
}
