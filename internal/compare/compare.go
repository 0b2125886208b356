// Package compare holds the statistics and verdicts of `ringbench compare`, apart from rendering, in the way
// benchstat keeps golang.org/x/perf/benchmath apart from its tables.
//
// Result files are grouped into sets (files sharing a label are pooled; an unlabelled file is a set of its
// own). The first set is the baseline; every other set is compared with it, series by series
// (workload, backend, params, grouped by internal/series) and metric by metric. Each metric's values come
// only from the samples that measure it truly (series.Of): timing figures from timed samples, syscall
// figures from counted ones.
//
// Two rules give verdicts:
//
//   - Statistical metrics (throughput, latency, CPU per op ...): median with a 95% confidence interval and the
//     Mann-Whitney U test from golang.org/x/perf/benchmath. A regression needs both: the change is significant
//     after the Holm-Bonferroni correction over every U-test of the invocation at level Alpha, and the median
//     moved in the worse direction by more than the metric's threshold. At least MinSamples values per side
//     are needed; with fewer there is a warning and no verdict.
//
//   - Nearly deterministic metrics (syscalls/op, the I/O thread's count; enters/op): the ordering rule. A
//     regression when every new value is worse than every baseline value by more than the threshold (relative to the worst baseline
//     value) and by more than MinAbsChange (absolute). It needs MinSamplesOrdering values per side. Under the
//     null hypothesis of identical distributions, all new values land beyond all baseline values by chance with
//     probability 1/C(n1+n2, n1) (1/20 at 3+3, 1/924 at 6+6) even before the margin is asked for, and the margin
//     makes noise alone practically unable to fire it; these comparisons are not part of the Holm family.
//
// The package is internal on purpose, as report is: its API is made of internal/result and
// internal/fingerprint types. Programs that want ringbench's figures read the result file (a versioned JSON
// schema) or `ringbench compare --format json`, not Go types that change with the schema.
package compare

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/perf/benchmath"

	"github.com/ringbench/ringbench/internal/fingerprint"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/series"
)

// Defaults and limits of the rules.
const (
	DefaultThreshold    = 0.05
	DefaultAlpha        = 0.05
	DefaultMinAbsChange = 0.01
	// GateMinAbsChange is the absolute margin of the CI gate (scripts/ci-regression.sh): syscalls/op is the
	// I/O thread's, whose spread between runs is well under 0.005, so one more syscall per 100 ops shows.
	GateMinAbsChange = 0.005
	Confidence       = 0.95
	// MinSamples is the fewest values per side for a U-test verdict: with 3+3 the smallest possible
	// p-value is 0.1, so no difference could ever be significant at 0.05.
	MinSamples = 4
	// MinSamplesOrdering is the fewest values per side for the ordering rule.
	MinSamplesOrdering = 3
)

// Rule names, as written in reports.
const (
	RuleUTest    = "u-test"
	RuleOrdering = "ordering"
)

// Verdict is the outcome of one comparison.
type Verdict string

// The verdicts.
const (
	Regression  Verdict = "regression"
	Improvement Verdict = "improvement"
	NoChange    Verdict = "~"          // not significant, or within the threshold
	NoVerdict   Verdict = "no-verdict" // too few samples, or the metric is missing on one side
)

// ErrUsage marks an error in what the caller asked for (unknown metric, bad threshold, too few sets).
var ErrUsage = errors.New("usage")

// Options configure a comparison; start from DefaultOptions.
type Options struct {
	// Threshold is the smallest relative change in the worse direction that counts as a regression (0.05 = 5%).
	Threshold float64
	// MetricThresholds override Threshold by metric name.
	MetricThresholds map[string]float64
	// Metrics restricts the comparison to these metric names; empty means every metric in the catalogue.
	Metrics []string
	// Alpha is the family-wise error rate of the U-tests (Holm-Bonferroni).
	Alpha float64
	// MinAbsChange is the absolute margin the ordering rule also needs (deterministic metrics only).
	MinAbsChange float64
	// NoCorrection turns the Holm-Bonferroni correction off (for tests and for explaining a verdict).
	NoCorrection bool
}

// DefaultOptions are the options `ringbench compare` starts from.
func DefaultOptions() Options {
	return Options{Threshold: DefaultThreshold, Alpha: DefaultAlpha, MinAbsChange: DefaultMinAbsChange}
}

