package perfcount

import (
	"errors"
)

// Report says which events work for this user and which would read a false zero. See Check.
type Report struct {
	Root            bool // effective uid 0
	CapPerfmon      bool // CAP_PERFMON or CAP_SYS_ADMIN in the effective set
	Paranoid        int  // /proc/sys/kernel/perf_event_paranoid; -1000 if unreadable
	ExcludeKernel   bool // events can only be opened with exclude_kernel=1
	TracefsReadable bool
	TracefsPath     string // the mounted tracefs ids are read from ("" if unreadable or only via TracefsTempMnt)
	TracefsTempMnt  bool   // tracefs was not mounted; a temporary mount was made and removed
	TracefsReason   string
	Usable          bool   // Open would succeed (at least one syscall event counts)
	Error           string // why Open would fail
	Events          []EventStatus
}

// EventStatus is one event's verdict. FalseZeroRisk marks an event that reads 0 with no error for this user
// (measured, or, where the event could not even be opened, implied by exclude_kernel=1 being forced).
type EventStatus struct {
	Name          string
	OK            bool
	FalseZeroRisk bool
	Reason        string
	ProbeCount    uint64 // what it counted during the probe (100 getppid calls and 3 short sleeps)
}

// Check reports, without counting anything, which events work for this user and which would read a false
// zero: it runs the same probe as Open (on the calling thread) for task-clock, raw_syscalls:sys_enter,
// context-switches, syscalls:sys_enter_<name> for DefaultBreakdown and getppid, and RingTracepoints. Used by
// `ringbench probe`.
func Check() Report {
	priv := readPriv()
	r := Report{Root: priv.euid == 0, CapPerfmon: priv.capPerfmon || priv.capSysAdmin, Paranoid: priv.paranoid}
	if priv.paranoidErr != nil {
		r.Paranoid = -1000
	}
	ts := tracefsStatus()
	r.TracefsReadable, r.TracefsPath, r.TracefsTempMnt, r.TracefsReason = ts.Readable, ts.Path, ts.TempMnt, ts.Reason
	p, err := makePlan(append(append([]string{}, DefaultBreakdown...), "getppid"), RingTracepoints)
	p.release()
	r.ExcludeKernel = p.excludeKernel
	if err == nil {
		hasSyscalls := false
		for _, e := range p.events {
			hasSyscalls = hasSyscalls || e.label == labelTotal || e.name != ""
		}
		if hasSyscalls {
			r.Usable = true
		} else {
			err = errors.New("no syscall event counts: " + p.totalReason)
		}
	}
	if err != nil {
		r.Error = err.Error()
	}
	for _, label := range p.order {
		st := p.status[label]
		r.Events = append(r.Events, EventStatus{Name: label, OK: st.ok, FalseZeroRisk: st.falseZero,
			Reason: st.reason, ProbeCount: st.probe})
	}
	return r
}
