// Package measure brackets one sample with the kernel's own counters: syscalls by name (perf tracepoints,
// one counter per thread), CPU time of the whole process including io_uring's kernel threads (iou-sqp,
// iou-wrk), context switches and peak RSS. Where the kernel will not count for this user, the sample says
// "unavailable" and why; it never reports a false zero.
//
// A Meter carries the measuring options (whether syscalls are counted, whether counters stay open across a
// run) and begins each sample's Span; the command that runs samples makes one and hands it to the
// workloads.
package measure

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/ringbench/ringbench/internal/perfcount"
	"github.com/ringbench/ringbench/internal/procstat"
	"github.com/ringbench/ringbench/internal/result"
)

// Scope says whose work a sample is charged for.
type Scope struct {
	// PID is the measured process; 0 is this process.
	PID int
	// BackendTIDs are the threads doing the backend's I/O, counted apart as well.
	BackendTIDs []int
	// Breakdown names the syscalls counted individually; nil means perfcount.DefaultBreakdown.
	Breakdown []string
	// Ring says the backend does its I/O through io_uring: counted samples then also count io_uring's own
	// tracepoints (perfcount.RingTracepoints) over the process and fill Sample.RingEvents.
	Ring bool
}

// errNotCounted is the reason given when syscall counting was switched off.
var errNotCounted = errors.New("not counted (--count-syscalls=false or --samples timed: tracepoints cost every syscall ~0.2-0.5 µs, which lowers the throughput of syscall-heavy backends most)")

// Options configure a Meter.
type Options struct {
	// CountSyscalls counts syscalls with kernel tracepoints. They slow every syscall of the process: a
	// backend making one syscall per op loses more throughput to them than one making 0.03. Off gives
	// unbiased throughput; CPU, context switches (from /proc) and latency are still measured.
	CountSyscalls bool
	// Hold opens this process's counters once, in New, and keeps them open until Close. Closing the last
	// counter of a tracepoint costs the kernel about 35 ms per event, half a second per sample with the
	// default breakdown; spans of this process then read the held counters (threads created later are
	// covered by inheritance, their counts read live) and charge each sample the difference. The cost:
	// syscalls of this process take the traced path between samples too, which nothing measures.
	Hold bool
	// NotCounted is the reason a sample gives for its syscalls when CountSyscalls is off; empty means the
	// user switched counting off (--count-syscalls=false).
	NotCounted string
}

// Meter brackets samples with the kernel's counters. It is safe for concurrent use; Close releases what
// it holds, and spans begun afterwards open counters of their own.
type Meter struct {
	count bool
	why   error // why syscalls are not counted, when count is false
	mu    sync.Mutex
	held  *perfcount.Counter
}

// New returns a Meter with opts. Counters it cannot hold are not an error: each span then opens (and,
// where the kernel refuses, explains) its own.
func New(opts Options) *Meter {
	m := &Meter{count: opts.CountSyscalls, why: errNotCounted}
	if opts.NotCounted != "" {
		m.why = errors.New(opts.NotCounted)
	}
	if opts.Hold && opts.CountSyscalls {
		// io_uring's tracepoints are held too, for any backend: they fire only on io_uring work, so unlike
		// the syscall tracepoints they cost nothing to a sample that does none.
		if c, err := perfcount.Open(perfcount.DefaultBreakdown, perfcount.WithTracepoints(perfcount.RingTracepoints...)); err == nil {
			m.held = c
		}
	}
	return m
}

// Close releases the counters the Meter holds.
func (m *Meter) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.held != nil {
		m.held.Close()
		m.held = nil
	}
}

// Span is one measured interval.
type Span struct {
	scope    Scope
	shared   bool // proc is the held counter: not ours to close
	off      bool // syscalls not counted on purpose (Options.CountSyscalls false)
	proc     *perfcount.Counter
	procErr  error
	thr      *perfcount.Counter
	thrErr   error
	before   procstat.Snapshot
	procRead perfcount.Reading
	thrRead  perfcount.Reading
}