// Set is one column of a comparison: the pooled samples of one file, or of every file sharing a label.
type Set struct {
	Name   string   // the label, or the file name
	Label  string   // "" for an unlabelled file
	Files  []string // paths as given
	Kernel string   // kernel release; "" unknown; "mixed" when pooled files differ
	Env    fingerprint.Fingerprint
	// Envs are the fingerprints of every file, in Files order.
	Envs    []fingerprint.Fingerprint
	Samples []result.Sample
	// Warnings about the files (interrupted runs, skipped backends).
	Warnings []string
}

// GroupBy says how files become sets.
type GroupBy int

// The groupings.
const (
	ByLabel GroupBy = iota // files sharing a non-empty label are pooled
	ByFile                 // every file is a set of its own
)

// NewSets groups loaded files into sets, in order of first appearance; the set holding the first file is the
// baseline. paths and files are parallel.
func NewSets(paths []string, files []*result.File, by GroupBy) ([]*Set, error) {
	if len(paths) != len(files) {
		return nil, fmt.Errorf("compare: %d paths for %d files", len(paths), len(files))
	}
	var sets []*Set
	byLabel := map[string]*Set{}
	baseCount := map[string]int{}
	for _, p := range paths {
		baseCount[filepath.Base(p)]++
	}
	for i, f := range files {
		p := paths[i]
		var s *Set
		if by == ByLabel && f.Label != "" {
			s = byLabel[f.Label]
			if s == nil {
				s = &Set{Name: f.Label, Label: f.Label}
				byLabel[f.Label] = s
				sets = append(sets, s)
			}
		} else {
			name := filepath.Base(p)
			if baseCount[name] > 1 {
				name = p
			}
			s = &Set{Name: name, Label: f.Label}
			sets = append(sets, s)
		}
		if len(s.Files) == 0 {
			s.Env = f.Env
			s.Kernel = f.Env.Kernel.Release
		} else if s.Kernel != f.Env.Kernel.Release {
			s.Kernel = "mixed"
		}
		s.Files = append(s.Files, p)
		s.Envs = append(s.Envs, f.Env)
		s.Samples = append(s.Samples, f.Samples...)
		name := filepath.Base(p)
		if f.Interrupted {
			s.Warnings = append(s.Warnings, name+": the run was interrupted; its samples may be incomplete")
		}
		for _, sk := range f.Skipped {
			what := sk.Backend
			if sk.Workload != "" {
				what = sk.Workload + "/" + sk.Backend
			}
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s: %s was skipped: %s", name, what, oneLine(sk.Reason)))
		}
	}
	if len(sets) < 2 {
		if len(files) >= 2 {
			return nil, fmt.Errorf("every file carries label %q, so there is only one set to compare (compare files one by one with --group-by file): %w",
				sets[0].Name, ErrUsage)
		}
		return nil, fmt.Errorf("need a baseline and at least one more result file to compare: %w", ErrUsage)
	}
	return sets, nil
}

// Summary is the median of one side of a comparison with its confidence interval.
type Summary struct {
	N      int       `json:"n"`
	Median float64   `json:"median"`
	Lo     float64   `json:"ci_lo"` // may be -Inf/+Inf in memory; written as null
	Hi     float64   `json:"ci_hi"`
	Values []float64 `json:"values,omitempty"`
	// CI is the half-width of the confidence interval in percent of the median, as benchstat prints it
	// ("2%", "∞" when there are too few values, "?" when it cannot be a percentage).
	CI string `json:"ci"`
}

// Cell is the comparison of one column with the baseline, for one row.
type Cell struct {
	Column  int     `json:"column"` // index into Report.Columns
	Missing bool    `json:"missing,omitempty"`
	New     Summary `json:"new"`
	// Change is new median / baseline median - 1; nil when undefined (baseline median 0 and new median not).
	Change *float64 `json:"change,omitempty"`
	// P is the raw two-sided Mann-Whitney U p-value (nil without one); PAdjusted is Holm-adjusted, only for
	// comparisons in the Holm family.
	P         *float64 `json:"p,omitempty"`
	PAdjusted *float64 `json:"p_adjusted,omitempty"`
	Rule      string   `json:"rule"`
	Verdict   Verdict  `json:"verdict"`
	Reason    string   `json:"reason,omitempty"`
}

