package report

import (
	"fmt"
	"image/color"
	"maps"
	"math"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/ringbench/ringbench/internal/result"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Chart is one rendered chart, in both formats.
type Chart struct {
	Name     string // file stem, e.g. "latency-small-file"
	Kind     string // throughput, latency, syscalls, cpu, memory, timeline, timeline-p99
	Workload string
	Title    string
	Caption  string
	WidthPx  int
	HeightPx int
	PNG, SVG []byte
	// sweep is the sweep a chart of the Sweeps section draws (nil for a workload's own charts), table the
	// figures shown under it (scaling efficiencies).
	sweep *Sweep
	table *rawTable
}

// Chart kinds, in the order a workload's section shows them.
const (
	KindThroughput = "throughput"
	KindLatency    = "latency"
	KindSyscalls   = "syscalls"
	KindCPU        = "cpu"
	KindMemory     = "memory"
)

// sweepChartParams names a sweep chart apart from the others of its workload in its file name.
func sweepChartParams(c *SweepChart) string {
	parts := []string{strings.Join(c.Sweep.Axes, "-")}
	if len(c.Sweep.Fixed) > 0 {
		parts = append(parts, "at", result.ParamsString(c.Sweep.Fixed))
	}
	if c.Sweep.Inferred {
		parts = append(parts, "inferred")
	}
	if c.Line != nil {
		parts = append(parts, c.Line.Name())
	}
	return strings.Join(append(parts, c.Metric), " ")
}

// RenderCharts draws every chart the report's data supports. heightPx is the height of every chart and
// widthPx the least width (bar charts widen to fit their bars).
func RenderCharts(r *Report, widthPx, heightPx int) ([]*Chart, error) {
	widthPx, heightPx = min(widthPx, MaxChartWidthPx), min(heightPx, MaxChartWidthPx)
	type job struct {
		fig                     *figure
		caption, kind, workload string
		params                  string
		sweep                   *Sweep
		table                   *rawTable
	}
	if err := checkSeries(r); err != nil {
		return nil, err
	}
	var jobs []job
	for _, w := range r.Workloads {
		if len(jobs) > MaxCharts {
			return nil, tooManyCharts()
		}
		type spec struct {
			kind    string
			build   func(*Report, *Workload, int, int) (*figure, string)
			present bool
		}
		specs := []spec{
			{KindThroughput, throughputFigure, hasAny(w, func(s *Series) bool { return s.OpsPerSec.N > 0 })},
			{KindLatency, nil, hasAny(w, func(s *Series) bool { return s.Hist != nil && s.Hist.TotalCount() > 1 })},
			{KindSyscalls, syscallsFigure, hasAny(w, func(s *Series) bool { return s.Syscalls != nil && s.Syscalls.Samples > 0 })},
			{KindCPU, cpuFigure, hasAny(w, func(s *Series) bool { return s.CPU != nil })},
			{KindMemory, memoryFigure, hasAny(w, func(s *Series) bool { return s.Memory != nil })},
			{KindTimeline, timelineFigure, hasAny(w, func(s *Series) bool { return len(s.Timeline) > 0 })},
			{KindTimelineP99, timelineP99Figure, hasAny(w, func(s *Series) bool {
				return slices.ContainsFunc(s.Timeline, func(tp TimePoint) bool { return tp.P99Ns > 0 })
			})},
		}
		for _, sp := range specs {
			if !sp.present {
				continue
			}
			if sp.kind == KindLatency {
				for _, g := range latencyGroups(w) {
					fig, caption := latencyFigure(r, g.w, g.params, widthPx, heightPx)
					jobs = append(jobs, job{fig, caption, sp.kind, w.Name, g.params, nil, nil})
				}
				continue
			}
			fig, caption := sp.build(r, w, widthPx, heightPx)
			jobs = append(jobs, job{fig, caption, sp.kind, w.Name, "", nil, nil})
		}
	}

	if len(jobs) > MaxCharts {
		return nil, tooManyCharts()
	}
	// The Sweeps section takes what the workloads leave of MaxCharts, and says what did not fit.
	sweepCharts, leftOut := planSweepCharts(r.Sweeps, MaxCharts-len(jobs))
	r.SweepsLeftOut = leftOut
	for _, sc := range sweepCharts {
		fig, caption, table := sweepFigure(sc, widthPx, heightPx)
		jobs = append(jobs, job{fig, caption, sc.Kind, sc.Sweep.Workload, sweepChartParams(sc), sc.Sweep, table})
	}
	// Rasterising and encoding dominate: spread the charts over the CPUs, keeping their order.
	out := make([]*Chart, len(jobs))
	errs := make([]error, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				j := jobs[i]
				out[i], errs[i] = renderChart(j.fig, j.caption, j.kind, j.workload, j.params)
				if errs[i] == nil {
					out[i].sweep, out[i].table = j.sweep, j.table
				}
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err // the first: errors stay one line
		}
	}
	return out, nil
}