// Begin opens the counters and takes the starting snapshot of one sample window. It fails only when /proc
// itself cannot be read; counters the kernel refuses are recorded as unavailable.
func (m *Meter) Begin(scope Scope) (*Span, error) {
	if scope.Breakdown == nil {
		scope.Breakdown = perfcount.DefaultBreakdown
	}
	s := &Span{scope: scope}
	m.mu.Lock()
	h, off := m.held, !m.count
	m.mu.Unlock()
	switch {
	case off:
		s.procErr, s.off = m.why, true
	case scope.PID == 0 && h != nil && slices.Equal(scope.Breakdown, perfcount.DefaultBreakdown):
		s.proc, s.shared = h, true
	case scope.PID == 0:
		s.proc, s.procErr = perfcount.Open(scope.Breakdown, ringOpts(scope)...)
	default:
		s.proc, s.procErr = perfcount.OpenPID(scope.PID, scope.Breakdown, ringOpts(scope)...)
	}
	if len(scope.BackendTIDs) > 0 && !off {
		s.thr, s.thrErr = perfcount.OpenThreads(scope.BackendTIDs, scope.Breakdown)
	}
	_ = procstat.ResetPeakRSS(scope.PID) // best effort: without it peak RSS covers the whole process life
	var err error
	s.before, err = procstat.Take(scope.PID)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("measure: %w", err)
	}
	if s.proc != nil {
		if s.procRead, err = s.proc.Read(); err != nil {
			s.procErr = err
		}
	}
	if s.thr != nil {
		if s.thrRead, err = s.thr.Read(); err != nil {
			s.thrErr = err
		}
	}
	return s, nil
}

// End reads the counters and fills the sample's syscall, CPU, context-switch and memory figures, charged
// over ops operations. The span stays open for Close.
func (s *Span) End(ops int64, sm *result.Sample) error {
	// Counters first: reading /proc below makes syscalls of its own, which must not be charged to the ops.
	var procNow, thrNow perfcount.Reading
	var procNowErr, thrNowErr error
	if s.proc != nil && s.procErr == nil {
		procNow, procNowErr = s.proc.Read()
	}
	if s.thr != nil && s.thrErr == nil {
		thrNow, thrNowErr = s.thr.Read()
	}
	after, err := procstat.Take(s.scope.PID)
	if err != nil {
		return fmt.Errorf("measure: %w", err)
	}
	scope := "process"
	if s.scope.PID != 0 {
		scope = "server"
	}
	perOp := func(v uint64) float64 {
		if ops <= 0 {
			return 0
		}
		return float64(v) / float64(ops)
	}

	// Syscalls.
	sm.Syscalls = result.Syscalls{Scope: scope}
	var procDelta perfcount.Reading
	procOK := s.proc != nil && s.procErr == nil
	if procOK {
		if procNowErr != nil {
			procOK, s.procErr = false, procNowErr
		} else {
			procDelta = procNow.Sub(s.procRead)
		}
	}
	switch {
	case !procOK:
		sm.Syscalls.Reason = reason(s.procErr)
	case !procDelta.TotalAvailable:
		sm.Syscalls.Reason = procDelta.TotalReason
	default:
		sm.Syscalls.Available = true
		sm.Syscalls.Total = procDelta.Total
		sm.Syscalls.PerOp = perOp(procDelta.Total)
		sm.Syscalls.ByName = breakdown(procDelta)
	}
	if s.thr != nil && s.thrErr == nil && thrNowErr == nil {
		if d := thrNow.Sub(s.thrRead); d.TotalAvailable {
			sm.Syscalls.Backend = &result.SyscallCount{Total: d.Total, PerOp: perOp(d.Total), ByName: breakdown(d)}
		}
	}

	// CPU, from /proc: covers every thread, the SQPOLL kernel thread included.
	// UserNs/SysNs split the time (sampled by the kernel, tick-grained for another process); CPUNs is the
	// precise total (the process CPU-time clock, exited threads and iou-sqp included) and sets PerOpNs.
	delta := after.Sub(s.before)
	total := delta.CPUNs
	if total == 0 {
		total = delta.UserNs + delta.SysNs
	}
	sm.CPU = result.CPU{
		UserNs: delta.UserNs, SysNs: delta.SysNs,
		PollThreadNs: delta.PollThreadNs, WorkerNs: delta.WorkerNs,
		PerOpNs: perOp(total),
		Scope:   scope,
	}

	// Context switches: the perf software event when it counts, else the scheduler's own per-thread counts.
	switch {
	case procOK && procDelta.CtxAvailable:
		sm.ContextSwitches = result.Counted{Available: true, Total: procDelta.ContextSwitches, PerOp: perOp(procDelta.ContextSwitches)}
	case s.off:
		// Not counted on purpose: /proc is the source, not a fallback.
		cs := delta.VolCtx + delta.InvolCtx
		sm.ContextSwitches = result.Counted{Available: true, Total: cs, PerOp: perOp(cs), Reason: "from /proc/PID/task/*/status"}
	default:
		cs := delta.VolCtx + delta.InvolCtx
		sm.ContextSwitches = result.Counted{Available: true, Total: cs, PerOp: perOp(cs),
			Reason: "from /proc/PID/task/*/status (perf context-switches event unavailable)"}
	}
	if after.PeakRSSBytes > 0 {
		sm.PeakRSSBytes = int64(after.PeakRSSBytes)
	}
	if s.scope.Ring && !s.off {
		sm.RingEvents = ringEvents(procOK, s.procErr, procDelta)
	}
	return nil
}

