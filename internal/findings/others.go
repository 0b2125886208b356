package findings

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ringbench/ringbench/internal/series"
)

// idleMemory is claim 5: server memory per idle connection of plain io_uring (a receive buffer posted on
// every connection) against multishot receive from a provided-buffer ring, and epoll's (no buffer).
func idleMemory(d data) Finding {
	f := Finding{Anchor: anchorWorkload + "echo-proxy"}
	get := func(match func(*series.Series) bool) (float64, bool) {
		for _, s := range d.find(func(s *series.Series) bool { return s.Workload == "echo-proxy" && match(s) }) {
			if v, ok := median(s, "mem/idle-conn"); ok {
				return v, true
			}
		}
		return 0, false
	}
	plain, okP := get(func(s *series.Series) bool { return s.Backend == "uring" && s.Params["multishot"] != "true" })
	multi, okM := get(func(s *series.Series) bool { return s.Backend == "uring" && s.Params["multishot"] == "true" })
	epoll, okE := get(func(s *series.Series) bool { return s.Backend == "epoll" })
	switch {
	case !okP:
		f.Verdict, f.Why = NotMeasured, "no echo-proxy uring series with --idle-conns"
		return f
	case !okM:
		f.Verdict, f.Why = NotMeasured, "no echo-proxy uring --multishot series with --idle-conns"
		return f
	}
	figs := []string{"per idle connection: uring " + size(plain), "uring multishot " + size(multi)}
	var parts []bool
	var whys []string
	if okE {
		figs = append(figs, "epoll "+size(epoll))
		ok := plain-epoll >= BufferBytes
		parts = append(parts, ok)
		whys = append(whys, fmt.Sprintf("uring's buffers cost %s per connection over epoll's (%s %s)", size(plain-epoll), either(ok, "at least", "under"), size(BufferBytes)))
	}
	ok := plain-multi >= BufferBytes
	parts = append(parts, ok)
	whys = append(whys, fmt.Sprintf("multishot saves %s per connection (%s %s)", size(plain-multi), either(ok, "at least", "under"), size(BufferBytes)))
	return f.judged(strings.Join(figs, ", ")+" (server RSS)", parts, whys)
}

// coldFiles is claim 6: a file workload with --cache cold on epoll (whose loop blocks in each read that
// misses) and io_uring (--depth reads in flight).
func coldFiles(d data) Finding {
	f := Finding{}
	for _, u := range d.find(func(s *series.Series) bool { return s.Backend == "uring" && s.Params["cache"] == "cold" }) {
		for _, e := range d.find(func(s *series.Series) bool {
			return s.Backend == "epoll" && s.Workload == u.Workload && s.Params["cache"] == "cold" && agree(s.Params, u.Params)
		}) {
			uOps, ok1 := median(u, "ops/s")
			eOps, ok2 := median(e, "ops/s")
			if !ok1 || !ok2 || eOps <= 0 {
				continue
			}
			f.Anchor = anchorWorkload + u.Workload
			depth := u.Params["depth"]
			if depth == "" {
				depth = "--depth"
			}
			figs := []string{fmt.Sprintf("%s cold: uring %s ops/s (%s in flight) vs epoll %s (one at a time): %s",
				u.Workload, rate(uOps), depth, rate(eOps), times(uOps/eOps))}
			fast := uOps >= ColdSpeedup*eOps
			parts := []bool{fast}
			whys := []string{fmt.Sprintf("io_uring %s %gx epoll's throughput", either(fast, "reached", "did not reach"), ColdSpeedup)}
			if sw, ok := median(e, "ctxsw/op"); ok {
				blocks := sw >= BlockingSwitches
				parts = append(parts, blocks)
				figs = append(figs, fmt.Sprintf("epoll %s context switches/op", perOp(sw)))
				if blocks {
					whys = append(whys, "epoll's loop slept in its reads (a context switch per miss)")
				} else {
					whys = append(whys, "epoll's loop seldom slept: its reads mostly hit the cache")
				}
			}
			var cached []string
			for _, s := range []*series.Series{e, u} {
				if r, ok := residencyAfter(s); ok {
					cached = append(cached, s.Backend+" "+pct(r))
				}
			}
			if len(cached) > 0 {
				figs = append(figs, "cached by the end of a sample: "+strings.Join(cached, ", "))
			}
			return f.judged(strings.Join(figs, "; "), parts, whys)
		}
	}
	f.Verdict = NotMeasured
	f.Why = "no --cache cold series of a file workload on both epoll and uring (cold needs --dir on a block device)"
	return f
}

