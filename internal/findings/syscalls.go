package findings

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ringbench/ringbench/internal/series"
)

// mitigated says which CPU-vulnerability mitigations a fingerprint's vulnerabilities files report
// ("Mitigation: ..."); known is false when none were recorded. A machine booted with mitigations=off
// reports "Vulnerable" where it would mitigate.
func mitigated(m map[string]string) (names []string, known bool) {
	for k, v := range m {
		if strings.HasPrefix(v, "Mitigation") {
			names = append(names, k)
		}
	}
	return slices.Sorted(maps.Keys(toSet(names))), len(m) > 0
}

func toSet(list []string) map[string]bool {
	m := map[string]bool{}
	for _, s := range list {
		m[s] = true
	}
	return m
}

// syscallCost is claim 1: the null syscall's measured cost (fingerprint.SyscallNs) against the claimed
// figure for the machine's mitigation state.
func syscallCost(d data) Finding {
	f := Finding{Anchor: AnchorEnvironment}
	var on, off []float64
	names := map[string]bool{}
	recorded := false
	for _, file := range d.files {
		if file.Env.SyscallNs <= 0 {
			continue
		}
		recorded = true
		m, known := mitigated(file.Env.Mitigations)
		switch {
		case !known:
		case len(m) > 0:
			on = append(on, file.Env.SyscallNs)
			for _, n := range m {
				names[n] = true
			}
		default:
			off = append(off, file.Env.SyscallNs)
		}
	}
	if len(on)+len(off) == 0 {
		f.Verdict = NotMeasured
		f.Why = "no result file records a null syscall's cost (env.syscall_ns)"
		if recorded {
			f.Why = "no result file that records a null syscall's cost records the CPU's mitigations (env.mitigations)"
		}
		return f
	}
	var figs, whys []string
	var parts []bool
	judge := func(v []float64, want float64, state string) {
		if len(v) == 0 {
			return
		}
		got := slices.Min(v) // see data.syscallNs
		ok := within(got, want)
		parts = append(parts, ok)
		of := ""
		if len(v) > 1 {
			of = fmt.Sprintf(" (lowest of %d runs)", len(v))
		}
		figs = append(figs, fmt.Sprintf("null syscall %s%s %s: %s the claimed ~%s", ns(got), of, state, times(got/want), ns(want)))
		whys = append(whys, fmt.Sprintf("%s %s %gx of ~%s", state, either(ok, "within", "not within"), Factor, ns(want)))
	}
	judge(on, SyscallNsMitigated, "with mitigations ("+strings.Join(slices.Sorted(maps.Keys(names)), ", ")+")")
	judge(off, SyscallNsPlain, "without mitigations")
	f = f.judged(strings.Join(figs, "; "), parts, whys)
	switch {
	case len(off) == 0:
		f.Why += "; the other half needs a machine booted with mitigations=off"
	case len(on) == 0:
		f.Why += "; the other half needs a machine whose CPU needs mitigations, booted with them"
	}
	return f
}

// epollRequest is the syscalls per request of one epoll echo series.
type epollRequest struct {
	s                 *series.Series
	conns             int
	perReq, ctl, wait float64
}

