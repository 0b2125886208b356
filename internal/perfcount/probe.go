package perfcount

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	probeCalls  = 100 // getppid calls made while probing
	probeSleeps = 3   // short nanosleeps made while probing, each a context switch
)

// evStatus is the probe's verdict on one event.
type evStatus struct {
	label     string
	opened    bool
	ok        bool
	falseZero bool
	reason    string
	probe     uint64
}

// plan is the set of events that work for this user, decided by a probe on the calling thread.
type plan struct {
	priv          privInfo
	excludeKernel bool
	// probeFDs keep the probe's events open until the counter's own are: the first perf event on a tracepoint
	// registers it (~15 ms here) and closing the last one unregisters it (~30-60 ms, an RCU grace period), so
	// keeping a reference avoids paying that twice. release closes them.
	probeFDs    []int
	events      []event // usable, counted events; events[0] is the task-clock leader
	order       []string
	status      map[string]*evStatus // by label, every candidate including task-clock
	names       []string             // requested breakdown names, deduplicated, in order
	nameReason  map[string]string    // breakdown name -> why unavailable
	tracepoints []string             // requested extra tracepoints (WithTracepoints), deduplicated
	tpReason    map[string]string    // extra tracepoint -> why unavailable
	totalReason string
	ctxReason   string
}

func (p *plan) index(label string) int {
	for i, e := range p.events {
		if e.label == label {
			return i
		}
	}
	return -1
}

