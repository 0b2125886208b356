// Package summary turns the samples of one run into the table `ringbench run` prints: the median of each
// figure per series (internal/series), the spread, and each backend's ratio to epoll. Statistics for
// regression gates live in package compare; this is the at-a-glance view.
package summary

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/series"
	"github.com/ringbench/ringbench/internal/termsafe"
	"github.com/ringbench/ringbench/internal/units"
)

// Row is the summary of one series.
type Row struct {
	Workload, Backend, Params string
	// N is the number of timed samples; Counted the number of counted ones when the run took them apart
	// (0 for files whose samples have no kind: each of the N samples gave every figure).
	N, Counted                int
	OpsPerSec, MinOps, MaxOps float64
	// CVOps is the coefficient of variation of ops/s over the timed samples (stddev/mean); -1 under 2.
	CVOps               float64
	MBPerSec            float64
	P50, P99, P999, Max float64 // ns, medians over samples
	SyscallsPerOp       float64 // the I/O thread's (result.Sample.IOSyscalls); -1 = unavailable
	OtherSyscallsPerSec float64 // the rest of the process, per second; -1 = unavailable
	EntersPerOp         float64 // -1 = n/a
	CPUPerOp            float64 // ns
	PollShare           float64 // fraction of CPU spent by the SQPOLL thread
	CtxPerOp            float64 // -1 = unavailable
	PeakRSS             float64
	Residency           float64 // lowest seen, -1 = n/a
	// Cold says the series ran with --cache cold (Params cache=cold); ColdAfter is then the median
	// residency at the end of its samples: how much of the data set the sample itself read into the cache.
	Cold        bool
	ColdAfter   float64
	MemPerConn  float64 // bytes of server RSS per idle connection, -1 = n/a
	TopSyscalls string
	// SyscallsUnavailable says why syscalls were not counted in the counted samples ("" when they were):
	// kept apart from Warnings, since it is the same for every row and printed once.
	SyscallsUnavailable string
	Warnings            []string
	// Threads is the number of I/O threads of a --jobs sample (0 for one); ThreadMin and ThreadMax the
	// medians over samples of the slowest and fastest thread's ops/s.
	Threads              int
	ThreadMin, ThreadMax float64
	// Ring is io_uring's own events per op, for series whose counted samples have them (io_uring backends);
	// nil otherwise.
	Ring *RingRow
}

// RingRow is the medians of io_uring's own tracepoint counts over a series' counted samples
// (result.RingEvents), beside the io-wq workers' CPU from its timed ones.
type RingRow struct {
	// Reason says why the events were not counted ("" when they were); the figures are then -1.
	Reason                                                   string
	SubmittedPerOp, PuntsPerOp, TaskWorkPerOp, PollArmsPerOp float64
	CQOverflows                                              float64 // per sample, not per op
	// WorkerCPUPerOp is the CPU of io-wq workers (iou-wrk-*) per op, ns, from timed samples: the punts'
	// cost, already inside CPU/op; -1 when no timed sample says.
	WorkerCPUPerOp float64
}

// HighCV is the coefficient of variation of ops/s above which the table warns that the medians are
// uncertain: run-to-run noise that large hides differences of the same size.
const HighCV = 0.10

