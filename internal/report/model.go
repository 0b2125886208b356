package report

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/series"
)

// Report is everything the renderers draw: aggregates per series, grouped by workload, and warnings.
type Report struct {
	Inputs []*Input
	// Sets are the series sets in order of first appearance: one per label when files are labelled, one per
	// kernel when kernels differ, else a single unnamed set.
	Sets []string
	// SetBy says what the sets are: "label", "kernel" or "" (one set).
	SetBy     string
	Workloads []*Workload
	Warnings  []Warning
	// Sweeps are the workloads' swept parameters (run --batch 1,2,4 and the like), for the Sweeps section.
	Sweeps []*Sweep
	// SweepsLeftOut says which sweep charts RenderCharts left out, past the bounds in limits.go.
	SweepsLeftOut []string
}

// Name is the series' display name: the variant, and the set when there are several.
func (s *Series) Name() string {
	if s.Set == "" {
		return s.Variant
	}
	return s.Variant + " · " + s.Set
}

// MultiSet reports whether there is more than one set, so that charts draw one series per set.
func (r *Report) MultiSet() bool { return len(r.Sets) > 1 }

// Workload groups the series of one workload.
type Workload struct {
	Name string
	// Variants are the distinct backend (+ varying params) names, in display order.
	Variants []string
	// Series are ordered by variant, then set.
	Series []*Series
	// Unit is what one op of this workload is ("read", "file", "request" or "op").
	Unit string
}

// SeriesFor finds the series of a variant in a set (nil if absent).
func (w *Workload) SeriesFor(variant, set string) *Series {
	for _, s := range w.Series {
		if s.Variant == variant && s.Set == set {
			return s
		}
	}
	return nil
}

// Spread summarises one figure across the samples of a series.
type Spread = series.Spread

// Series is one workload on one backend (with one set of varying params) in one set.
type Series struct {
	// Series holds the workload, backend, params, set, samples and files.
	series.Series
	// VaryingParams are the params that distinguish this series from others of the same backend.
	VaryingParams map[string]string
	Variant       string // backend plus varying params, e.g. "uring conns=16"

	OpsPerSec Spread
	// Metrics holds the median (and range) of every catalogue metric the samples have, by metric name.
	Metrics map[string]Spread

	// Hist is the merge of every sample's latency histogram; nil when none was stored.
	Hist *hdrhistogram.Histogram
	// HistSamples counts the samples whose histogram was merged.
	HistSamples int
	Corrected   bool

	// Syscalls per op, pooled over samples (sum of counts / sum of ops); nil when no sample could count.
	Syscalls *SyscallAgg
	// CPU per op, pooled; nil when no sample has ops.
	CPU *CPUAgg
	// Memory per idle connection; nil when no sample measured it.
	Memory *MemAgg
	// Timeline is the series over time (run --interval), from its timed samples; nil when none has one.
	Timeline []TimePoint
	// MinResidency is the lowest page-cache residency seen before or after a sample (-1 = not measured).
	MinResidency float64
	Locked       bool
}

// SyscallAgg is syscalls per op with its breakdown by syscall.
type SyscallAgg struct {
	PerOp       float64            // median of the samples' per-op figures
	Pooled      float64            // total syscalls / total ops
	ByNamePerOp map[string]float64 // pooled, sums to Pooled (names not broken down go to "other")
	Scope       string
	Samples     int // samples that could count
	Missing     int // samples where counting was unavailable
	Reason      string
}

// CPUAgg is CPU time per op split by where it was spent, pooled over samples (ns per op).
type CPUAgg struct {
	User, Sys, Poll, Worker float64 // Sys excludes Poll and Worker
	Total                   float64
	Median                  float64 // median of the samples' own per-op figures
	Scope                   string
}

// MemAgg is memory per idle connection.
type MemAgg struct {
	IdleConns int
	RSS       Spread // bytes per connection
	Slab      *Spread
}