// policy is claim 7: a run with io_uring refused (ringbench sandbox --deny io_uring, or a kernel or policy
// that refuses it): which backends ran, and whether this kernel has the kernel.io_uring_disabled sysctl.
func policy(d data) Finding {
	f := Finding{Anchor: AnchorWarnings}
	for _, file := range d.files {
		iou := file.Env.IOUring
		if iou.SetupOK || (iou.SetupError == "" && iou.SetupErrno == "") {
			continue
		}
		ran := map[string]int64{}
		for _, s := range file.Samples {
			ran[s.Backend] += s.Ops
		}
		var skipped []string
		for _, sk := range file.Skipped {
			if sk.Backend == "uring" || sk.Backend == "sqpoll" {
				skipped = append(skipped, sk.Backend)
			}
		}
		refused := ran["uring"] == 0 && ran["sqpoll"] == 0
		epollRan := ran["epoll"] > 0
		by := iou.SetupErrno
		if by == "" {
			by = iou.SetupError
		}
		label := file.Label
		if label == "" {
			label = "a run"
		}
		fig := fmt.Sprintf("%s with io_uring_setup failing (%s): ", label, by)
		switch {
		case refused && len(skipped) > 0:
			fig += strings.Join(slices.Sorted(maps.Keys(toSet(skipped))), ", ") + " not run"
		case refused:
			fig += "no io_uring backend ran"
		default:
			fig += "io_uring backends ran anyway"
		}
		if epollRan {
			fig += "; epoll ran"
			var rates []float64
			for _, s := range file.Samples {
				if s.Backend == "epoll" && s.Timed() && s.OpsPerSec > 0 {
					rates = append(rates, s.OpsPerSec)
				}
			}
			if len(rates) > 0 {
				fig += " (" + rate(series.Median(rates)) + " ops/s)"
			}
		} else {
			fig += "; epoll did not run"
		}
		parts := []bool{refused && epollRan}
		whys := []string{"io_uring refused by seccomp, epoll ran"}
		if !parts[0] {
			whys = []string{"with io_uring refused, the run did not fall back to epoll alone"}
		}
		switch iou.Disabled {
		case "absent":
			parts = append(parts, false)
			fig += "; this kernel has no kernel.io_uring_disabled sysctl"
			whys = append(whys, "the sysctl half needs kernel 6.6 or later")
		case "":
		default:
			parts = append(parts, true)
			fig += "; kernel.io_uring_disabled exists (= " + iou.Disabled + ")"
			whys = append(whys, "the sysctl exists but was not set: it is system-wide")
		}
		return f.judged(fig, parts, whys)
	}
	f.Verdict = NotMeasured
	f.Why = "no result set run with io_uring refused (ringbench sandbox --deny io_uring -- ringbench run ...)"
	return f
}

// tracing is claim 8: requests the ring submitted per op (io_uring's own tracepoints) against syscalls per
// op (what strace and perf trace see), on the io_uring series where they differ most.
func tracing(d data) Finding {
	f := Finding{}
	var best *series.Series
	var bSub, bSys float64
	for _, s := range d.find(func(s *series.Series) bool { return s.Backend == "uring" || s.Backend == "sqpoll" }) {
		sub, ok1 := median(s, "submitted/op")
		sys, ok2 := median(s, "syscalls/op")
		if !ok1 || !ok2 || sub <= 0 {
			continue
		}
		if best == nil || sys/sub < bSys/bSub {
			best, bSub, bSys = s, sub, sys
		}
	}
	if best == nil {
		f.Verdict = NotMeasured
		f.Why = "no io_uring series with both syscalls and io_uring's own events counted"
		return f
	}
	f.Anchor = anchorWorkload + best.Workload
	figs := []string{fmt.Sprintf("%s: the ring submitted %s requests/op, the process made %s syscalls/op (a syscall tracer sees %s)",
		name(best), perOp(bSub), perOp(bSys), pct(min(bSys/bSub, 1)))}
	if p, ok := median(best, "async punts/op"); ok {
		w := "no io-wq CPU"
		if wn, ok := workerNsPerOp(best); ok && wn > 0 {
			w = "io-wq CPU " + ns(wn) + "/op"
		}
		figs = append(figs, fmt.Sprintf("async punts %s/op (%s)", perOp(p), w))
	}
	f.Figure = strings.Join(figs, "; ")
	if bSys <= MissedShare*bSub {
		f.Verdict = Partly
		f.Why = "syscall tracing (strace, perf trace) misses most of the ring's work; perf's io_uring tracepoints " +
			"(io_uring:io_uring_submit_req and others) count it, as they did here"
	} else {
		f.Verdict = DoesNotHold
		f.Why = "every request was a syscall of its own here, so syscall tracing saw the work"
	}
	return f
}