// Rows summarises the valid samples (series.Valid), in the order series first appear; Notice says what it
// left out.
func Rows(samples []result.Sample) []Row {
	samples, _ = series.Valid(samples)
	groups := series.Samples(samples)
	rows := make([]Row, 0, len(groups))
	for _, g := range groups {
		timed, counted := g.Timed(), g.Counted()
		r := Row{Workload: g.Workload, Backend: g.Backend, Params: result.ParamsString(g.Params), N: len(timed),
			CVOps: -1, SyscallsPerOp: -1, OtherSyscallsPerSec: -1, EntersPerOp: -1, CtxPerOp: -1, Residency: -1, MemPerConn: -1}
		if len(timed) != len(g.Samples) {
			r.Counted = len(counted)
		}
		// orNone is the median, or none when no sample has the figure.
		orNone := func(none float64, f func(*result.Sample) (float64, bool)) float64 {
			if v, ok := g.MedianOf(f); ok {
				return v
			}
			return none
		}
		// Timing figures from timed samples only, syscall figures from counted ones (series.Measures).
		onlyTimed := func(f func(*result.Sample) (float64, bool)) func(*result.Sample) (float64, bool) {
			return func(s *result.Sample) (float64, bool) {
				if !s.Timed() {
					return 0, false
				}
				return f(s)
			}
		}
		r.OpsPerSec = orNone(0, onlyTimed(func(s *result.Sample) (float64, bool) { return s.OpsPerSec, true }))
		if len(timed) > 0 {
			r.MinOps, r.MaxOps = timed[0].OpsPerSec, timed[0].OpsPerSec
		}
		for _, s := range timed {
			r.MinOps = min(r.MinOps, s.OpsPerSec)
			r.MaxOps = max(r.MaxOps, s.OpsPerSec)
		}
		r.CVOps = cv(timed)
		r.MBPerSec = orNone(0, onlyTimed(func(s *result.Sample) (float64, bool) { return s.BytesPerSec / 1e6, true }))
		r.P50 = orNone(0, onlyTimed(func(s *result.Sample) (float64, bool) { return float64(s.Latency.P50), s.Latency.Count > 0 }))
		r.P99 = orNone(0, onlyTimed(func(s *result.Sample) (float64, bool) { return float64(s.Latency.P99), s.Latency.Count > 0 }))
		r.P999 = orNone(0, onlyTimed(func(s *result.Sample) (float64, bool) { return float64(s.Latency.P999), s.Latency.Count > 0 }))
		r.Max = orNone(0, onlyTimed(func(s *result.Sample) (float64, bool) { return float64(s.Latency.Max), s.Latency.Count > 0 }))
		r.SyscallsPerOp = orNone(-1, series.OfName("syscalls/op"))
		r.OtherSyscallsPerSec = orNone(-1, series.OfName("other-syscalls/s"))
		r.EntersPerOp = orNone(-1, series.OfName("enters/op"))
		r.CPUPerOp = orNone(0, onlyTimed(func(s *result.Sample) (float64, bool) { return s.CPU.PerOpNs, s.Ops > 0 }))
		r.PollShare = orNone(0, onlyTimed(func(s *result.Sample) (float64, bool) {
			all := s.CPU.UserNs + s.CPU.SysNs
			return float64(s.CPU.PollThreadNs) / float64(max(all, 1)), all > 0
		}))
		r.CtxPerOp = orNone(-1, series.OfName("ctxsw/op"))
		r.PeakRSS = orNone(0, func(s *result.Sample) (float64, bool) { return float64(s.PeakRSSBytes), s.PeakRSSBytes > 0 })
		for _, s := range g.Samples {
			if s.Residency != nil {
				low := min(s.Residency.Before, s.Residency.After)
				if r.Residency < 0 || low < r.Residency {
					r.Residency = low
				}
			}
		}
		if r.Cold = g.Params["cache"] == "cold"; r.Cold {
			r.ColdAfter = orNone(-1, func(s *result.Sample) (float64, bool) {
				if s.Residency == nil {
					return 0, false
				}
				return s.Residency.After, true
			})
		}
		r.MemPerConn = orNone(-1, func(s *result.Sample) (float64, bool) {
			if s.Memory == nil {
				return 0, false
			}
			return s.Memory.RSSPerConnBytes, true
		})
		r.TopSyscalls = topSyscalls(counted)
		r.Ring = ringRow(counted, orNone, onlyTimed)
		for _, s := range timed {
			r.Threads = max(r.Threads, len(s.Threads))
		}
		if r.Threads > 0 {
			r.ThreadMin = orNone(0, onlyTimed(func(s *result.Sample) (float64, bool) {
				lo, _, ok := result.ThreadSpread(*s)
				return lo, ok
			}))
			r.ThreadMax = orNone(0, onlyTimed(func(s *result.Sample) (float64, bool) {
				_, hi, ok := result.ThreadSpread(*s)
				return hi, ok
			}))
		}
		seen := map[string]bool{}
		for _, s := range g.Samples {
			for _, w := range s.Warnings {
				if !seen[w.Text] {
					seen[w.Text] = true
					r.Warnings = append(r.Warnings, w.Text)
				}
			}
			if s.Counted() && !s.Syscalls.Available && s.Syscalls.Reason != "" && r.SyscallsUnavailable == "" {
				r.SyscallsUnavailable = s.Syscalls.Reason
			}
		}
		if r.CVOps > HighCV {
			r.Warnings = append(r.Warnings, fmt.Sprintf("ops/s varies by %.0f%% (CV) across samples, above %.0f%%: "+
				"the median is uncertain; take more samples (--count) or quiet the machine", 100*r.CVOps, 100*HighCV))
		}
		rows = append(rows, r)
	}
	return rows
}