// Row is one (metric, series) with the baseline and one cell per other column.
type Row struct {
	Metric         string            `json:"metric"`
	Unit           string            `json:"unit"`
	HigherIsBetter bool              `json:"higher_is_better"`
	Deterministic  bool              `json:"deterministic"`
	Threshold      float64           `json:"threshold"`
	Series         string            `json:"series"`
	Workload       string            `json:"workload"`
	Backend        string            `json:"backend"`
	Params         map[string]string `json:"params,omitempty"`
	Base           Summary           `json:"base"`
	Cells          []Cell            `json:"cells"`
}

// Column describes one set in a report; column 0 is the baseline.
type Column struct {
	Name   string   `json:"name"`
	Label  string   `json:"label,omitempty"`
	Files  []string `json:"files"`
	Kernel string   `json:"kernel,omitempty"`
}

// Report is the outcome of one comparison: everything a renderer needs.
type Report struct {
	Columns []Column `json:"columns"`
	// KernelColumns is true when the columns differ in kernel release: renderers name kernels in headers.
	KernelColumns bool `json:"kernel_columns"`
	// KernelOnly is true when the fingerprints differ in nothing that matters but the kernel.
	KernelOnly bool `json:"kernel_only"`

	Alpha            float64            `json:"alpha"`
	Confidence       float64            `json:"confidence"`
	Threshold        float64            `json:"threshold"`
	MetricThresholds map[string]float64 `json:"metric_thresholds,omitempty"`
	MinAbsChange     float64            `json:"min_abs_change"`
	Correction       string             `json:"correction"`  // "holm-bonferroni" or "none"
	Comparisons      int                `json:"comparisons"` // size of the Holm family (U-tests)
	OrderingTests    int                `json:"ordering_comparisons"`
	FalseAlarms      string             `json:"false_alarms"`
	OrderingRule     string             `json:"ordering_rule"`

	Rows     []Row    `json:"rows"`
	Warnings []string `json:"warnings,omitempty"`
	// DeadGate is true when no U-test of the report could be significant, whatever the data: too few
	// samples for the number of comparisons.
	DeadGate bool `json:"dead_gate,omitempty"`
	// AbsentMetrics are metrics asked for by name (Options.Metrics) that no series has on both sides.
	AbsentMetrics []string `json:"absent_metrics,omitempty"`
	// Mismatches are fingerprint differences that were allowed (--allow-mismatch).
	Mismatches []string `json:"mismatches,omitempty"`

	Regressions  int `json:"regressions"`
	Improvements int `json:"improvements"`
	Unchanged    int `json:"unchanged"`
	NoVerdicts   int `json:"no_verdicts"`
}