// Build groups the samples of every input into series and computes their aggregates and the warnings.
// It fails (with ErrInput) only on data it cannot use, naming the file.
func Build(inputs []*Input) (*Report, error) {
	r := &Report{Inputs: inputs}
	assignSets(r)

	var sources []series.Source
	var displays []result.Display
	var excluded series.Excluded
	for _, in := range inputs {
		valid, ex := series.Valid(in.File.Samples)
		excluded = excluded.Add(ex)
		sources = append(sources, series.Source{Set: in.Set, File: in.Path, Samples: valid})
		displays = append(displays, in.File.Display)
	}
	groups := series.Group(sources...)
	if err := checkGroups(groups); err != nil {
		return nil, err
	}
	order := series.NewOrder(displays...)

	// Params that vary among the samples of one workload and backend name the variants.
	varying := map[[2]string]map[string]bool{} // (workload, backend) -> param keys that vary
	{
		vals := map[[2]string]map[string]map[string]bool{}
		for _, g := range groups {
			wb := [2]string{g.Workload, g.Backend}
			if vals[wb] == nil {
				vals[wb] = map[string]map[string]bool{}
			}
			for pk := range g.Params {
				if vals[wb][pk] == nil {
					vals[wb][pk] = map[string]bool{}
				}
			}
		}
		for _, g := range groups {
			wb := [2]string{g.Workload, g.Backend}
			for pk := range vals[wb] {
				vals[wb][pk][g.Params[pk]] = true
			}
		}
		for wb, m := range vals {
			varying[wb] = map[string]bool{}
			for pk, vs := range m {
				if len(vs) > 1 {
					varying[wb][pk] = true
				}
			}
		}
	}

	hists := map[*result.Sample]*hdrhistogram.Histogram{}
	for _, in := range inputs {
		for i := range in.File.Samples {
			if i < len(in.hists) && in.hists[i] != nil {
				hists[&in.File.Samples[i]] = in.hists[i]
			}
		}
	}
	byWorkload := map[string]*Workload{}
	for _, g := range groups {
		vp := map[string]string{}
		for pk := range varying[[2]string{g.Workload, g.Backend}] {
			vp[pk] = g.Params[pk]
		}
		s := &Series{Series: *g, VaryingParams: vp, Variant: variantName(g.Backend, vp)}
		if err := aggregate(s, hists); err != nil {
			return nil, err
		}
		w := byWorkload[g.Workload]
		if w == nil {
			w = &Workload{Name: g.Workload, Unit: order.Op(g.Workload)}
			byWorkload[g.Workload] = w
			r.Workloads = append(r.Workloads, w)
		}
		w.Series = append(w.Series, s)
	}
	sort.SliceStable(r.Workloads, func(i, j int) bool {
		return order.LessWorkload(r.Workloads[i].Name, r.Workloads[j].Name)
	})
	setRank := map[string]int{}
	for i, s := range r.Sets {
		setRank[s] = i
	}
	for _, w := range r.Workloads {
		sort.SliceStable(w.Series, func(i, j int) bool {
			a, b := w.Series[i], w.Series[j]
			if c := series.CompareParams(a.VaryingParams, b.VaryingParams); c != 0 {
				return c < 0
			}
			if a.Backend != b.Backend {
				return order.Less(a.Backend, b.Backend)
			}
			return setRank[a.Set] < setRank[b.Set]
		})
		seen := map[string]bool{}
		for _, s := range w.Series {
			if !seen[s.Variant] {
				seen[s.Variant] = true
				w.Variants = append(w.Variants, s.Variant)
			}
		}
	}
	r.Sweeps = findSweeps(r)
	r.Warnings = warnings(r)
	if line := excluded.Line(); line != "" {
		r.Warnings = append(r.Warnings, Warning{Kind: "invalid", Text: "Left out: " + line + "."})
	}
	return r, nil
}

// assignSets decides what distinguishes the series sets: labels if any file has one, else the kernel
// (with its accelerator when emulated) if kernels differ, else nothing.
func assignSets(r *Report) {
	labelled := false
	for _, in := range r.Inputs {
		if in.File.Label != "" {
			labelled = true
		}
	}
	name := func(in *Input) string { return "" }
	switch {
	case labelled:
		r.SetBy = "label"
		name = func(in *Input) string {
			if in.File.Label != "" {
				return in.File.Label
			}
			return strings.TrimSuffix(in.Name, filepath.Ext(in.Name))
		}
	default:
		kernels := map[string]bool{}
		for _, in := range r.Inputs {
			kernels[kernelKey(in.File)] = true
		}
		if len(kernels) > 1 {
			r.SetBy = "kernel"
			short := shortKernelNames(r.Inputs)
			name = func(in *Input) string { return short[kernelKey(in.File)] }
		}
	}
	seen := map[string]bool{}
	for _, in := range r.Inputs {
		in.Set = name(in)
		if !seen[in.Set] {
			seen[in.Set] = true
			r.Sets = append(r.Sets, in.Set)
		}
	}
}