func ringOpts(scope Scope) []perfcount.Option {
	if !scope.Ring {
		return nil
	}
	return []perfcount.Option{perfcount.WithTracepoints(perfcount.RingTracepoints...)}
}

// ringEvents turns the process counter's reading into Sample.RingEvents: unavailable, with the first reason,
// when the counter failed or any of the tracepoints could not be counted.
func ringEvents(ok bool, err error, d perfcount.Reading) *result.RingEvents {
	if !ok {
		return &result.RingEvents{Reason: reason(err)}
	}
	for _, t := range perfcount.RingTracepoints {
		if why, bad := d.TracepointUnavailable[t]; bad {
			return &result.RingEvents{Reason: t + ": " + why}
		}
		if _, counted := d.Tracepoints[t]; !counted {
			return &result.RingEvents{Reason: t + ": not counted"}
		}
	}
	tp := d.Tracepoints
	return &result.RingEvents{Available: true,
		Submitted:   tp["io_uring:io_uring_submit_req"],
		AsyncPunts:  tp["io_uring:io_uring_queue_async_work"],
		TaskWork:    tp["io_uring:io_uring_task_work_run"] + tp["io_uring:io_uring_local_work_run"],
		PollArms:    tp["io_uring:io_uring_poll_arm"],
		CQOverflows: tp["io_uring:io_uring_cqe_overflow"],
	}
}

// Close releases the counters.
func (s *Span) Close() {
	if s.proc != nil && !s.shared {
		s.proc.Close()
	}
	s.proc = nil
	if s.thr != nil {
		s.thr.Close()
		s.thr = nil
	}
}

func reason(err error) string {
	if err == nil {
		return "not counted"
	}
	return err.Error()
}

func breakdown(r perfcount.Reading) map[string]uint64 {
	m := make(map[string]uint64, len(r.ByName)+1)
	names := make([]string, 0, len(r.ByName))
	for k := range r.ByName {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if v := r.ByName[k]; v > 0 {
			m[k] = v
		}
	}
	if r.OtherAvailable && r.Other > 0 {
		m["other"] = r.Other
	}
	return m
}