// Compare compares every set after the first with the first.
func Compare(sets []*Set, opt Options) (*Report, error) {
	if len(sets) < 2 {
		return nil, fmt.Errorf("need a baseline and at least one more set to compare: %w", ErrUsage)
	}
	if err := validate(opt); err != nil {
		return nil, err
	}
	metrics := result.Metrics
	if len(opt.Metrics) > 0 {
		metrics = nil
		for _, name := range opt.Metrics {
			m, _ := result.MetricByName(name)
			metrics = append(metrics, m)
		}
	}

	rep := &Report{
		Alpha:            opt.Alpha,
		Confidence:       Confidence,
		Threshold:        opt.Threshold,
		MetricThresholds: opt.MetricThresholds,
		MinAbsChange:     opt.MinAbsChange,
		Correction:       "holm-bonferroni",
	}
	if opt.NoCorrection {
		rep.Correction = "none"
	}
	for _, s := range sets {
		rep.Columns = append(rep.Columns, Column{Name: s.Name, Label: s.Label, Files: s.Files, Kernel: s.Kernel})
		rep.Warnings = append(rep.Warnings, s.Warnings...)
	}
	rep.KernelColumns = kernelsDiffer(sets)
	rep.KernelOnly = rep.KernelColumns && len(sets[0].Envs) > 0 && onlyKernelDiffers(sets)

	// Series in the order the baseline has them; series only in other columns are reported, not compared.
	base := sets[0]
	valid := validSamples(sets, rep)
	baseSeries := series.Samples(valid[0])
	baseBy := series.ByName(baseSeries)
	others := make([]map[string]*series.Series, len(sets))
	for j := 1; j < len(sets); j++ {
		ss := series.Samples(valid[j])
		by := series.ByName(ss)
		others[j] = by
		for _, s := range ss {
			if k := s.Key().Name(); baseBy[k] == nil {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("series %s is in %s but not in the baseline %s: not compared", k, sets[j].Name, base.Name))
			}
		}
		for _, s := range baseSeries {
			if k := s.Key().Name(); by[k] == nil {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("series %s is in the baseline %s but not in %s: no verdict", k, base.Name, sets[j].Name))
			}
		}
	}

	thresholds := thresholdFor(opt)
	summaryWarnings := map[string]bool{}
	for _, m := range metrics {
		for _, bs := range baseSeries {
			key := bs.Key().Name()
			bv := bs.Values(series.Of(m))
			anyOther := false
			for j := 1; j < len(sets); j++ {
				if len(others[j][key].Values(series.Of(m))) > 0 {
					anyOther = true
				}
			}
			if len(bv) == 0 {
				if anyOther {
					rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s of %s is missing in the baseline %s: not compared", m.Name, key, base.Name))
				}
				continue
			}
			row := Row{
				Metric: m.Name, Unit: m.Unit, HigherIsBetter: m.HigherIsBetter, Deterministic: m.Deterministic,
				Threshold: thresholds(m.Name), Series: key, Workload: bs.Workload, Backend: bs.Backend,
				Params: bs.Params, Base: summarize(bv, summaryWarnings),
			}
			for j := 1; j < len(sets); j++ {
				nv := others[j][key].Values(series.Of(m))
				cell := Cell{Column: j}
				if len(nv) == 0 {
					cell.Missing = true
					cell.Verdict = NoVerdict
					cell.Rule = ruleOf(m)
					cell.Reason = "missing in " + sets[j].Name
					if others[j][key] != nil {
						rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s of %s is in the baseline %s but not in %s: no verdict", m.Name, key, base.Name, sets[j].Name))
					}
					row.Cells = append(row.Cells, cell)
					continue
				}
				cell.New = summarize(nv, summaryWarnings)
				row.Cells = append(row.Cells, judge(m, row.Threshold, bv, nv, cell, opt))
			}
			rep.Rows = append(rep.Rows, row)
		}
	}
	if len(opt.Metrics) > 0 {
		have := map[string]bool{}
		for _, row := range rep.Rows {
			have[row.Metric] = true
		}
		for _, m := range metrics {
			if !have[m.Name] {
				rep.AbsentMetrics = append(rep.AbsentMetrics, m.Name)
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s was asked for but the baseline has it in no series: nothing to gate", m.Name))
			}
		}
	}
	var sw []string
	for w := range summaryWarnings {
		sw = append(sw, w)
	}
	sort.Strings(sw)
	rep.Warnings = append(rep.Warnings, sw...)

	rep.applyHolm(opt)
	rep.count()
	var few []string
	for _, row := range rep.Rows {
		for _, c := range row.Cells {
			if c.Verdict == NoVerdict && !c.Missing {
				few = append(few, fmt.Sprintf("%s %s (%s)", row.Metric, row.Series, sizes(row.Base.N, c.New.N)))
			}
		}
	}
	if len(few) > 0 {
		ex := strings.Join(few[:min(3, len(few))], ", ")
		if len(few) > 3 {
			ex += ", ..."
		}
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s too few values for a verdict (the U-test needs %d per side, the ordering rule %d): %s",
			plural(len(few), "comparison has", "comparisons have"), MinSamples, MinSamplesOrdering, ex))
	}
	rep.FalseAlarms = rep.falseAlarmLine()
	rep.OrderingRule = rep.orderingRuleLine()
	return rep, nil
}

func ruleOf(m result.Metric) string {
	if m.Deterministic {
		return RuleOrdering
	}
	return RuleUTest
}