// kernelKey identifies a kernel environment: the release, plus the accelerator when it was emulated
// (a TCG run of a kernel is not comparable with a native run of the same kernel).
func kernelKey(f *result.File) string {
	k := f.Env.Kernel.Release
	if k == "" {
		k = "unknown kernel"
	}
	if v := f.Env.Virt; v.Emulated || v.Accelerator == "tcg" {
		acc := v.Accelerator
		if acc == "" {
			acc = "emulated"
		}
		k += " (" + acc + ")"
	}
	return k
}

// shortKernelNames maps each kernel key to a short display name ("6.12.38" for "6.12.38+deb13-cloud-amd64"),
// falling back to the full key where the short forms would collide.
func shortKernelNames(inputs []*Input) map[string]string {
	shortOf := func(key string) string {
		rel, suffix, _ := strings.Cut(key, " (")
		if i := strings.IndexAny(rel, "-+"); i > 0 {
			rel = rel[:i]
		}
		if suffix != "" {
			rel += " (" + suffix
		}
		return rel
	}
	keys := map[string]bool{}
	for _, in := range inputs {
		keys[kernelKey(in.File)] = true
	}
	count := map[string]int{}
	for k := range keys {
		count[shortOf(k)]++
	}
	out := map[string]string{}
	for k := range keys {
		if s := shortOf(k); count[s] == 1 {
			out[k] = s
		} else {
			out[k] = k
		}
	}
	return out
}

// variantName is the backend plus its varying params, e.g. "uring conns=16".
func variantName(backend string, vp map[string]string) string {
	if len(vp) == 0 {
		return backend
	}
	return backend + " " + strings.ReplaceAll(result.ParamsString(vp), "/", " ")
}