func renderChart(fig *figure, caption, kind, workload, params string) (*Chart, error) {
	name := kind + "-" + slug(workload)
	if params != "" {
		name += "-" + slug(params)
	}
	c := &Chart{Name: name, Kind: kind, Workload: workload, Title: fig.plot.Title.Text,
		Caption: caption, WidthPx: fig.widthPx, HeightPx: fig.heightPx}
	var err error
	if c.PNG, err = fig.PNG(); err != nil {
		return nil, err
	}
	if c.SVG, err = fig.SVG(); err != nil {
		return nil, err
	}
	return c, nil
}

// latencyGroup is the part of a workload that one latency chart shows.
type latencyGroup struct {
	params string // "conns=16" when split by params, else ""
	w      *Workload
}

// latencyGroups splits a workload's latency chart by its varying params when every backend varies the
// same ones (echo-proxy at 1 and 16 connections): one chart per value, one line per backend (and set),
// instead of a tangle of lines in one chart.
func latencyGroups(w *Workload) []latencyGroup {
	keys := ""
	for i, s := range w.Series {
		k := strings.Join(slices.Sorted(maps.Keys(s.VaryingParams)), ",")
		if k == "" || i > 0 && k != keys {
			return []latencyGroup{{w: w}}
		}
		keys = k
	}
	var groups []latencyGroup
	index := map[string]int{}
	for _, s := range w.Series {
		p := strings.ReplaceAll(result.ParamsString(s.VaryingParams), "/", " ")
		i, ok := index[p]
		if !ok {
			i = len(groups)
			index[p] = i
			groups = append(groups, latencyGroup{params: p, w: &Workload{Name: w.Name, Unit: w.Unit}})
		}
		g := groups[i].w
		g.Series = append(g.Series, s)
		if !slices.Contains(g.Variants, s.Variant) {
			g.Variants = append(g.Variants, s.Variant)
		}
	}
	if len(groups) < 2 {
		return []latencyGroup{{w: w}}
	}
	return groups
}

func hasAny(w *Workload, pred func(*Series) bool) bool {
	for _, s := range w.Series {
		if pred(s) {
			return true
		}
	}
	return false
}

var slugRE = regexp.MustCompile(`[^a-z0-9]+`)

// slug makes a name safe for a file name and an HTML id.
func slug(s string) string {
	whole := s
	s = strings.Trim(slugRE.ReplaceAllString(strings.ToLower(s), "-"), "-")
	if s == "" {
		s = "x"
	}
	return boundSlug(s, whole)
}

// setsIn lists the report's sets that have a series in w, in report order.
func setsIn(r *Report, w *Workload) []string {
	var out []string
	for _, set := range r.Sets {
		for _, s := range w.Series {
			if s.Set == set {
				out = append(out, set)
				break
			}
		}
	}
	return out
}

// variantColor gives a variant its backend's colour when each backend has one variant, else a colour of
// its own in variant order.
func variantColor(w *Workload, variant string) color.Color {
	perBackend := map[string]int{}
	backendOf := map[string]string{}
	for _, s := range w.Series {
		backendOf[s.Variant] = s.Backend
	}
	for _, v := range w.Variants {
		perBackend[backendOf[v]]++
	}
	if perBackend[backendOf[variant]] == 1 {
		if c, ok := backendColors[backendOf[variant]]; ok {
			return c
		}
	}
	for i, v := range w.Variants {
		if v == variant {
			return seriesPalette[i%len(seriesPalette)]
		}
	}
	return oiBlack
}