// ringRow summarises the ring events of a series; nil when none of its counted samples has any.
func ringRow(counted []*result.Sample, orNone func(float64, func(*result.Sample) (float64, bool)) float64,
	onlyTimed func(func(*result.Sample) (float64, bool)) func(*result.Sample) (float64, bool)) *RingRow {
	var rr *RingRow
	for _, s := range counted {
		if s.RingEvents == nil {
			continue
		}
		if rr == nil {
			rr = &RingRow{}
		}
		if !s.RingEvents.Available && rr.Reason == "" {
			rr.Reason = s.RingEvents.Reason
		}
	}
	if rr == nil {
		return nil
	}
	rr.SubmittedPerOp = orNone(-1, series.OfName("submitted/op"))
	rr.PuntsPerOp = orNone(-1, series.OfName("async punts/op"))
	rr.TaskWorkPerOp = orNone(-1, series.OfName("task work/op"))
	rr.PollArmsPerOp = orNone(-1, series.OfName("poll arms/op"))
	rr.CQOverflows = orNone(-1, series.OfName("cq overflows"))
	if rr.SubmittedPerOp >= 0 {
		rr.Reason = ""
	}
	rr.WorkerCPUPerOp = orNone(-1, onlyTimed(func(s *result.Sample) (float64, bool) {
		return float64(s.CPU.WorkerNs) / float64(max(s.Ops, 1)), s.Ops > 0
	}))
	return rr
}

// writeRingTable prints the io_uring events of the rows that have them, as a second aligned table; nothing
// when no row has them.
func writeRingTable(w io.Writer, rows []Row) {
	var ring, uncounted []Row
	for _, r := range rows {
		switch {
		case r.Ring == nil:
		case r.Ring.Reason != "":
			uncounted = append(uncounted, r)
		default:
			ring = append(ring, r)
		}
	}
	if len(ring) > 0 {
		fmt.Fprintln(w, "  io_uring's own events (tracepoints, counted samples); worker CPU/op is in CPU/op above:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "  backend\tsubmitted/op\tasync punts/op\tworker CPU/op\ttask work/op\tpoll arms/op\tcq overflows\t")
		for _, r := range ring {
			rr := r.Ring
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", termsafe.String(r.Backend), perOp(rr.SubmittedPerOp),
				perOp(rr.PuntsPerOp), workerCPU(rr.WorkerCPUPerOp), perOp(rr.TaskWorkPerOp), perOp(rr.PollArmsPerOp), count(rr.CQOverflows))
		}
		tw.Flush()
	}
	for _, r := range uncounted {
		fmt.Fprintf(w, "  %-7s io_uring events not counted: %s\n", termsafe.String(r.Backend), termsafe.String(r.Ring.Reason))
	}
}

func workerCPU(ns float64) string {
	switch {
	case ns < 0:
		return "n/a"
	case ns == 0:
		return "0"
	}
	return Nanos(ns)
}

func count(v float64) string {
	if v < 0 {
		return "n/a"
	}
	return termsafe.Fixed(v, 0)
}

// Notice is the line that says how many samples Rows left out as invalid and why; "" when none.
func Notice(samples []result.Sample) string {
	_, ex := series.Valid(samples)
	return ex.Line()
}

// topSyscalls names the syscalls that make up most of the count, per op, summed over samples: the I/O
// thread's where it was counted apart (as syscalls/op is), else the process's.
func topSyscalls(ss []*result.Sample) string {
	sum := map[string]uint64{}
	var ops int64
	for _, s := range ss {
		if !s.Syscalls.Available {
			return ""
		}
		ops += s.Ops
		byName := s.Syscalls.ByName
		if s.Syscalls.Backend != nil {
			byName = s.Syscalls.Backend.ByName
		}
		for k, v := range byName {
			sum[k] += v
		}
	}
	if ops == 0 {
		return ""
	}
	type kv struct {
		k string
		v uint64
	}
	var named []kv
	rest := sum["other"] // what the counters could not break down
	for k, v := range sum {
		if k != "other" {
			named = append(named, kv{k, v})
		}
	}
	sort.Slice(named, func(i, j int) bool {
		return named[i].v > named[j].v || named[i].v == named[j].v && named[i].k < named[j].k
	})
	var parts []string
	width := 0
	for _, e := range named {
		per := float64(e.v) / float64(ops)
		part := termsafe.String(e.k) + " " + termsafe.Fixed(per, 2)
		if per < 0.005 || width+len(part) > maxSyscallLine {
			rest += e.v
			continue
		}
		parts = append(parts, part)
		width += len(part) + 2
	}
	if per := float64(rest) / float64(ops); per >= 0.005 {
		parts = append(parts, "other "+termsafe.Fixed(per, 2))
	}
	return strings.Join(parts, ", ")
}