func dedupe(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

func (p *plan) falseZeroReason(label string, got uint64, what string) string {
	return fmt.Sprintf("%s read %d after %s: kernel-context events are dropped when opened with "+
		"exclude_kernel=1 (%s); a zero from it would be false", label, got, what, p.priv)
}

// makePlan probes which events can be opened and which actually count, on the calling thread.
// The error wraps ErrUnavailable when perf_event_open itself is unusable; the plan is returned anyway so that
// Check can report reasons.
func makePlan(breakdown []string, tracepoints []string) (*plan, error) {
	p := &plan{priv: readPriv(), status: map[string]*evStatus{}, nameReason: map[string]string{},
		tpReason: map[string]string{}}
	p.names = dedupe(breakdown)
	p.tracepoints = dedupe(tracepoints)

	cands := []event{
		{label: labelTotal, typ: unix.PERF_TYPE_TRACEPOINT, tp: true},
		{label: labelCtx, typ: unix.PERF_TYPE_SOFTWARE, config: unix.PERF_COUNT_SW_CONTEXT_SWITCHES},
	}
	refLabel := nameLabel("getppid")
	haveRef := false
	for _, n := range p.names {
		if !validTraceName(n) {
			p.nameReason[n] = fmt.Sprintf("invalid syscall name %q", n)
			continue
		}
		cands = append(cands, event{label: nameLabel(n), name: n, typ: unix.PERF_TYPE_TRACEPOINT, tp: true})
		haveRef = haveRef || n == "getppid"
	}
	if !haveRef {
		cands = append(cands, event{label: refLabel, typ: unix.PERF_TYPE_TRACEPOINT, tp: true, probeOnly: true})
	}
	for _, t := range p.tracepoints {
		cat, name, ok := strings.Cut(t, ":")
		if !ok || !validTraceName(cat) || !validTraceName(name) {
			p.tpReason[t] = fmt.Sprintf("invalid tracepoint name %q (want category:name)", t)
			continue
		}
		cands = append(cands, event{label: t, typ: unix.PERF_TYPE_TRACEPOINT, tp: true, extra: true, filter: tracepointFilters[t]})
	}
	var tps []string
	for _, c := range cands {
		if c.tp {
			tps = append(tps, c.label)
		}
	}
	ids, idErrs := TracepointIDs(tps)

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()

	lst := &evStatus{label: labelTaskClock}
	p.status[labelTaskClock] = lst
	p.order = append(p.order, labelTaskClock)
	lfd, err := perfOpen(taskClockEvent, tid, -1, inheritNone, false)
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		lfd, err = perfOpen(taskClockEvent, tid, -1, inheritNone, true)
		p.excludeKernel = err == nil
	}
	if err != nil {
		lst.reason = openErrReason(err, p.priv)
		for _, c := range cands {
			p.order = append(p.order, c.label)
			p.status[c.label] = &evStatus{label: c.label, reason: lst.reason}
		}
		p.fillReasons()
		return p, fmt.Errorf("%w: %s", ErrUnavailable, lst.reason)
	}
	lst.opened = true
	fds := []int{lfd}
	evs := []event{taskClockEvent}
	defer func() { p.probeFDs = fds }()
	for i := range cands {
		c := &cands[i]
		st := &evStatus{label: c.label}
		p.status[c.label] = st
		p.order = append(p.order, c.label)
		if c.tp {
			id, ok := ids[c.label]
			if !ok {
				st.reason = idErrs[c.label].Error()
				continue
			}
			c.config = id
		}
		fd, err := perfOpen(*c, tid, lfd, inheritNone, p.excludeKernel)
		if err != nil {
			st.reason = openErrReason(err, p.priv)
			continue
		}
		st.opened = true
		fds = append(fds, fd)
		evs = append(evs, *c)
	}
	idx := map[uint64]int{}
	for i, fd := range fds {
		id, err := eventID(fd)
		if err != nil {
			return p, fmt.Errorf("perf: PERF_EVENT_IOC_ID: %w", err)
		}
		idx[id] = i
	}

	// The burst: known syscalls and context switches on this thread.
	if err := ioctlNoArg(lfd, unix.PERF_EVENT_IOC_ENABLE); err != nil {
		return p, fmt.Errorf("perf: enable: %w", err)
	}
	for i := 0; i < probeCalls; i++ {
		unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
	}
	for i := 0; i < probeSleeps; i++ {
		ts := unix.Timespec{Nsec: 50_000}
		_ = unix.Nanosleep(&ts, nil)
	}
	if err := ioctlNoArg(lfd, unix.PERF_EVENT_IOC_DISABLE); err != nil {
		return p, fmt.Errorf("perf: disable: %w", err)
	}
	gv, err := readGroup(lfd, idx, len(fds), nil)
	if err != nil {
		return p, fmt.Errorf("perf: probe read: %w", err)
	}
	for i, e := range evs {
		p.status[e.label].probe = gv.vals[i]
	}

	lst.ok = true
	p.events = []event{taskClockEvent}
	ref := p.status[refLabel]
	refGood := ref.opened && ref.probe >= probeCalls
	what := fmt.Sprintf("%d getppid calls", probeCalls)
	for _, c := range cands {
		st := p.status[c.label]
		if !st.opened {
			// Could not open: say whether it would read a false zero if it could.
			if (c.label == labelTotal || c.label == labelCtx || c.extra) && p.excludeKernel {
				st.falseZero = true
				st.reason += fmt.Sprintf("; it would also read a false 0: exclude_kernel=1 is forced (%s)", p.priv)
			}
			continue
		}
		switch {
		case c.label == labelTotal:
			switch {
			case st.probe >= probeCalls:
				st.ok = true
			case st.probe == 0:
				st.falseZero = true
				st.reason = p.falseZeroReason(c.label, 0, what)
			default:
				st.reason = fmt.Sprintf("%s counted %d of %s: undercounts", c.label, st.probe, what)
			}
		case c.label == labelCtx:
			if st.probe > 0 {
				st.ok = true
			} else {
				st.falseZero = true
				st.reason = p.falseZeroReason(c.label, 0, fmt.Sprintf("%d sleeps", probeSleeps))
			}
		case c.extra:
			// Nothing to provoke it with here: an io_uring request would need a ring. It counts unless its
			// kernel-register samples are dropped by exclude_kernel=1.
			if p.excludeKernel {
				st.falseZero = true
				st.reason = fmt.Sprintf("%s fires with kernel registers and is dropped when opened with "+
					"exclude_kernel=1 (%s); a zero from it would be false", c.label, p.priv)
			} else {
				st.ok = true
			}
		case refGood:
			st.ok = true
		case ref.opened && ref.probe == 0:
			st.falseZero = true
			st.reason = p.falseZeroReason(refLabel, 0, what) + "; syscall tracepoints are not trusted"
		case ref.opened:
			st.reason = fmt.Sprintf("%s counted %d of %s: syscall tracepoints undercount", refLabel, ref.probe, what)
		default:
			// No reference to check against (getppid tracepoint missing): trust an event that opened.
			st.ok = true
		}
		if st.ok && !c.probeOnly {
			p.events = append(p.events, c)
		}
	}
	p.fillReasons()
	return p, nil
}

// release closes the probe's events.
func (p *plan) release() {
	for _, fd := range p.probeFDs {
		unix.Close(fd)
	}
	p.probeFDs = nil
}

func (p *plan) fillReasons() {
	for _, n := range p.names {
		if _, bad := p.nameReason[n]; bad {
			continue
		}
		if st := p.status[nameLabel(n)]; st != nil && !st.ok {
			p.nameReason[n] = st.reason
		}
	}
	for _, t := range p.tracepoints {
		if _, bad := p.tpReason[t]; bad {
			continue
		}
		if st := p.status[t]; st != nil && !st.ok {
			p.tpReason[t] = st.reason
		}
	}
	if st := p.status[labelTotal]; st != nil && !st.ok {
		p.totalReason = st.reason
	}
	if st := p.status[labelCtx]; st != nil && !st.ok {
		p.ctxReason = st.reason
	}
}