// aggregate computes a series' aggregates from its samples.
// hists holds histograms already decoded by LoadFiles; others are decoded here.
func aggregate(s *Series, hists map[*result.Sample]*hdrhistogram.Histogram) error {
	s.Metrics = map[string]Spread{}
	for _, m := range result.Metrics {
		if vals := s.Values(series.Of(m)); len(vals) > 0 {
			s.Metrics[m.Name] = series.NewSpread(vals)
		}
	}
	s.OpsPerSec = s.Metrics["ops/s"]
	s.Timeline = timeline(s.Timed())

	// Latency: merge histograms, never average percentiles. Timing figures come from timed samples only,
	// syscall figures from counted ones (series.Measures).
	for _, smp := range s.Samples {
		if smp.Latency.Histogram == "" || !smp.Timed() {
			continue
		}
		h := hists[smp]
		if h == nil {
			var err error
			if h, err = result.DecodeHistogram(smp.Latency.Histogram); err != nil {
				return inputError(fmt.Errorf("%s: %s: %v", strings.Join(s.Files, ", "), s.Workload+"/"+s.Backend, err))
			}
		}
		if s.Hist == nil {
			s.Hist = result.NewHistogram()
		}
		s.Hist.Merge(h)
		s.HistSamples++
		s.Corrected = s.Corrected || smp.Latency.Corrected
	}
	if s.Hist != nil && s.Hist.TotalCount() == 0 {
		s.Hist = nil
	}

	// Syscalls, pooled.
	var sc SyscallAgg
	var perOp []float64
	var ops, total float64
	byName := map[string]float64{}
	for _, smp := range s.Samples {
		if !smp.Counted() {
			continue
		}
		if !smp.Syscalls.Available {
			sc.Missing++
			if sc.Reason == "" {
				sc.Reason = smp.Syscalls.Reason
			}
			continue
		}
		if smp.Ops <= 0 {
			continue
		}
		sc.Samples++
		// The I/O thread's count where it was taken apart, as the syscalls/op metric has it.
		sc.Scope = smp.Syscalls.Scope
		count := result.SyscallCount{Total: smp.Syscalls.Total, PerOp: smp.Syscalls.PerOp, ByName: smp.Syscalls.ByName}
		if b := smp.Syscalls.Backend; b != nil {
			sc.Scope, count = "I/O thread", *b
		}
		perOp = append(perOp, count.PerOp)
		ops += float64(smp.Ops)
		total += float64(count.Total)
		var named uint64
		for n, c := range count.ByName {
			if n == "other" {
				continue
			}
			byName[n] += float64(c)
			named += c
		}
		if named < count.Total {
			byName["other"] += float64(count.Total - named)
		}
	}
	if sc.Samples > 0 && ops > 0 {
		sc.PerOp = series.NewSpread(perOp).Median
		sc.Pooled = total / ops
		sc.ByNamePerOp = map[string]float64{}
		for n, c := range byName {
			if c > 0 {
				sc.ByNamePerOp[n] = c / ops
			}
		}
		s.Syscalls = &sc
	} else if sc.Missing > 0 {
		s.Syscalls = &SyscallAgg{Missing: sc.Missing, Reason: sc.Reason}
	}

	// CPU, pooled.
	var cpu CPUAgg
	var cpuOps float64
	var user, sys, poll, worker float64
	var cpuPer []float64
	for _, smp := range s.Samples {
		if smp.Ops <= 0 || smp.CPU.UserNs+smp.CPU.SysNs == 0 || !smp.Timed() {
			continue
		}
		cpuOps += float64(smp.Ops)
		user += float64(smp.CPU.UserNs)
		p, w := smp.CPU.PollThreadNs, smp.CPU.WorkerNs
		k := smp.CPU.SysNs
		// Poll thread and worker time are included in SysNs; guard against files where they are not.
		if p+w <= k {
			k -= p + w
		} else {
			k = 0
		}
		sys += float64(k)
		poll += float64(p)
		worker += float64(w)
		cpu.Scope = smp.CPU.Scope
		if smp.CPU.PerOpNs > 0 {
			cpuPer = append(cpuPer, smp.CPU.PerOpNs)
		}
	}
	if cpuOps > 0 {
		cpu.User, cpu.Sys, cpu.Poll, cpu.Worker = user/cpuOps, sys/cpuOps, poll/cpuOps, worker/cpuOps
		cpu.Total = cpu.User + cpu.Sys + cpu.Poll + cpu.Worker
		cpu.Median = series.NewSpread(cpuPer).Median
		s.CPU = &cpu
	}

	// Memory per idle connection.
	var rss, slab []float64
	conns := 0
	for _, smp := range s.Samples {
		if smp.Memory == nil {
			continue
		}
		rss = append(rss, smp.Memory.RSSPerConnBytes)
		if smp.Memory.SlabPerConnBytes != nil {
			slab = append(slab, *smp.Memory.SlabPerConnBytes)
		}
		conns = max(conns, smp.Memory.IdleConns)
	}
	if len(rss) > 0 {
		s.Memory = &MemAgg{IdleConns: conns, RSS: series.NewSpread(rss)}
		if len(slab) > 0 {
			sp := series.NewSpread(slab)
			s.Memory.Slab = &sp
		}
	}

	s.MinResidency = -1
	for _, smp := range s.Samples {
		if smp.Residency == nil {
			continue
		}
		lo := math.Min(smp.Residency.Before, smp.Residency.After)
		if s.MinResidency < 0 || lo < s.MinResidency {
			s.MinResidency = lo
		}
		s.Locked = s.Locked || smp.Residency.Locked
	}
	return nil
}

// Quantiles is wrk2's percentile set, as fractions.
var Quantiles = []float64{0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 0.99999, 1}

// LatencyAt returns the latency in ns at quantile q (0..1) of the merged histogram, and false when the
// series has no histogram.
func (s *Series) LatencyAt(q float64) (float64, bool) {
	if s.Hist == nil {
		return 0, false
	}
	if q >= 1 {
		return float64(s.Hist.Max()), true
	}
	return float64(s.Hist.ValueAtQuantile(q * 100)), true
}