// slot is one bar position: a variant in a set.
type slot struct {
	x      float64
	series *Series
	set    int
}

// layout places one bar per (variant, set) present, groups of sets side by side with a gap between
// variants. perBar gives every bar its own tick label (variant and set); otherwise one tick per variant.
func layout(w *Workload, sets []string, include func(*Series) bool, perBar bool) (slots []slot, ticks []plot.Tick, nGroups int) {
	const gap = 0.6
	x := 0.0
	for _, v := range w.Variants {
		var group []slot
		for si, set := range sets {
			s := w.SeriesFor(v, set)
			if s == nil || !include(s) {
				continue
			}
			group = append(group, slot{x: x, series: s, set: si})
			if perBar {
				label := splitVariant(v)
				if len(sets) > 1 {
					label += "\n" + clip(set, MaxNameRunes)
				}
				ticks = append(ticks, plot.Tick{Value: x, Label: label})
			}
			x++
		}
		if len(group) == 0 {
			continue
		}
		nGroups++
		if !perBar {
			ticks = append(ticks, plot.Tick{Value: (group[0].x + group[len(group)-1].x) / 2, Label: splitVariant(v)})
		}
		slots = append(slots, group...)
		if len(sets) > 1 {
			x += gap
		}
	}
	return slots, ticks, nGroups
}

// logY puts p's Y axis on a log scale with 1-2-5 ticks spanning lo..hi.
func logY(p *plot.Plot, lo, hi float64) {
	p.Y.Scale = plot.LogScale{}
	yt, yMin, yMax := niceTicks125(lo, hi)
	p.Y.Tick.Marker = plot.ConstantTicks(yt)
	p.Y.Min, p.Y.Max = yMin, yMax
}

// gridFigure draws a grid of horizontal and vertical lines behind p and makes it a figure of the given size.
func gridFigure(p *plot.Plot, widthPx, heightPx int) *figure {
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = gridGrey, gridGrey
	p.Add(g)
	return &figure{plot: p, widthPx: widthPx, heightPx: heightPx}
}

// barFigure sets up a bar chart's axes and size for the given slots and tick labels.
func barFigure(title, yLabel string, slots []slot, ticks []plot.Tick, b *bars, widthPx, heightPx int) *figure {
	p := newPlot(title, "", yLabel)
	g := plotter.NewGrid()
	g.Vertical.Color = nil // horizontal lines only
	g.Horizontal.Color = gridGrey
	p.Add(g, b)
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Tick.Length = 0
	p.X.Padding, p.Y.Padding = 0, 0
	if len(slots) > 0 {
		p.X.Min = slots[0].x - 0.6
		p.X.Max = slots[len(slots)-1].x + 0.6
	}
	p.Y.Tick.Marker = linearTicks{}
	p.Y.Min = 0
	top := b.top()
	if top <= 0 {
		top = 1
	}
	p.Y.Max = top * 1.15
	f := &figure{plot: p, heightPx: heightPx}

	// Wide enough that every bar's value label and every tick label fits.
	slotW := vg.Points(30)
	for _, l := range b.labels {
		slotW = max(slotW, barLabelStyle.Width(l.text)+vg.Points(6))
	}
	perSlot := len(ticks) == len(slots)
	for _, t := range ticks {
		lw := p.X.Tick.Label.Width(t.Label) + vg.Points(8)
		if perSlot {
			slotW = max(slotW, lw)
		} else if n := len(slots) / max(1, len(ticks)); n > 0 {
			slotW = max(slotW, lw/vg.Length(n))
		}
	}
	span := 1.2
	if len(slots) > 0 {
		span = slots[len(slots)-1].x - slots[0].x + 1.2
	}
	needPt := vg.Length(span)*slotW + vg.Points(70) + f.legendWidth() + vg.Points(10)
	f.widthPx = int(math.Ceil(float64(needPt) * dpi / 72))
	return f
}

