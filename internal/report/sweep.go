package report

import (
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/series"
)

// Sweep is a set of series of one workload that differ only in one or two swept parameters: the axes a
// run recorded (run --batch 1,2,4,8 writes Config.Sweep), or, in files that record none, a parameter that
// takes three or more numeric values while the others stay fixed.
type Sweep struct {
	Workload string
	Unit     string
	// Axes are the swept params: one draws line charts, two draw heatmaps (the first across, the second
	// up). A run that swept more gives one sweep per value of the others, which are then in Fixed.
	Axes []string
	// Values are, per axis, the distinct values measured, ascending.
	Values [][]float64
	// Fixed are the other params, the same in every series of the sweep.
	Fixed map[string]string
	// Same are params that take the first axis' value in every series (gen-threads with `run --threads
	// 1,2,4 --gen-threads threads`): one series per backend at each point, not one sweep per value.
	Same []string
	// Inferred is set when the axes were found in the data rather than recorded by the run.
	Inferred bool
	// Lines are one per backend (and set), in the workload's series order.
	Lines []*SweepLine
}

// SweepLine is one backend's (and set's) series along a sweep.
type SweepLine struct {
	Backend, Set string
	Points       []SweepPoint // ascending by coordinates (the first axis last-varying)
}

// SweepPoint is one series of a sweep at its coordinates, one per axis.
type SweepPoint struct {
	At     []float64
	Series *Series
}

// Name is the line's legend name: the backend, and the set when there is one.
func (l *SweepLine) Name() string {
	if l.Set == "" {
		return l.Backend
	}
	return l.Backend + " · " + l.Set
}

// Scaling reports whether the sweep is over threads (--jobs, --threads), which draws a perfect-scaling line.
func (s *Sweep) Scaling() bool {
	return len(s.Axes) == 1 && (s.Axes[0] == "jobs" || s.Axes[0] == "threads")
}

// Describe names the sweep for titles: "batch", "depth × batch", with the fixed params that are not the
// same for every series of the workload ("batch at depth=32").
func (s *Sweep) Describe() string {
	d := strings.Join(s.Axes, " × ")
	for _, k := range s.Same {
		d += " (" + k + " = " + s.Axes[0] + ")"
	}
	if len(s.Fixed) > 0 {
		d += " at " + strings.ReplaceAll(result.ParamsString(s.Fixed), "/", " ")
	}
	return d
}

// threadParams default to 1 where a sample leaves them out (contract: a missing jobs/threads is 1).
var threadParams = []string{"jobs", "threads"}

// findSweeps finds every sweep of the report's workloads.
func findSweeps(r *Report) []*Sweep {
	var out []*Sweep
	for _, w := range r.Workloads {
		params := effectiveParams(w)
		if axes, same := declaredAxes(r, w, params); len(axes) > 0 {
			out = append(out, declaredSweeps(w, params, axes, same)...)
		} else {
			out = append(out, inferredSweeps(w, params)...)
		}
	}
	return out
}

// effectiveParams are the series' params, with jobs and threads set to 1 where the workload has them in
// some series but not in this one.
func effectiveParams(w *Workload) map[*Series]map[string]string {
	has := map[string]bool{}
	for _, s := range w.Series {
		for k := range s.Params {
			has[k] = true
		}
	}
	out := map[*Series]map[string]string{}
	for _, s := range w.Series {
		p := make(map[string]string, len(s.Params)+1)
		for k, v := range s.Params {
			p[k] = v
		}
		for _, k := range threadParams {
			if _, ok := p[k]; !ok && has[k] {
				p[k] = "1"
			}
		}
		out[s] = p
	}
	return out
}

// declaredAxes are the swept params the input files record for this workload (every workload in files
// that do not say which), in the order given, that its series carry; same maps each param that follows
// an axis (result.SweepAxis.Same) to that axis.
func declaredAxes(r *Report, w *Workload, params map[*Series]map[string]string) (axes []string, same map[string]string) {
	carried := map[string]bool{}
	for _, p := range params {
		for k := range p {
			carried[k] = true
		}
	}
	same = map[string]string{}
	for _, in := range r.Inputs {
		if len(in.File.Config.Sweep) == 0 || !slices.ContainsFunc(in.File.Samples, func(s result.Sample) bool { return s.Workload == w.Name }) {
			continue
		}
		for _, a := range in.File.Config.Sweep {
			if len(a.Workloads) > 0 && !slices.Contains(a.Workloads, w.Name) {
				continue
			}
			if carried[a.Param] && !slices.Contains(axes, a.Param) {
				axes = append(axes, a.Param)
			}
			for _, k := range a.Same {
				same[k] = a.Param
			}
		}
	}
	return axes, same
}