// judge fills in the verdict of one cell; U-test verdicts are provisional until applyHolm.
func judge(m result.Metric, threshold float64, bv, nv []float64, cell Cell, opt Options) Cell {
	cell.Rule = ruleOf(m)
	if ch, ok := change(series.Median(bv), series.Median(nv)); ok {
		cell.Change = &ch
	}
	if len(bv) >= 2 && len(nv) >= 2 {
		p := uTest(bv, nv)
		cell.P = &p
	}
	if m.Deterministic {
		if len(bv) < MinSamplesOrdering || len(nv) < MinSamplesOrdering {
			cell.Verdict = NoVerdict
			cell.Reason = fmt.Sprintf("n=%d+%d: the ordering rule needs %d values per side", len(bv), len(nv), MinSamplesOrdering)
			return cell
		}
		cell.Verdict, cell.Reason = ordering(bv, nv, m.HigherIsBetter, threshold, opt.MinAbsChange)
		return cell
	}
	if len(bv) < MinSamples || len(nv) < MinSamples {
		cell.Verdict = NoVerdict
		cell.Reason = fmt.Sprintf("n=%d+%d: need %d values per side for a verdict", len(bv), len(nv), MinSamples)
		return cell
	}
	// Significance is decided after the Holm correction; here only the effect size.
	cell.Verdict = NoChange
	return cell
}

// ordering is the rule for nearly deterministic metrics: every new value worse than every baseline value by
// more than threshold (relative to the worst baseline value) and by more than minAbs.
func ordering(bv, nv []float64, higherIsBetter bool, threshold, minAbs float64) (Verdict, string) {
	bmin, bmax := minMax(bv)
	nmin, nmax := minMax(nv)
	if !higherIsBetter {
		if nmin > bmax*(1+threshold) && nmin-bmax > minAbs {
			return Regression, fmt.Sprintf("every new value (min %s) is above every baseline value (max %s) by more than %s and %s",
				num(nmin), num(bmax), pct(threshold), gnum(minAbs))
		}
		if nmax < bmin*(1-threshold) && bmin-nmax > minAbs {
			return Improvement, fmt.Sprintf("every new value (max %s) is below every baseline value (min %s) by more than %s and %s",
				num(nmax), num(bmin), pct(threshold), gnum(minAbs))
		}
	} else {
		if nmax < bmin*(1-threshold) && bmin-nmax > minAbs {
			return Regression, fmt.Sprintf("every new value (max %s) is below every baseline value (min %s) by more than %s and %s",
				num(nmax), num(bmin), pct(threshold), gnum(minAbs))
		}
		if nmin > bmax*(1+threshold) && nmin-bmax > minAbs {
			return Improvement, fmt.Sprintf("every new value (min %s) is above every baseline value (max %s) by more than %s and %s",
				num(nmin), num(bmax), pct(threshold), gnum(minAbs))
		}
	}
	return NoChange, "the ranges overlap or differ by less than the threshold"
}

// applyHolm adjusts the p-values of every U-test in the report (Holm-Bonferroni step-down) and settles
// their verdicts: significant at Alpha after adjustment, and worse (better) by more than the threshold.
func (r *Report) applyHolm(opt Options) {
	type ref struct{ row, cell int }
	var fam []ref
	var ps []float64
	for i := range r.Rows {
		for k := range r.Rows[i].Cells {
			c := &r.Rows[i].Cells[k]
			if c.Rule == RuleUTest && !c.Missing && c.Verdict != NoVerdict {
				fam = append(fam, ref{i, k})
				ps = append(ps, *c.P)
			}
		}
		for k := range r.Rows[i].Cells {
			if r.Rows[i].Cells[k].Rule == RuleOrdering && r.Rows[i].Cells[k].Verdict != NoVerdict {
				r.OrderingTests++
			}
		}
	}
	r.Comparisons = len(fam)
	// A gate that cannot fire: no U-test's smallest possible p-value, 2/C(n1+n2, n1), passes Holm's first
	// step, alpha/m, so nothing can ever be significant with these sample sizes and this many comparisons.
	if len(fam) > 0 {
		bar := r.Alpha
		if !opt.NoCorrection {
			bar /= float64(len(fam))
		}
		possible := false
		for _, f := range fam {
			row := &r.Rows[f.row]
			if minP(row.Base.N, row.Cells[f.cell].New.N) <= bar {
				possible = true
				break
			}
		}
		if !possible {
			r.DeadGate = true
			r.Warnings = append(r.Warnings, fmt.Sprintf("no U-test can be significant: with these sample sizes the smallest possible p-value exceeds alpha/%d = %.2g; "+
				"take more samples (run --count) or compare fewer metrics (--metrics)", len(fam), bar))
		}
	}
	adj := ps
	if !opt.NoCorrection {
		adj = Holm(ps)
	}
	for n, f := range fam {
		row := &r.Rows[f.row]
		c := &row.Cells[f.cell]
		pa := adj[n]
		c.PAdjusted = &pa
		significant := pa <= r.Alpha
		switch {
		case !significant:
			c.Verdict = NoChange
			if *c.P <= r.Alpha && !opt.NoCorrection {
				c.Reason = fmt.Sprintf("p=%.3g is below %g but not after Holm-Bonferroni over %d comparisons (adjusted p=%.3g)", *c.P, r.Alpha, len(fam), pa)
			} else {
				c.Reason = "not significant"
			}
		case c.Change == nil:
			// Baseline median 0, new median not: an infinite relative change.
			worse := !row.HigherIsBetter
			if worse {
				c.Verdict, c.Reason = Regression, "significant; baseline median is 0"
			} else {
				c.Verdict, c.Reason = Improvement, "significant; baseline median is 0"
			}
		default:
			ch := *c.Change
			worse := (row.HigherIsBetter && ch < 0) || (!row.HigherIsBetter && ch > 0)
			if math.Abs(ch) <= row.Threshold {
				c.Verdict = NoChange
				c.Reason = fmt.Sprintf("significant but within the %s threshold", pct(row.Threshold))
			} else if worse {
				c.Verdict = Regression
				c.Reason = fmt.Sprintf("significant and worse than the %s threshold", pct(row.Threshold))
			} else {
				c.Verdict = Improvement
				c.Reason = fmt.Sprintf("significant and better by more than the %s threshold", pct(row.Threshold))
			}
		}
	}
}