// finishWidth widens a bar figure after its legend is known.
func finishWidth(f *figure, minWidthPx int) {
	f.widthPx += int(math.Ceil(float64(f.legendWidth()) * dpi / 72))
	f.widthPx = min(max(f.widthPx, minWidthPx), MaxChartWidthPx)
}

// rateScale picks the divisor and SI prefix ("M ", "k " or "") to show rates of up to maxV per second in.
func rateScale(maxV float64) (div float64, prefix string) {
	switch {
	case maxV >= 1e6:
		return 1e6, "M "
	case maxV >= 1e3:
		return 1e3, "k "
	}
	return 1, ""
}

func throughputFigure(r *Report, w *Workload, widthPx, heightPx int) (*figure, string) {
	sets := setsIn(r, w)
	slots, ticks, _ := layout(w, sets, func(s *Series) bool { return s.OpsPerSec.N > 0 }, false)
	maxV := 0.0
	for _, sl := range slots {
		maxV = math.Max(maxV, sl.series.OpsPerSec.Max)
	}
	div, scale := rateScale(maxV)
	b := &bars{}
	minN, maxN := math.MaxInt, 0
	for _, sl := range slots {
		sp := sl.series.OpsPerSec
		minN, maxN = min(minN, sp.N), max(maxN, sp.N)
		c := variantColor(w, sl.series.Variant)
		if len(sets) > 1 {
			c = setColors[sl.set%len(setColors)]
		}
		b.rects = append(b.rects, barRect{x: sl.x, halfW: 0.4, y0: 0, y1: sp.Median / div, color: c})
		top := sp.Median / div
		if sp.N > 1 {
			b.whiskers = append(b.whiskers, whisker{x: sl.x, lo: sp.Min / div, hi: sp.Max / div, capHalfW: 0.12})
			top = sp.Max / div
		}
		b.labels = append(b.labels, barLabel{x: sl.x, y: top, text: formatRate(sp.Median)})
	}
	title := w.Name + " · throughput"
	f := barFigure(title, fmt.Sprintf("%s%ss per second (median)", scale, w.Unit), slots, ticks, b, widthPx, heightPx)
	if len(sets) > 1 {
		for i, set := range sets {
			f.addLegend(set, swatch{setColors[i%len(setColors)]})
		}
	}
	finishWidth(f, widthPx)
	caption := fmt.Sprintf("Median %ss per second of each backend across its samples (%s per series); the "+
		"whiskers span the slowest to the fastest sample.", w.Unit, nRange(minN, maxN))
	if len(sets) > 1 {
		caption += " One bar per " + setWord(r) + "."
	}
	return f, caption
}

func nRange(lo, hi int) string {
	if lo == hi {
		return fmt.Sprintf("n=%d", lo)
	}
	return fmt.Sprintf("n=%d–%d", lo, hi)
}

func setWord(r *Report) string {
	switch r.SetBy {
	case "kernel":
		return "kernel"
	case "label":
		return "result set"
	}
	return "set"
}

// latencyTicks label the percentiles on the x = 1/(1-q) axis.
var latencyTicks = []plot.Tick{
	{Value: 2, Label: "50%"}, {Value: 10, Label: "90%"}, {Value: 100, Label: "99%"},
	{Value: 1e3, Label: "99.9%"}, {Value: 1e4, Label: "99.99%"}, {Value: 1e5, Label: "99.999%"},
}

// maxLatencyX is the furthest the percentile axis goes: 99.999%. q = 100% (x = infinity) is never drawn.
const maxLatencyX = 1e5

