package report

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/series"
)

// Warning is a caveat the reader must see next to the figures.
type Warning struct {
	// Kind is a stable identifier: emulated, environment, few-samples, page-cache, sqpoll-core,
	// sqpoll-cpu, syscalls-unavailable, no-latency, interrupted, skipped, run, invalid (samples left out).
	Kind string
	// Workloads are the workloads it concerns (none = the whole report); their sections repeat it.
	Workloads []string
	Text      string
}

// MinSamples is the fewest samples per series at which a difference can be told from noise: benchstat's
// Mann-Whitney U test needs 4 per side at alpha 0.05 (and 6 for a 95% confidence interval).
const MinSamples = 4

// warnings derives the report's warnings from its inputs and series.
func warnings(r *Report) []Warning {
	var ws []Warning
	add := func(kind string, workloads []string, format string, args ...any) {
		ws = append(ws, Warning{Kind: kind, Workloads: workloads, Text: fmt.Sprintf(format, args...)})
	}

	for _, in := range r.Inputs {
		v := in.File.Env.Virt
		if v.Emulated || v.Accelerator == "tcg" {
			how := "an emulated CPU"
			if v.Accelerator != "" {
				how = "qemu " + strings.ToUpper(v.Accelerator)
			}
			add("emulated", nil, "%s comes from an emulated kernel (%s, kernel %s): emulation runs 20–30× slower "+
				"than native, so use its figures for features and correctness, never for performance.",
				in.Name, how, orUnknown(in.File.Env.Kernel.Release))
		}
	}

	if diff := fairnessDiffs(r); len(diff) > 0 {
		add("environment", nil, "The result files differ in %s: figures across them are not a fair comparison "+
			"(see Environment).", strings.Join(diff, ", "))
	}

	// One warning per kind, naming every series it concerns; each workload's section repeats it.
	var few []string
	var fewIn []string
	minN := math.MaxInt
	var lowCache []string
	var lowCacheIn []string
	lowest := 1.0
	var sqShared []string
	var sqSharedIn []string
	sqFiles := map[string]int{}
	var sqFileOrder []string
	var noPoll []string
	var noPollIn []string
	type scMissing struct {
		names, workloads []string
	}
	scByReason := map[string]*scMissing{}
	var scOrder []string
	var noHist []string
	var noHistIn []string
	for _, w := range r.Workloads {
		for _, s := range w.Series {
			name := w.Name + " " + s.Name()
			if n := figureSamples(&s.Series); n < MinSamples {
				few = append(few, name)
				fewIn = appendOnce(fewIn, w.Name)
				minN = min(minN, n)
			}
			if s.MinResidency >= 0 && s.MinResidency < 0.99 {
				lowCache = append(lowCache, name)
				lowCacheIn = appendOnce(lowCacheIn, w.Name)
				lowest = math.Min(lowest, s.MinResidency)
			}
			if isSQPoll(s) {
				for _, in := range r.Inputs {
					if !slices.Contains(s.Files, in.Path) {
						continue
					}
					if n := usableCPUs(in); n > 0 && n < 3 {
						sqShared = appendOnce(sqShared, name)
						sqSharedIn = appendOnce(sqSharedIn, w.Name)
						if _, ok := sqFiles[in.Name]; !ok {
							sqFileOrder = append(sqFileOrder, in.Name)
						}
						sqFiles[in.Name] = n
					}
				}
				if s.CPU != nil && s.CPU.Poll == 0 {
					noPoll = append(noPoll, name)
					noPollIn = appendOnce(noPollIn, w.Name)
				}
			}
			if s.Syscalls != nil && s.Syscalls.Missing > 0 {
				reason := s.Syscalls.Reason
				if reason == "" {
					reason = "no reason recorded"
				}
				m := scByReason[reason]
				if m == nil {
					m = &scMissing{}
					scByReason[reason] = m
					scOrder = append(scOrder, reason)
				}
				m.names = append(m.names, name)
				m.workloads = appendOnce(m.workloads, w.Name)
			}
			if s.Hist == nil {
				for _, smp := range s.Samples {
					if smp.Latency.Count > 0 && smp.Timed() {
						noHist = append(noHist, name)
						noHistIn = appendOnce(noHistIn, w.Name)
						break
					}
				}
			}
		}
	}
	if len(few) > 0 {
		add("few-samples", fewIn, "%s %s fewer than %d samples (fewest: %d): too few to tell a difference from "+
			"noise (benchstat needs %d per side at α=0.05, 6 for a 95%% CI); run with --count 6 or more.",
			listNames(few), plural(len(few), "has", "have"), MinSamples, minN, MinSamples)
	}
	if len(lowCache) > 0 {
		add("page-cache", lowCacheIn, "The data set was not fully resident in the page cache before or after "+
			"some samples of %s (lowest: %.0f%%): part of those runs read from disk, so they are not page-cache "+
			"figures (use --mlock).", listNames(lowCache), 100*lowest)
	}
	if len(sqShared) > 0 {
		var where []string
		for _, f := range sqFileOrder {
			where = append(where, fmt.Sprintf("%s: %d CPUs", f, sqFiles[f]))
		}
		add("sqpoll-core", sqSharedIn, "The SQPOLL poll thread had no core of its own (%s): it and the "+
			"submitting thread fight for CPU, so SQPOLL looks worse than on a machine with a spare core (%s). "+
			"Its CPU time is charged in the figures.", strings.Join(where, "; "), listNames(sqShared))
	}
	if len(noPoll) > 0 {
		add("sqpoll-cpu", noPollIn, "No CPU time was recorded for the SQPOLL poll thread of %s, so CPU per op "+
			"leaves out the thread doing the submissions.", listNames(noPoll))
	}
	for _, reason := range scOrder {
		m := scByReason[reason]
		add("syscalls-unavailable", m.workloads, "Syscall counting was unavailable for %s (%s): no syscalls "+
			"per op are shown for %s.", listNames(m.names), reason, plural(len(m.names), "it", "them"))
	}
	if len(noHist) > 0 {
		add("no-latency", noHistIn, "No latency histogram was stored for %s: no latency distribution is drawn.",
			listNames(noHist))
	}

	for _, in := range r.Inputs {
		f := in.File
		if f.Interrupted {
			add("interrupted", nil, "%s: the run was interrupted; its last series may have fewer samples than asked for.", in.Name)
		}
		for _, sk := range f.Skipped {
			what := sk.Backend
			if sk.Workload != "" {
				what = sk.Workload + " on " + sk.Backend
			}
			add("skipped", nonEmpty(sk.Workload), "%s: %s was not run: %s.", in.Name, what, strings.TrimSuffix(sk.Reason, "."))
		}
		// The run's own messages, except those that say what a derived warning already says (run warns
		// when SQPOLL shares a core, in the file and in every sample): the reader sees each fact once.
		repeats := func(w result.Warning) bool { return len(sqShared) > 0 && w.Kind == result.WarnSQPollSharedCPU }
		for _, w := range f.Warnings {
			if !repeats(w) {
				add("run", nil, "%s: %s", in.Name, w.Text)
			}
		}
		type sampleWarning struct{ workload, text string }
		counts := map[sampleWarning]int{}
		var order []sampleWarning
		for i := range f.Samples {
			for _, w := range f.Samples[i].Warnings {
				key := sampleWarning{f.Samples[i].Workload, w.Text}
				if repeats(w) {
					continue
				}
				if counts[key] == 0 {
					order = append(order, key)
				}
				counts[key]++
			}
		}
		for _, key := range order {
			times := ""
			if counts[key] > 1 {
				times = fmt.Sprintf(" (%d samples)", counts[key])
			}
			add("run", nonEmpty(key.workload), "%s: %s: %s%s", in.Name, key.workload, key.text, times)
		}
	}
	return ws
}