// maxSyscallLine is how wide the named calls of a syscalls/op line may grow; smaller ones join "other".
const maxSyscallLine = 72

// cv is the coefficient of variation of ops/s over samples (the population standard deviation over the
// mean), -1 with fewer than 2 samples or a zero mean.
func cv(ss []*result.Sample) float64 {
	if len(ss) < 2 {
		return -1
	}
	var sum float64
	for _, s := range ss {
		sum += s.OpsPerSec
	}
	mean := sum / float64(len(ss))
	if mean == 0 {
		return -1
	}
	var sq float64
	for _, s := range ss {
		sq += (s.OpsPerSec - mean) * (s.OpsPerSec - mean)
	}
	return math.Sqrt(sq/float64(len(ss))) / mean
}

// UnavailableLine is the one line that says why syscalls were not counted, for all rows alike, with how
// to enable counting; "" when every row counted them.
func UnavailableLine(rows []Row) string {
	for _, r := range rows {
		if r.SyscallsUnavailable == "" {
			continue
		}
		// The reason often repeats perfcount.ErrUnavailable's "kernel syscall counting unavailable: ...".
		why := strings.TrimSpace(strings.TrimPrefix(r.SyscallsUnavailable, "kernel syscall counting unavailable"))
		why = strings.TrimSpace(strings.TrimPrefix(why, ":"))
		line := "syscalls not counted"
		if why != "" {
			line += ": " + why
		}
		return line + " (counting needs root, or kernel.perf_event_paranoid <= 1: sysctl -w kernel.perf_event_paranoid=1)"
	}
	return ""
}

// WriteTable prints the rows as an aligned table for a terminal, one block per workload, then the
// ratios of each backend to epoll.
func WriteTable(w io.Writer, rows []Row) {
	byWorkload := groupByWorkload(rows)
	for wi, wl := range byWorkload {
		if wi > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s  (%s; medians of %s)\n", termsafe.String(wl[0].Workload), termsafe.String(wl[0].Params), sampleCount(wl[0]))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "backend\tops/s\tCV\tMB/s\tp50\tp99\tp99.9\tmax\tsyscalls/op\tenters/op\tCPU/op\tctxsw/op\tpeak RSS\tcached\t")
		for _, r := range wl {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", termsafe.String(r.Backend), humanRate(r.OpsPerSec), cvText(r.CVOps), termsafe.Fixed(r.MBPerSec, 1),
				Nanos(r.P50), Nanos(r.P99), Nanos(r.P999), Nanos(r.Max), perOp(r.SyscallsPerOp), perOp(r.EntersPerOp),
				cpu(r), perOp(r.CtxPerOp), units.HumanBytes(r.PeakRSS), residency(r.Residency))
		}
		tw.Flush()
		writeRingTable(w, wl)
		for _, r := range wl {
			if r.TopSyscalls != "" {
				line := fmt.Sprintf("  %-7s syscalls/op: %s", termsafe.String(r.Backend), r.TopSyscalls)
				if r.OtherSyscallsPerSec >= 0 {
					line += fmt.Sprintf("; rest of the process %.0f/s", r.OtherSyscallsPerSec)
				}
				fmt.Fprintln(w, line)
			}
		}
		for _, r := range wl {
			if line := threadLine(r); line != "" {
				fmt.Fprintf(w, "  %-7s %s\n", termsafe.String(r.Backend), line)
			}
		}
		for _, r := range wl {
			if r.MemPerConn >= 0 {
				fmt.Fprintf(w, "  %-7s memory per idle connection: %s (server RSS)\n", termsafe.String(r.Backend), units.HumanBytes(r.MemPerConn))
			}
		}
		if line := coldLine(wl); line != "" {
			fmt.Fprintln(w, line)
		}
		if base := find(wl, "epoll"); base != nil {
			var parts []string
			for _, r := range wl {
				if r.Backend == "epoll" || base.OpsPerSec == 0 {
					continue
				}
				p := fmt.Sprintf("%s %sx ops/s", termsafe.String(r.Backend), termsafe.Fixed(r.OpsPerSec/base.OpsPerSec, 2))
				if base.CPUPerOp > 0 && r.CPUPerOp > 0 {
					p += fmt.Sprintf(", %sx CPU/op", termsafe.Fixed(r.CPUPerOp/base.CPUPerOp, 2))
				}
				if base.SyscallsPerOp > 0 && r.SyscallsPerOp >= 0 {
					p += fmt.Sprintf(", %sx syscalls/op", termsafe.Fixed(r.SyscallsPerOp/base.SyscallsPerOp, 3))
				}
				parts = append(parts, p)
			}
			if len(parts) > 0 {
				fmt.Fprintf(w, "  vs epoll: %s\n", strings.Join(parts, "; "))
			}
		}
		for _, r := range wl {
			for _, warn := range r.Warnings {
				fmt.Fprintf(w, "  WARNING %s: %s\n", termsafe.String(r.Backend), termsafe.String(warn))
			}
		}
	}
	if line := UnavailableLine(rows); line != "" {
		fmt.Fprintf(w, "WARNING: %s\n", termsafe.String(line))
	}
}