// declaredSweeps groups a workload's series by the params other than the first two axes and those that
// follow the one axis of a line sweep (same): one sweep per group, reduced to the axes that take two or
// more values in it.
func declaredSweeps(w *Workload, params map[*Series]map[string]string, axes []string, same map[string]string) []*Sweep {
	if len(axes) > 2 {
		axes = axes[:2]
	}
	if len(axes) != 1 {
		same = nil
	}
	return groupSweeps(w, params, axes, same, false, 1)
}

// inferredSweeps are, for every param, the groups of series that agree on every other param and take
// three or more numeric values of it on some backend.
func inferredSweeps(w *Workload, params map[*Series]map[string]string) []*Sweep {
	keys := map[string]bool{}
	for _, p := range params {
		for k := range p {
			keys[k] = true
		}
	}
	var out []*Sweep
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		out = append(out, groupSweeps(w, params, []string{k}, nil, true, 3)...)
	}
	return out
}

// groupSweeps makes one sweep per distinct value of the params other than axes, leaving out a param of
// same where it equals its axis' value. Series whose axis values are not all positive numbers (a log axis
// cannot show them) stay out; lines with fewer than minPoints points are dropped, and so is a sweep left
// with no axis that takes two or more values.
func groupSweeps(w *Workload, params map[*Series]map[string]string, axes []string, same map[string]string, inferred bool, minPoints int) []*Sweep {
	type group struct {
		fixed map[string]string
		same  map[string]bool // the params of same that followed the axis in the group's series
		lines []*SweepLine
		index map[[2]string]*SweepLine
	}
	var groups []*group
	byRest := map[string]*group{}
	for _, s := range w.Series {
		p := params[s]
		at := make([]float64, len(axes))
		ok := true
		for i, a := range axes {
			v, err := strconv.ParseFloat(p[a], 64)
			if _, has := p[a]; !has || err != nil || !(v > 0) || math.IsInf(v, 0) {
				ok = false
				break
			}
			at[i] = v
		}
		if !ok {
			continue
		}
		rest := map[string]string{}
		var followed []string
		for k, v := range p {
			if a, ok := same[k]; ok && p[a] == v {
				followed = append(followed, k)
				continue
			}
			if !slices.Contains(axes, k) {
				rest[k] = v
			}
		}
		key := result.ParamsString(rest)
		g := byRest[key]
		if g == nil {
			g = &group{fixed: rest, same: map[string]bool{}, index: map[[2]string]*SweepLine{}}
			byRest[key] = g
			groups = append(groups, g)
		}
		for _, k := range followed {
			g.same[k] = true
		}
		lk := [2]string{s.Backend, s.Set}
		l := g.index[lk]
		if l == nil {
			l = &SweepLine{Backend: s.Backend, Set: s.Set}
			g.index[lk] = l
			g.lines = append(g.lines, l)
		}
		l.Points = append(l.Points, SweepPoint{At: at, Series: s})
	}

	var out []*Sweep
	for _, g := range groups {
		var lines []*SweepLine
		for _, l := range g.lines {
			if len(l.Points) >= minPoints {
				lines = append(lines, l)
			}
		}
		if len(lines) == 0 {
			continue
		}
		// Keep the axes that vary; one that does not becomes a fixed param.
		fixed := g.fixed
		var keep []int
		var values [][]float64
		for i, a := range axes {
			vals := distinctAt(lines, i)
			if len(vals) >= 2 {
				keep = append(keep, i)
				values = append(values, vals)
				continue
			}
			fixed = copyParams(fixed)
			fixed[a] = params[lines[0].Points[0].Series][a]
		}
		if len(keep) == 0 {
			continue
		}
		sw := &Sweep{Workload: w.Name, Unit: w.Unit, Values: values, Fixed: fixed, Inferred: inferred, Same: slices.Sorted(maps.Keys(g.same))}
		for _, i := range keep {
			sw.Axes = append(sw.Axes, axes[i])
		}
		for _, l := range lines {
			for j := range l.Points {
				at := make([]float64, len(keep))
				for n, i := range keep {
					at[n] = l.Points[j].At[i]
				}
				l.Points[j].At = at
			}
			sort.SliceStable(l.Points, func(a, b int) bool {
				pa, pb := l.Points[a].At, l.Points[b].At
				for i := len(pa) - 1; i >= 0; i-- {
					if pa[i] != pb[i] {
						return pa[i] < pb[i]
					}
				}
				return false
			})
		}
		sw.Lines = lines
		out = append(out, sw)
	}
	// Params that are fixed at the same value in every sweep of the workload need no mention.
	if len(out) > 0 {
		for k, v := range out[0].Fixed {
			same := true
			for _, sw := range out[1:] {
				if sw.Fixed[k] != v {
					same = false
				}
			}
			if same && !varies(w, params, k) {
				for _, sw := range out {
					delete(sw.Fixed, k)
				}
			}
		}
	}
	return out
}