// warningTexts are the texts of ws.
func warningTexts(ws []result.Warning) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Text
	}
	return out
}

func isSQPoll(s *Series) bool {
	if s.Backend == "sqpoll" {
		return true
	}
	for _, smp := range s.Samples {
		if smp.CPU.PollThreadNs > 0 {
			return true
		}
	}
	return false
}

// usableCPUs is the number of CPUs the run could use: its affinity mask, else the logical count (0 = unknown).
func usableCPUs(in *Input) int {
	if n := countCPUList(in.File.Env.CPU.Affinity); n > 0 {
		return n
	}
	return in.File.Env.CPU.Logical
}

// countCPUList counts the CPUs in a list such as "0-3,8,10-11" (0 when it cannot be parsed).
func countCPUList(s string) int {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0
	}
	n := 0
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return 0
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return 0
			}
		}
		n += b - a + 1
	}
	return n
}

// fairnessDiffs names the environment fields that must match for a fair comparison and differ between
// inputs. The kernel is not one of them when the sets are kernels: it is then the variable under test.
func fairnessDiffs(r *Report) []string {
	if len(r.Inputs) < 2 {
		return nil
	}
	checks := []struct {
		name string
		get  func(in *Input) string
	}{
		{"CPU model", func(in *Input) string { return in.File.Env.CPU.Model }},
		{"CPU count", func(in *Input) string { return strconv.Itoa(usableCPUs(in)) }},
		{"virtualisation", func(in *Input) string {
			v := in.File.Env.Virt
			return fmt.Sprintf("%s/%s/%t", v.Hypervisor, v.Accelerator, v.Emulated)
		}},
		{"CPU governor", func(in *Input) string { return in.File.Env.CPU.Governor }},
		{"mitigations", func(in *Input) string { return mapString(in.File.Env.Mitigations) }},
		{"GOMAXPROCS", func(in *Input) string { return strconv.Itoa(in.File.Env.Go.GOMAXPROCS) }},
	}
	if r.SetBy != "kernel" {
		checks = append(checks, struct {
			name string
			get  func(in *Input) string
		}{"kernel", func(in *Input) string { return in.File.Env.Kernel.Release }})
	}
	var out []string
	for _, c := range checks {
		first := c.get(r.Inputs[0])
		for _, in := range r.Inputs[1:] {
			if c.get(in) != first {
				out = append(out, c.name)
				break
			}
		}
	}
	return out
}

func mapString(m map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		b.WriteString(k + "=" + m[k] + "\n")
	}
	return b.String()
}

func listNames(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	if len(names) > 6 {
		return fmt.Sprintf("%s and %d more", strings.Join(names[:5], ", "), len(names)-5)
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// figureSamples is how many values each figure of a series has: timed and counted samples each give half
// the figures (series.Measures), so the fewer of the two kinds present counts.
func figureSamples(s *series.Series) int {
	n := len(s.Samples)
	if t := len(s.Timed()); t > 0 && t < n {
		n = t
	}
	if c := len(s.Counted()); c > 0 && c < n {
		n = c
	}
	return n
}
