package report

import (
	"fmt"
	"math"
	"slices"

	"github.com/ringbench/ringbench/internal/result"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Chart kinds of the samples as time series (run --interval).
const (
	KindTimeline    = "timeline"
	KindTimelineP99 = "timeline-p99"
)

// MaxTimelinePoints bounds the points of one line of a timeline chart: longer series merge neighbouring
// intervals (ops summed, the worst p99 kept) until they fit.
const MaxTimelinePoints = 1000

// TimePoint is one interval of a series over time: the median throughput of its timed samples in that
// interval, and the worst of their p99s (so that a stall in any one sample shows).
type TimePoint struct {
	At        float64 // seconds from the sample's start to the interval's middle
	OpsPerSec float64
	P99Ns     float64 // 0 when no sample completed an op in it
}

// timeline is the series over time of samples (timed ones only: ops/s and p99 are timing figures), nil
// when none has intervals.
func timeline(samples []*result.Sample) []TimePoint {
	n := 0
	for _, smp := range samples {
		n = max(n, len(smp.Intervals))
	}
	if n == 0 {
		return nil
	}
	k := (n + MaxTimelinePoints - 1) / MaxTimelinePoints // intervals merged into one point
	points := make([]TimePoint, (n+k-1)/k)
	rates := make([][]float64, len(points))
	have := make([]bool, len(points))
	for _, smp := range samples {
		for j := 0; j*k < len(smp.Intervals); j++ {
			group := smp.Intervals[j*k : min((j+1)*k, len(smp.Intervals))]
			merged := result.Interval{StartNs: group[0].StartNs}
			for _, iv := range group {
				merged.Ops += iv.Ops
				merged.LengthNs += iv.LengthNs
				merged.P99Ns = max(merged.P99Ns, iv.P99Ns)
			}
			// A last interval under half a step (the drain after the window) has too few ops for a rate.
			if merged.LengthNs <= 0 || 2*merged.LengthNs < int64(len(group))*smp.Intervals[0].LengthNs {
				continue
			}
			if !have[j] {
				points[j].At = (float64(merged.StartNs) + float64(merged.LengthNs)/2) / 1e9
				have[j] = true
			}
			rates[j] = append(rates[j], merged.OpsPerSec())
			points[j].P99Ns = max(points[j].P99Ns, float64(merged.P99Ns))
		}
	}
	out := points[:0]
	for j, p := range points {
		if !have[j] {
			continue
		}
		slices.Sort(rates[j])
		m := len(rates[j])
		p.OpsPerSec = (rates[j][(m-1)/2] + rates[j][m/2]) / 2
		out = append(out, p)
	}
	return out
}

// timelineLines draws one line per series that has a timeline: y gives each point's value, or false to
// leave it out.
func timelineLines(r *Report, w *Workload, p *plot.Plot, f *figure, y func(TimePoint) (float64, bool)) {
	sets := setsIn(r, w)
	setIndex := map[string]int{}
	for i, s := range sets {
		setIndex[s] = i
	}
	for _, s := range w.Series {
		var xys plotter.XYs
		for _, tp := range s.Timeline {
			if v, ok := y(tp); ok {
				xys = append(xys, plotter.XY{X: tp.At, Y: v})
			}
		}
		if len(xys) == 0 {
			continue
		}
		st := draw.LineStyle{Color: variantColor(w, s.Variant), Width: vg.Points(1.5)}
		if len(sets) > 1 {
			st.Dashes = setDashes[setIndex[s.Set]%len(setDashes)]
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			continue
		}
		l.LineStyle = st
		p.Add(l)
		if len(xys) == 1 { // a line of one point draws nothing
			sc, err := plotter.NewScatter(xys)
			if err == nil {
				sc.GlyphStyle.Color, sc.GlyphStyle.Radius, sc.GlyphStyle.Shape = st.Color, vg.Points(2), draw.CircleGlyph{}
				p.Add(sc)
			}
		}
		f.addLegend(s.Name(), lineThumb{st})
	}
}

// timelineFigure is throughput over time, per backend: where page-cache eviction, an idling SQPOLL thread
// or throttling changes a sample's pace, and when.
func timelineFigure(r *Report, w *Workload, widthPx, heightPx int) (*figure, string) {
	maxV, xMax := 0.0, 0.0
	for _, s := range w.Series {
		for _, tp := range s.Timeline {
			maxV, xMax = math.Max(maxV, tp.OpsPerSec), math.Max(xMax, tp.At)
		}
	}
	div, scale := rateScale(maxV)
	p := newPlot(w.Name+" · throughput over time", "time into the sample (s)",
		fmt.Sprintf("%s%ss per second (median of samples)", scale, w.Unit))
	p.X.Tick.Marker, p.Y.Tick.Marker = linearTicks{}, linearTicks{}
	p.X.Min, p.Y.Min = 0, 0
	p.X.Max, p.Y.Max = math.Max(xMax*1.02, 1e-3), math.Max(maxV/div*1.08, 1e-9)
	f := gridFigure(p, widthPx, heightPx)
	timelineLines(r, w, p, f, func(tp TimePoint) (float64, bool) { return tp.OpsPerSec / div, true })
	caption := fmt.Sprintf("%ss per second in each interval of the timed samples (run --interval), at the "+
		"interval's middle: the median of the samples. A dip to 0 is an interval in which nothing completed; "+
		"a last interval shorter than half a step is left out.", w.Unit)
	if len(setsIn(r, w)) > 1 {
		caption += " Colour is the backend, the dash pattern the " + setWord(r) + "."
	}
	return f, caption
}

// timelineP99Figure is p99 latency over time, per backend, on a log scale: a stall shows as a spike.
func timelineP99Figure(r *Report, w *Workload, widthPx, heightPx int) (*figure, string) {
	lo, hi, xMax := math.Inf(1), 0.0, 0.0
	for _, s := range w.Series {
		for _, tp := range s.Timeline {
			if tp.P99Ns > 0 {
				lo, hi, xMax = math.Min(lo, tp.P99Ns), math.Max(hi, tp.P99Ns), math.Max(xMax, tp.At)
			}
		}
	}
	unit, div := "µs", 1e3
	if hi < 10e3 {
		unit, div = "ns", 1
	} else if lo >= 1e6 {
		unit, div = "ms", 1e6
	}
	p := newPlot(w.Name+" · p99 latency over time", "time into the sample (s)", "p99 latency ("+unit+", log scale, worst sample)")
	p.X.Tick.Marker = linearTicks{}
	p.X.Min, p.X.Max = 0, math.Max(xMax*1.02, 1e-3)
	logY(p, lo/div, hi/div)
	f := gridFigure(p, widthPx, heightPx)
	timelineLines(r, w, p, f, func(tp TimePoint) (float64, bool) { return tp.P99Ns / div, tp.P99Ns > 0 })
	caption := "p99 latency in each interval of the timed samples, the worst of the samples (so that a stall " +
		"in any one shows); intervals in which nothing completed are left out. Each interval's p99 is the top " +
		"of a log bucket, at most 1/16 above the true value; the latency chart has the exact distribution."
	if len(setsIn(r, w)) > 1 {
		caption += " Colour is the backend, the dash pattern the " + setWord(r) + "."
	}
	return f, caption
}