func (r *Report) count() {
	for _, row := range r.Rows {
		for _, c := range row.Cells {
			switch c.Verdict {
			case Regression:
				r.Regressions++
			case Improvement:
				r.Improvements++
			case NoChange:
				r.Unchanged++
			default:
				r.NoVerdicts++
			}
		}
	}
}

func (r *Report) falseAlarmLine() string {
	if r.Correction == "none" {
		return fmt.Sprintf("false alarms: no correction over %d comparisons at alpha %g (each test on its own)", r.Comparisons, r.Alpha)
	}
	return fmt.Sprintf("false alarms: Holm-Bonferroni over %d comparisons at alpha %g", r.Comparisons, r.Alpha)
}

func (r *Report) orderingRuleLine() string {
	return fmt.Sprintf("deterministic metrics (syscalls/op, enters/op): regression only when every new value is worse than every baseline value "+
		"by more than the threshold and by more than %s absolute (needs %d values per side; %d such comparisons)",
		gnum(r.MinAbsChange), MinSamplesOrdering, r.OrderingTests)
}

// Regressed reports whether any comparison is a regression.
func (r *Report) Regressed() bool { return r.Regressions > 0 }

// validSamples is each set's valid samples (series.Valid); a warning per set says what was left out.
func validSamples(sets []*Set, rep *Report) [][]result.Sample {
	out := make([][]result.Sample, len(sets))
	for j, s := range sets {
		var ex series.Excluded
		out[j], ex = series.Valid(s.Samples)
		if line := ex.Line(); line != "" {
			rep.Warnings = append(rep.Warnings, s.Name+": "+line)
		}
	}
	return out
}

// TooFewSamples lists what --strict refuses: comparisons without a verdict, metrics asked for and found
// nowhere, and a comparison with nothing in common at all.
func (r *Report) TooFewSamples() []string {
	var out []string
	if len(r.Rows) == 0 {
		out = append(out, "no series and metric in common: nothing compared")
	}
	for _, m := range r.AbsentMetrics {
		out = append(out, m+" is in no series of the baseline")
	}
	if r.DeadGate {
		out = append(out, fmt.Sprintf("too few samples for any of the %d U-tests to be significant", r.Comparisons))
	}
	for _, row := range r.Rows {
		for _, c := range row.Cells {
			if c.Verdict == NoVerdict {
				out = append(out, fmt.Sprintf("%s %s in %s: %s", row.Metric, row.Series, r.Columns[c.Column].Name, c.Reason))
			}
		}
	}
	return out
}

