// Package perfcount counts syscalls by the kernel through perf_event_open tracepoints.
//
// A Counter counts, for a set of threads, the total number of syscalls (tracepoint raw_syscalls:sys_enter),
// a breakdown by name (one syscalls:sys_enter_<name> tracepoint per name; "other" is the total minus the
// named ones), context switches (software event context-switches) and CPU time (software event task-clock,
// the group leader).
//
// # Layout and cost
//
// Each counted thread gets one event group: task-clock as the leader plus one member per other event,
// read with PERF_FORMAT_GROUP so that one read(2) per thread returns every event. A thread costs
// 3 + len(breakdown) file descriptors (16 with DefaultBreakdown); a Read costs one read(2) per thread.
// When a descriptor limit is hit the error says how many were needed.
//
// Measured on the development VM (2 vCPUs, kernel 6.18, DefaultBreakdown): Open 20-60 ms for 6 threads,
// 50-100 ms for 135 (mostly the probe and the first registration of each tracepoint); Read about 2 µs per
// thread (13 µs median for 6 threads, 300 µs for 135); Close 0.4-0.6 s (see Counter.Close), or well under
// 1 ms when another perf user keeps the tracepoints registered.
//
// # What counting costs the measured system
//
// While any perf event is open on a syscall tracepoint, every syscall of every process on the machine takes
// the kernel's slow path, and each counted syscall also runs the perf handlers. getppid took 255 ns without
// counting, 340-430 ns with the events open but disabled, and 460-620 ns counted (BenchmarkSyscallCost). CPU
// time measured while counting includes this; measure CPU per op and syscalls per op in separate runs if that
// matters, and do not leave a Counter open during runs that are not meant to count.
//
// # Which threads are counted
//
// Open counts the whole process. One perf event with pid=0 and inherit=1 would only follow threads created
// after it by the thread that opened it: Go runtime threads that already exist would be missed. So Open
// lists /proc/self/task and opens one group per existing thread with inherit=1; threads created later are
// counted through the inherited copy of their creator thread's group (every live thread has one), and the
// counts of inherited copies are summed into the parent group's reading, also after the child thread exits.
// To make sure no thread is missed or counted twice while the groups are being opened, Open lists the
// threads again afterwards; if new threads appeared in between (their creator may or may not have been
// covered yet), it closes everything and starts over, up to 10 times, and then fails rather than guess.
// Inheritance follows threads only (perf_event_attr.inherit_thread, Linux 5.13+): processes started by the
// counted process (a load generator, a server under test) are not counted; on older kernels they would be,
// and Counter.CountsChildProcesses says so.
// The io_uring kernel threads (iou-sqp-*, iou-wrk-*) appear in /proc/self/task and are counted like any
// other thread (they make no syscalls, but their CPU is in task-clock).
//
// # Other tracepoints
//
// WithTracepoints adds tracepoints to every group, e.g. RingTracepoints (io_uring's own): they are counted
// over the same threads as the syscalls and read back in Reading.Tracepoints. io_uring's tracepoints fire in
// the task doing the work: the submitting thread (submit, poll arm, punts, task work), the SQPOLL thread
// (iou-sqp-*: with SQPOLL every submission, and the task work it runs), an io-wq worker (iou-wrk-*); all
// are threads of the process, so Open counts them all, while OpenThreads on the submitting thread misses
// what SQPOLL submits. They fire only on io_uring work, so unlike syscall tracepoints they cost other work
// nothing. They are fired with kernel registers: with exclude_kernel=1 forced they are unavailable (a
// false 0 otherwise). The task-work tracepoints carry an ftrace filter (count > 0, see tracepointFilters).
//
// OpenThreads counts exactly the given threads (inherit=0), e.g. a backend's LockOSThread worker.
// OpenPID counts another process the way Open counts this one.
//
// # False zeros
//
// With perf_event_paranoid >= 2 and neither root nor CAP_PERFMON/CAP_SYS_ADMIN, events must be opened with
// exclude_kernel=1. raw_syscalls:sys_enter and context-switches then read 0 with no error (their samples
// carry kernel registers), while syscalls:sys_enter_<name> (user registers) and task-clock count correctly.
// Every Open* therefore first probes on the calling thread: it opens the events, makes 100 getppid calls
// and a few short sleeps, and reads them back. An event that did not move is reported unavailable, with a
// reason naming perf_event_paranoid and exclude_kernel, and is not counted: a Reading never carries a zero
// that means "could not count". The probe costs one event group and about 100 syscalls and 0.2 ms of
// sleeping, and it is not part of the counts (Open resets the counters after it).
//
// # Tracepoint ids
//
// Tracepoint ids are read from /sys/kernel/tracing/events/<cat>/<name>/id, /sys/kernel/debug/tracing, or any
// tracefs in /proc/self/mounts. If none is mounted and the process may mount (root), a tracefs is mounted on
// a temporary directory, read, and unmounted again. As non-root tracefs is mode 0700: the ids can be supplied
// with RegisterTracepointIDs.
//
// Reset is implemented in user space (a baseline subtracted from later reads): the kernel's
// PERF_EVENT_IOC_RESET does not clear the counts already folded in from exited inherited threads.
package perfcount