func latencyFigure(r *Report, w *Workload, params string, widthPx, heightPx int) (*figure, string) {
	sets := setsIn(r, w)
	setIndex := map[string]int{}
	for i, s := range sets {
		setIndex[s] = i
	}
	type line struct {
		xys   plotter.XYs
		style draw.LineStyle
		name  string
	}
	var lines []line
	lo, hi := math.Inf(1), 0.0
	xMax := 2.0
	for _, s := range w.Series {
		if s.Hist == nil || s.Hist.TotalCount() < 2 {
			continue
		}
		// Beyond 1/count the percentiles are only the maximum: stop there.
		end := math.Min(maxLatencyX, float64(s.Hist.TotalCount()))
		const n = 240
		var xys plotter.XYs
		for i := 0; i <= n; i++ {
			x := math.Pow(end, float64(i)/n)
			q := 1 - 1/x
			v := float64(s.Hist.ValueAtQuantile(q*100)) / 1e3 // µs
			if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) || x <= 0 {
				continue // a log axis cannot show it
			}
			xys = append(xys, plotter.XY{X: x, Y: v})
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if len(xys) < 2 {
			continue
		}
		xMax = math.Max(xMax, end)
		st := draw.LineStyle{Color: variantColor(w, s.Variant), Width: vg.Points(1.75)}
		if len(sets) > 1 {
			st.Dashes = setDashes[setIndex[s.Set]%len(setDashes)]
		}
		name := s.Name()
		if params != "" { // the chart's title names the params
			name = s.Backend
			if s.Set != "" {
				name += " · " + s.Set
			}
		}
		lines = append(lines, line{xys, st, name})
	}

	unit, div := "µs", 1.0
	if lo < 1 && hi < 10 {
		unit, div = "ns", 1e-3
	} else if lo >= 1000 {
		unit, div = "ms", 1e3
	}
	title := w.Name + " · latency by percentile"
	if params != "" {
		title += " at " + params
	}
	p := newPlot(title, "percentile (x = 1/(1 − q), log scale)", "latency ("+unit+", log scale)")
	p.X.Scale = plot.LogScale{}
	var xt []plot.Tick
	for _, t := range latencyTicks {
		if t.Value <= xMax*(1+1e-9) {
			xt = append(xt, t)
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(xt)
	p.X.Min, p.X.Max = 1, xMax
	logY(p, lo/div, hi/div)
	f := gridFigure(p, widthPx, heightPx)
	for _, l := range lines {
		if div != 1 {
			for i := range l.xys {
				l.xys[i].Y /= div
			}
		}
		pl, err := plotter.NewLine(l.xys)
		if err != nil {
			continue
		}
		pl.LineStyle = l.style
		p.Add(pl)
		f.addLegend(l.name, lineThumb{l.style})
	}
	corrected := true
	for _, s := range w.Series {
		if s.Hist != nil && !s.Corrected {
			corrected = false
		}
	}
	caption := "Latency at each percentile, from the merge of every sample's HdrHistogram (percentiles are " +
		"never averaged). The x axis is 1/(1 − q) on a log scale, so each tick is one more nine; a line stops " +
		"where its sample count runs out, and 100% (the maximum) is left off."
	if !corrected {
		caption += " Closed loop: latency is timed from each op's submission, and at saturation it is about " +
			"ops in flight / throughput."
	}
	if len(sets) > 1 {
		caption += " Colour is the backend, the dash pattern the " + setWord(r) + "."
	}
	return f, caption
}

// stackFigure draws one stacked bar per (variant, set): components bottom to top, total above.
func stackFigure(r *Report, w *Workload, title, yLabel string, include func(*Series) bool,
	components []string, colors map[string]color.Color, value func(*Series, string) float64,
	totalLabel func(*Series) string, widthPx, heightPx int) *figure {
	sets := setsIn(r, w)
	slots, ticks, _ := layout(w, sets, include, true)
	b := &bars{}
	for _, sl := range slots {
		y := 0.0
		for _, comp := range components {
			v := value(sl.series, comp)
			if v <= 0 {
				continue
			}
			b.rects = append(b.rects, barRect{x: sl.x, halfW: 0.4, y0: y, y1: y + v, color: colors[comp]})
			y += v
		}
		b.labels = append(b.labels, barLabel{x: sl.x, y: y, text: totalLabel(sl.series)})
	}
	f := barFigure(title, yLabel, slots, ticks, b, widthPx, heightPx)
	for i := len(components) - 1; i >= 0; i-- { // top of the stack first, as drawn
		f.addLegend(components[i], swatch{colors[components[i]]})
	}
	finishWidth(f, widthPx)
	return f
}

// syscallColors keeps common syscalls' colours the same in every chart.
var syscallColors = map[string]color.Color{
	"io_uring_enter": oiBlue,
	"pread64":        oiOrange,
	"read":           oiVermillion,
	"recvfrom":       oiVermillion,
	"write":          oiPurple,
	"sendto":         oiPurple,
	"epoll_wait":     oiGreen,
	"epoll_pwait":    oiGreen,
	"openat":         oiSkyBlue,
	"close":          oiYellow,
	"futex":          oiBlack,
	"other":          grey,
}

// maxSyscallComponents is how many syscalls a stack names; the rest join "other".
const maxSyscallComponents = 7

func syscallsFigure(r *Report, w *Workload, widthPx, heightPx int) (*figure, string) {
	include := func(s *Series) bool { return s.Syscalls != nil }
	// Rank syscalls by their largest per-op figure in any series.
	peak := map[string]float64{}
	for _, s := range w.Series {
		if s.Syscalls == nil {
			continue
		}
		for n, v := range s.Syscalls.ByNamePerOp {
			if n != "other" {
				peak[n] = math.Max(peak[n], v)
			}
		}
	}
	names := make([]string, 0, len(peak))
	for n := range peak {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if peak[names[i]] != peak[names[j]] {
			return peak[names[i]] > peak[names[j]]
		}
		return names[i] < names[j]
	})
	// Name only the syscalls a reader can see: at least 2% of the tallest bar. The rest join "other".
	tallest := 0.0
	for _, s := range w.Series {
		if s.Syscalls != nil {
			tallest = math.Max(tallest, s.Syscalls.Pooled)
		}
	}
	visible := names[:0]
	for _, n := range names {
		if peak[n] >= 0.02*tallest {
			visible = append(visible, n)
		}
	}
	names = visible
	keep := map[string]bool{}
	if len(names) > maxSyscallComponents {
		names = names[:maxSyscallComponents]
	}
	for _, n := range names {
		keep[n] = true
	}
	hasOther := false
	for _, s := range w.Series {
		if s.Syscalls == nil {
			continue
		}
		for n, v := range s.Syscalls.ByNamePerOp {
			if !keep[n] && v > 0 {
				hasOther = true
			}
		}
	}
	components := names
	if hasOther {
		components = append(components, "other")
	}
	colors := map[string]color.Color{}
	used := map[color.Color]bool{}
	for _, n := range components {
		if c, ok := syscallColors[n]; ok && !used[c] {
			colors[n] = c
			used[c] = true
		}
	}
	for _, n := range components {
		if colors[n] != nil {
			continue
		}
		for _, c := range seriesPalette {
			if !used[c] {
				colors[n] = c
				used[c] = true
				break
			}
		}
		if colors[n] == nil {
			colors[n] = grey
		}
	}
	value := func(s *Series, comp string) float64 {
		if s.Syscalls == nil {
			return 0
		}
		if comp != "other" {
			return s.Syscalls.ByNamePerOp[comp]
		}
		o := 0.0
		for n, v := range s.Syscalls.ByNamePerOp {
			if !keep[n] {
				o += v
			}
		}
		return o
	}
	total := func(s *Series) string {
		if s.Syscalls == nil || s.Syscalls.Samples == 0 {
			return "n/a"
		}
		return formatPerOp(s.Syscalls.Pooled)
	}
	f := stackFigure(r, w, w.Name+" · syscalls per "+w.Unit, "syscalls per "+w.Unit, include, components, colors, value, total, widthPx, heightPx)
	scope := ""
	for _, s := range w.Series {
		if s.Syscalls != nil && s.Syscalls.Scope != "" {
			scope = s.Syscalls.Scope
			break
		}
	}
	caption := fmt.Sprintf("System calls per %s, counted by the kernel and pooled over samples (all calls / all "+
		"%ss), stacked by syscall; the figure above each bar is the total.", w.Unit, w.Unit)
	if scope != "" {
		caption += " Scope: " + scope + "."
	}
	caption += " “n/a”: counting was unavailable there."
	return f, caption
}

// stackPart is one component of a stackFigure: its name in the legend, its colour, whether any bar has it
// (the legend leaves out a part no bar has) and its value in a series.
type stackPart struct {
	name  string
	color color.Color
	shown bool
	value func(*Series) float64
}

// stackParts returns stackFigure's components (the parts shown, bottom to top), colors and value.
func stackParts(parts ...stackPart) ([]string, map[string]color.Color, func(*Series, string) float64) {
	var components []string
	colors := map[string]color.Color{}
	for _, p := range parts {
		if p.shown {
			components = append(components, p.name)
		}
		colors[p.name] = p.color
	}
	value := func(s *Series, comp string) float64 {
		for _, p := range parts {
			if p.name == comp {
				return p.value(s)
			}
		}
		return 0
	}
	return components, colors, value
}

func cpuFigure(r *Report, w *Workload, widthPx, heightPx int) (*figure, string) {
	include := func(s *Series) bool { return s.CPU != nil }
	var anyPoll, anyWorker bool
	maxT := 0.0
	for _, s := range w.Series {
		if s.CPU == nil {
			continue
		}
		anyPoll = anyPoll || s.CPU.Poll > 0
		anyWorker = anyWorker || s.CPU.Worker > 0
		maxT = math.Max(maxT, s.CPU.Total)
	}
	unit, div := "ns", 1.0
	if maxT >= 10000 {
		unit, div = "µs", 1e3
	}
	components, colors, value := stackParts(
		stackPart{"user", oiBlue, true, func(s *Series) float64 { return s.CPU.User / div }},
		stackPart{"kernel (sys)", oiOrange, true, func(s *Series) float64 { return s.CPU.Sys / div }},
		stackPart{"SQPOLL thread", oiGreen, anyPoll, func(s *Series) float64 { return s.CPU.Poll / div }},
		stackPart{"io-wq workers", oiPurple, anyWorker, func(s *Series) float64 { return s.CPU.Worker / div }})
	total := func(s *Series) string { return formatNs(s.CPU.Total) }
	f := stackFigure(r, w, w.Name+" · CPU time per "+w.Unit, fmt.Sprintf("CPU time per %s (%s)", w.Unit, unit),
		include, components, colors, value, total, widthPx, heightPx)
	caption := fmt.Sprintf("CPU time per %s, pooled over samples, split into user time, kernel time, and the "+
		"time of io_uring's own kernel threads (the SQPOLL poll thread and io-wq workers), which is charged "+
		"to the run and not left out as some tools do.", w.Unit)
	return f, caption
}

func memoryFigure(r *Report, w *Workload, widthPx, heightPx int) (*figure, string) {
	include := func(s *Series) bool { return s.Memory != nil }
	anySlab := false
	maxB := 0.0
	conns := 0
	for _, s := range w.Series {
		if s.Memory == nil {
			continue
		}
		t := math.Max(0, s.Memory.RSS.Median)
		if s.Memory.Slab != nil {
			anySlab = true
			t += math.Max(0, s.Memory.Slab.Median)
		}
		maxB = math.Max(maxB, t)
		conns = max(conns, s.Memory.IdleConns)
	}
	unit, div := "bytes", 1.0
	if maxB >= 2048 {
		unit, div = "KiB", 1024
	}
	components, colors, value := stackParts(
		stackPart{"process RSS", oiBlue, true, func(s *Series) float64 { return math.Max(0, s.Memory.RSS.Median) / div }},
		stackPart{"kernel slab", oiOrange, anySlab, func(s *Series) float64 {
			if s.Memory.Slab == nil {
				return 0
			}
			return math.Max(0, s.Memory.Slab.Median) / div
		}})
	total := func(s *Series) string {
		t := s.Memory.RSS.Median
		if s.Memory.Slab != nil {
			t += s.Memory.Slab.Median
		}
		return formatBytes(t)
	}
	f := stackFigure(r, w, w.Name+" · memory per idle connection", "memory per idle connection ("+unit+")",
		include, components, colors, value, total, widthPx, heightPx)
	caption := fmt.Sprintf("Memory that each idle connection costs the server, measured with %d idle "+
		"connections: growth of the process's resident memory per connection (median over samples)", conns)
	if anySlab {
		caption += ", plus kernel slab growth per connection"
	}
	caption += ". A per-connection receive buffer shows here; a shared buffer ring does not."
	return f, caption
}