// coldLine says what a --cache cold block measures, with how much of the data set each backend's samples
// had read into the cache by their end (reads after that were hits); "" when the block is not cold.
func coldLine(wl []Row) string {
	if !wl[0].Cold {
		return ""
	}
	var after []string
	for _, r := range wl {
		if r.ColdAfter >= 0 {
			after = append(after, fmt.Sprintf("%s %.0f%%", termsafe.String(r.Backend), 100*r.ColdAfter))
		}
	}
	line := "  cold cache: the data set was evicted before each sample, so reads miss the page cache and go to the device: " +
		"epoll's loop blocks in each read that misses (one read at the device at a time, about one context switch per read), io_uring keeps --depth reads in flight"
	if len(after) > 0 {
		line += "\n  cold cache: share of the data set cached by the end of a sample (reads after that were hits): " + strings.Join(after, ", ")
	}
	return line
}

// WriteMarkdown prints the rows as Markdown tables, one per workload.
func WriteMarkdown(w io.Writer, rows []Row) {
	for _, wl := range groupByWorkload(rows) {
		fmt.Fprintf(w, "### %s (%s; medians of %s)\n\n", termsafe.String(wl[0].Workload), termsafe.String(wl[0].Params), sampleCount(wl[0]))
		fmt.Fprintln(w, "| backend | ops/s | CV | MB/s | p50 | p99 | p99.9 | syscalls/op | enters/op | CPU/op | ctxsw/op | peak RSS | cached |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
		for _, r := range wl {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", termsafe.String(r.Backend), humanRate(r.OpsPerSec), cvText(r.CVOps), termsafe.Fixed(r.MBPerSec, 1),
				Nanos(r.P50), Nanos(r.P99), Nanos(r.P999), perOp(r.SyscallsPerOp), perOp(r.EntersPerOp), cpu(r), perOp(r.CtxPerOp),
				units.HumanBytes(r.PeakRSS), residency(r.Residency))
		}
		fmt.Fprintln(w)
		writeRingMarkdown(w, wl)
		for _, r := range wl {
			if line := threadLine(r); line != "" {
				fmt.Fprintf(w, "- %s: %s\n", termsafe.String(r.Backend), line)
			}
		}
		for _, r := range wl {
			for _, warn := range r.Warnings {
				fmt.Fprintf(w, "- **warning** %s: %s\n", termsafe.String(r.Backend), termsafe.String(warn))
			}
		}
	}
	if line := UnavailableLine(rows); line != "" {
		fmt.Fprintf(w, "- **warning**: %s\n", termsafe.String(line))
	}
}

// writeRingMarkdown is writeRingTable as a Markdown table.
func writeRingMarkdown(w io.Writer, rows []Row) {
	first := true
	for _, r := range rows {
		rr := r.Ring
		if rr == nil {
			continue
		}
		if first {
			fmt.Fprintln(w, "io_uring's own events (tracepoints, counted samples); worker CPU/op is in CPU/op above:")
			fmt.Fprintln(w)
			fmt.Fprintln(w, "| backend | submitted/op | async punts/op | worker CPU/op | task work/op | poll arms/op | cq overflows |")
			fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|")
			first = false
		}
		if rr.Reason != "" {
			fmt.Fprintf(w, "| %s | not counted: %s | | | | | |\n", termsafe.String(r.Backend), termsafe.String(rr.Reason))
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", termsafe.String(r.Backend), perOp(rr.SubmittedPerOp),
			perOp(rr.PuntsPerOp), workerCPU(rr.WorkerCPUPerOp), perOp(rr.TaskWorkPerOp), perOp(rr.PollArmsPerOp), count(rr.CQOverflows))
	}
	if !first {
		fmt.Fprintln(w)
	}
}