// varies reports whether param k takes more than one value among the workload's series.
func varies(w *Workload, params map[*Series]map[string]string, k string) bool {
	seen := map[string]bool{}
	for _, s := range w.Series {
		seen[params[s][k]] = true
	}
	return len(seen) > 1
}

func distinctAt(lines []*SweepLine, i int) []float64 {
	var vals []float64
	for _, l := range lines {
		for _, p := range l.Points {
			if !slices.Contains(vals, p.At[i]) {
				vals = append(vals, p.At[i])
			}
		}
	}
	sort.Float64s(vals)
	return vals
}

func copyParams(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// pointAt finds a line's series at the given coordinates (nil if not measured).
func (l *SweepLine) pointAt(at ...float64) *Series {
	for _, p := range l.Points {
		if slices.Equal(p.At, at) {
			return p.Series
		}
	}
	return nil
}

// sweepMetric is one figure a sweep chart draws.
type sweepMetric struct {
	Name   string // "ops/s", "CPU/op", "syscalls/op", "p99"
	metric string // the catalogue metric its samples give
}

var sweepMetrics = []sweepMetric{{"ops/s", "ops/s"}, {"CPU/op", "cpu-ns/op"}, {"syscalls/op", "syscalls/op"}, {"p99", "p99"}}

// pointValue is a series' figure for a sweep chart: the median, and its 95% confidence interval where
// the series has enough samples (ci), else the slowest to the fastest sample. p99 is the merged
// histogram's, as the summary has it, with the interval of the samples' own p99s.
func pointValue(s *Series, m sweepMetric) (y, lo, hi float64, ci, ok bool) {
	vals := s.Values(series.OfName(m.metric))
	if len(vals) == 0 {
		return 0, 0, 0, false, false
	}
	y, lo, hi, ci = series.MedianCI(vals)
	if !ci {
		sp := series.NewSpread(vals)
		lo, hi = sp.Min, sp.Max
	}
	if m.Name == "p99" {
		if v, has := s.LatencyAt(0.99); has {
			y = v
			lo, hi = math.Min(lo, y), math.Max(hi, y)
		}
	}
	return y, lo, hi, ci, true
}

// SweepCurve is one line of a sweep chart, at the sweep's values where the line has the figure.
type SweepCurve struct {
	Line       *SweepLine
	X, Y       []float64
	Lo, Hi     []float64 // the error bar of each point
	CI         []bool    // whether Lo–Hi is a 95% confidence interval (else the samples' range)
	Perfect    []float64 // scaling sweeps' ops/s: the smallest point's median × x / its x
	Efficiency []float64 // Y / Perfect
}

// HeatGrid is one backend's figure over two axes: Z[i][j] at Values[1][i] (up) and Values[0][j]
// (across), NaN where not measured.
type HeatGrid struct {
	X, Y []float64
	Z    [][]float64
}

// SweepChart is one chart of the Sweeps section, before drawing.
type SweepChart struct {
	Sweep  *Sweep
	Kind   string // KindSweep, KindScaling or KindHeatmap
	Metric string // a sweepMetric name
	Curves []SweepCurve
	// Line and Grid are a heatmap's backend and cells.
	Line *SweepLine
	Grid *HeatGrid
}

// Kinds of the Sweeps section's charts.
const (
	KindSweep   = "sweep"
	KindScaling = "scaling"
	KindHeatmap = "heatmap"
)

// maxSweepLines bounds the lines of one sweep chart; a legend of more does not fit its height.
const maxSweepLines = 16

// heatmapMetrics are the figures a two-axis sweep draws, one heatmap each per backend.
var heatmapMetrics = []sweepMetric{sweepMetrics[0], sweepMetrics[1]}

// planSweepCharts lays out the charts of every sweep, at most budget of them: a sweep whose charts do not
// all fit is left out whole, and leftOut says which.
func planSweepCharts(sweeps []*Sweep, budget int) (charts []*SweepChart, leftOut []string) {
	for _, sw := range sweeps {
		var mine []*SweepChart
		cut := 0
		if len(sw.Axes) == 1 {
			for _, m := range sweepMetrics {
				c := &SweepChart{Sweep: sw, Kind: KindSweep, Metric: m.Name}
				if sw.Scaling() && m.Name == "ops/s" {
					c.Kind = KindScaling
				}
				for _, l := range sw.Lines {
					cv, ok := curve(l, m, c.Kind == KindScaling)
					if !ok {
						continue
					}
					if len(c.Curves) == maxSweepLines {
						cut++
						continue
					}
					c.Curves = append(c.Curves, cv)
				}
				if len(c.Curves) > 0 {
					mine = append(mine, c)
				}
			}
		} else {
			for _, l := range sw.Lines {
				for _, m := range heatmapMetrics {
					if g, ok := heatGrid(sw, l, m); ok {
						mine = append(mine, &SweepChart{Sweep: sw, Kind: KindHeatmap, Metric: m.Name, Line: l, Grid: g})
					}
				}
			}
		}
		if len(mine) == 0 {
			continue
		}
		if len(mine) > budget {
			leftOut = append(leftOut, clip(sw.Workload, MaxNameRunes)+": the "+sw.Describe()+" sweep ("+
				strconv.Itoa(len(mine))+" charts, past the "+strconv.Itoa(MaxCharts)+" a report draws)")
			continue
		}
		if cut > 0 {
			leftOut = append(leftOut, clip(sw.Workload, MaxNameRunes)+": the "+sw.Describe()+" sweep's charts show "+
				strconv.Itoa(maxSweepLines)+" lines each; "+strconv.Itoa(cut)+" lines left out")
		}
		budget -= len(mine)
		charts = append(charts, mine...)
	}
	return charts, leftOut
}

func curve(l *SweepLine, m sweepMetric, scaling bool) (SweepCurve, bool) {
	c := SweepCurve{Line: l}
	for _, p := range l.Points {
		y, lo, hi, ci, ok := pointValue(p.Series, m)
		if !ok {
			continue
		}
		c.X, c.Y, c.Lo, c.Hi, c.CI = append(c.X, p.At[0]), append(c.Y, y), append(c.Lo, lo), append(c.Hi, hi), append(c.CI, ci)
	}
	if len(c.X) == 0 {
		return c, false
	}
	if scaling && c.Y[0] > 0 {
		for i, x := range c.X {
			perfect := c.Y[0] * x / c.X[0]
			c.Perfect = append(c.Perfect, perfect)
			c.Efficiency = append(c.Efficiency, c.Y[i]/perfect)
		}
	}
	return c, true
}

func heatGrid(sw *Sweep, l *SweepLine, m sweepMetric) (*HeatGrid, bool) {
	g := &HeatGrid{X: sw.Values[0], Y: sw.Values[1]}
	any := false
	for _, y := range g.Y {
		row := make([]float64, len(g.X))
		for j, x := range g.X {
			row[j] = math.NaN()
			if s := l.pointAt(x, y); s != nil {
				if v, _, _, _, ok := pointValue(s, m); ok {
					row[j] = v
					any = true
				}
			}
		}
		g.Z = append(g.Z, row)
	}
	return g, any
}