// Holm returns Holm-Bonferroni adjusted p-values, in the order of ps: the i-th smallest p (1-based) is
// multiplied by m-i+1, made monotone, and capped at 1. Rejecting where the adjusted p <= alpha keeps the
// chance of any false alarm among the m tests at or below alpha.
func Holm(ps []float64) []float64 {
	m := len(ps)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return ps[idx[a]] < ps[idx[b]] })
	adj := make([]float64, m)
	running := 0.0
	for rank, i := range idx {
		v := math.Min(1, float64(m-rank)*ps[i])
		if v < running {
			v = running
		}
		running = v
		adj[i] = v
	}
	return adj
}

// minP is the smallest two-sided Mann-Whitney U p-value samples of sizes n1 and n2 can give: 2/C(n1+n2, n1).
func minP(n1, n2 int) float64 {
	// C(n1+n2, n1) through logarithms: exact enough, and no overflow.
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	return math.Min(1, 2*math.Exp(lg(n1)+lg(n2)-lg(n1+n2)))
}

// uTest is the two-sided Mann-Whitney U p-value from benchmath (1 when the test cannot be done, for example
// when every value on both sides is equal).
func uTest(a, b []float64) float64 {
	th := benchmath.DefaultThresholds
	s1 := benchmath.NewSample(append([]float64(nil), a...), &th)
	s2 := benchmath.NewSample(append([]float64(nil), b...), &th)
	return benchmath.AssumeNothing.Compare(s1, s2).P
}

// summarize is the benchmath median with its confidence interval; its warnings are collected into warn.
func summarize(v []float64, warn map[string]bool) Summary {
	th := benchmath.DefaultThresholds
	s := benchmath.NewSample(append([]float64(nil), v...), &th)
	sum := benchmath.AssumeNothing.Summary(s, Confidence)
	for _, w := range sum.Warnings {
		warn[w.Error()] = true
	}
	return Summary{N: len(v), Median: sum.Center, Lo: sum.Lo, Hi: sum.Hi, Values: s.Values, CI: sum.PctRangeString()}
}

// change is new/base - 1; ok is false when it is undefined (base 0, new not).
func change(base, new float64) (float64, bool) {
	if base == new {
		return 0, true
	}
	if base == 0 {
		return 0, false
	}
	return new/base - 1, true
}

func minMax(v []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range v {
		lo = math.Min(lo, x)
		hi = math.Max(hi, x)
	}
	return lo, hi
}

func thresholdFor(opt Options) func(string) float64 {
	return func(name string) float64 {
		if t, ok := opt.MetricThresholds[name]; ok {
			return t
		}
		return opt.Threshold
	}
}

func validate(opt Options) error {
	for _, name := range opt.Metrics {
		if _, ok := result.MetricByName(name); !ok {
			return fmt.Errorf("--metrics: unknown metric %q (known: %s): %w", name, MetricNames(), ErrUsage)
		}
	}
	for name, t := range opt.MetricThresholds {
		if _, ok := result.MetricByName(name); !ok {
			return fmt.Errorf("--metric-threshold: unknown metric %q (known: %s): %w", name, MetricNames(), ErrUsage)
		}
		if !(t >= 0) || math.IsInf(t, 0) {
			return fmt.Errorf("--metric-threshold: %s=%v is not a threshold: %w", name, t, ErrUsage)
		}
	}
	if !(opt.Threshold >= 0) || math.IsInf(opt.Threshold, 0) {
		return fmt.Errorf("--threshold: %v is not a threshold: %w", opt.Threshold, ErrUsage)
	}
	if !(opt.Alpha > 0 && opt.Alpha < 1) {
		return fmt.Errorf("--alpha: %v is not between 0 and 1: %w", opt.Alpha, ErrUsage)
	}
	if !(opt.MinAbsChange >= 0) || math.IsInf(opt.MinAbsChange, 0) {
		return fmt.Errorf("--min-abs-change: %v is not a non-negative number: %w", opt.MinAbsChange, ErrUsage)
	}
	return nil
}

// MetricNames lists the catalogue's metric names, comma separated.
func MetricNames() string {
	names := make([]string, len(result.Metrics))
	for i, m := range result.Metrics {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

func kernelsDiffer(sets []*Set) bool {
	k := sets[0].Kernel
	for _, s := range sets[1:] {
		if s.Kernel != k {
			return true
		}
	}
	return false
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