// cvText prints a coefficient of variation as a percentage ("2.3%"), "-" when there is none.
func cvText(v float64) string {
	if v < 0 {
		return "-"
	}
	return termsafe.Fixed(100*v, 1) + "%"
}

// threadLine says how the I/O threads of a --jobs row shared the work ("" for one thread): the totals in
// the table are their sum.
func threadLine(r Row) string {
	if r.Threads < 2 {
		return ""
	}
	return fmt.Sprintf("%d I/O threads: %s–%s ops/s per thread (slowest–fastest, medians)", r.Threads, humanRate(r.ThreadMin), humanRate(r.ThreadMax))
}

// sampleCount says how many samples the medians are of: "6 samples", or "6 timed + 6 counted samples".
func sampleCount(r Row) string {
	if r.Counted > 0 {
		return fmt.Sprintf("%d timed + %d counted samples", r.N, r.Counted)
	}
	return fmt.Sprintf("%d samples", r.N)
}

func groupByWorkload(rows []Row) [][]Row {
	var out [][]Row
	idx := map[string]int{}
	for _, r := range rows {
		k := r.Workload + "\x00" + r.Params
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], r)
	}
	return out
}

func find(rows []Row, backend string) *Row {
	for i := range rows {
		if rows[i].Backend == backend {
			return &rows[i]
		}
	}
	return nil
}

// Nanos prints a duration given in nanoseconds with a fitting unit.
func Nanos(ns float64) string {
	switch {
	case ns <= 0:
		return "-"
	case ns < 1e3:
		return termsafe.Fixed(ns, 0) + "ns"
	case ns < 1e6:
		return termsafe.Fixed(ns/1e3, 1) + "µs"
	case ns < 1e9:
		return termsafe.Fixed(ns/1e6, 2) + "ms"
	}
	return termsafe.Fixed(ns/1e9, 2) + "s"
}

func humanRate(v float64) string {
	switch {
	case v >= 1e6:
		return termsafe.Fixed(v/1e6, 2) + "M"
	case v >= 1e3:
		return termsafe.Fixed(v/1e3, 1) + "k"
	}
	return termsafe.Fixed(v, 0)
}

func perOp(v float64) string {
	if v < 0 {
		return "n/a"
	}
	return termsafe.Fixed(v, 3)
}

func cpu(r Row) string {
	s := Nanos(r.CPUPerOp)
	if r.PollShare >= 0.005 {
		s += " (" + termsafe.Fixed(100*r.PollShare, 0) + "% sqpoll)"
	}
	return s
}

func residency(v float64) string {
	if v < 0 {
		return "n/a"
	}
	return termsafe.Fixed(100*v, 0) + "%"
}

// FileRows is Rows of f's samples, with the swept params of a sweep (result.Config.Sweep) first in each
// row's Params, in sweep order, so that the points of a sweep read apart at a glance.
func FileRows(f *result.File) []Row {
	rows := Rows(f.Samples)
	if len(f.Config.Sweep) == 0 {
		return rows
	}
	lead := make([]string, 0, len(f.Config.Sweep))
	for _, a := range f.Config.Sweep {
		lead = append(lead, a.Param)
	}
	// Rows keeps a series' params as ParamsString makes them; find each series' map again by that string.
	byString := map[string]map[string]string{}
	for _, s := range f.Samples {
		byString[result.ParamsString(s.Params)] = s.Params
	}
	for i := range rows {
		if p, ok := byString[rows[i].Params]; ok {
			rows[i].Params = sweptFirst(p, lead)
		}
	}
	return rows
}

// sweptFirst is ParamsString of p with the keys of lead first, in that order.
func sweptFirst(p map[string]string, lead []string) string {
	var parts []string
	rest := make(map[string]string, len(p))
	for k, v := range p {
		rest[k] = v
	}
	for _, k := range lead {
		if v, ok := rest[k]; ok {
			parts = append(parts, k+"="+v)
			delete(rest, k)
		}
	}
	if s := result.ParamsString(rest); s != "" {
		parts = append(parts, s)
	}
	return strings.Join(parts, "/")
}