// epollSyscalls is claim 2: syscalls per request of the epoll echo server in level-triggered (the default) and oneshot mode, judged
// at the most connections both modes were measured at (a loaded server, where one epoll_wait serves many
// connections), and what they cost at RequestRate.
func epollSyscalls(d data) Finding {
	f := Finding{Anchor: anchorWorkload + "echo-proxy"}
	modes := map[string][]epollRequest{}
	unavailable := ""
	for _, s := range d.find(func(s *series.Series) bool {
		return s.Workload == "echo-proxy" && s.Backend == "epoll" && s.Params["topology"] != "proxy" &&
			(s.Params["pipeline"] == "" || s.Params["pipeline"] == "1")
	}) {
		mode := s.Params["epoll-mode"]
		if mode == "" {
			mode = "level"
		}
		r := epollRequest{s: s}
		fmt.Sscan(s.Params["conns"], &r.conns)
		var ok bool
		if r.perReq, ok = median(s, "syscalls/op"); !ok {
			for _, smp := range s.Counted() {
				if !smp.Syscalls.Available && unavailable == "" {
					unavailable = smp.Syscalls.Reason
				}
			}
			continue
		}
		r.ctl, _ = perOpByName(s, "epoll_ctl")
		r.wait, _ = perOpByName(s, "epoll_wait", "epoll_pwait", "epoll_pwait2")
		if !hasConns(modes[mode], r.conns) {
			modes[mode] = append(modes[mode], r)
		}
	}
	for _, mode := range []string{"level", "oneshot"} {
		if len(modes[mode]) == 0 {
			f.Verdict = NotMeasured
			f.Why = "no echo-proxy epoll " + mode + " series with syscalls counted"
			if unavailable != "" {
				f.Why = "syscalls were not counted: " + unavailable
			}
			return f
		}
	}
	conns := 0
	for _, e := range modes["level"] {
		if hasConns(modes["oneshot"], e.conns) && e.conns > conns {
			conns = e.conns
		}
	}
	level, one := pick(modes["level"], conns), pick(modes["oneshot"], conns)
	levelOK := level.perReq >= LevelLo && level.perReq <= LevelHi
	oneOK := one.perReq >= OneshotLo && one.perReq <= OneshotHi
	parts := []bool{levelOK, oneOK}
	figs := []string{fmt.Sprintf("conns=%d: level %s syscalls/request (epoll_wait %s), oneshot %s (epoll_ctl %s, epoll_wait %s)",
		level.conns, perOp(level.perReq), perOp(level.wait), perOp(one.perReq), perOp(one.ctl), perOp(one.wait))}
	for _, e := range modes["level"] {
		if e.conns != level.conns && hasConns(modes["oneshot"], e.conns) {
			figs = append(figs, fmt.Sprintf("conns=%d: %s and %s", e.conns, perOp(e.perReq), perOp(pick(modes["oneshot"], e.conns).perReq)))
		}
	}
	whys := []string{fmt.Sprintf("at conns=%d level %s [%g, %g], oneshot %s [%g, %g]", level.conns, either(levelOK, "in", "outside"), LevelLo, LevelHi,
		either(oneOK, "in", "outside"), OneshotLo, OneshotHi)}
	if d.syscallNs > 0 {
		worst := max(level.perReq, one.perReq)
		share := worst * d.syscallNs * RequestRate / 1e9
		ok := within(share, CPUShare)
		parts = append(parts, ok)
		figs = append(figs, fmt.Sprintf("%s × %s per syscall at %s req/s = %s of a CPU", perOp(worst), ns(d.syscallNs), rate(RequestRate), pct(share)))
		whys = append(whys, fmt.Sprintf("CPU share %s %gx of %s", either(ok, "within", "not within"), Factor, pct(CPUShare)))
	} else {
		whys = append(whys, "the CPU share was not judged: no null-syscall cost recorded")
	}
	if one.ctl > 0 {
		whys = append(whys, fmt.Sprintf("oneshot adds %s epoll_ctl per request to level-triggered's read and write, and the one epoll_wait is shared by the connections ready together", perOp(one.ctl)))
	}
	return f.judged(strings.Join(figs, "; "), parts, whys)
}

func hasConns(rs []epollRequest, conns int) bool {
	for _, r := range rs {
		if r.conns == conns {
			return true
		}
	}
	return false
}

// pick is the series at conns, or (when conns is 0: no count both modes share) the one at the most.
func pick(rs []epollRequest, conns int) epollRequest {
	best := rs[0]
	for _, r := range rs {
		if r.conns == conns {
			return r
		}
		if r.conns > best.conns {
			best = r
		}
	}
	return best
}
