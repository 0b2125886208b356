package report

import (
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// sweepScale picks the unit a sweep chart's y axis shows a metric in, from its largest value.
func sweepScale(metric, unit string, maxV float64) (label string, div float64) {
	switch metric {
	case "ops/s":
		switch {
		case maxV >= 1e6:
			return "M " + unit + "s per second", 1e6
		case maxV >= 1e3:
			return "k " + unit + "s per second", 1e3
		}
		return unit + "s per second", 1
	case "CPU/op":
		if maxV >= 10e3 {
			return "CPU time per " + unit + " (µs)", 1e3
		}
		return "CPU time per " + unit + " (ns)", 1
	case "syscalls/op":
		return "syscalls per " + unit, 1
	case "p99":
		switch {
		case maxV >= 10e6:
			return "p99 latency (ms)", 1e6
		case maxV >= 10e3:
			return "p99 latency (µs)", 1e3
		}
		return "p99 latency (ns)", 1
	}
	return metric, 1
}

// formatMetric writes a metric's value as the summary table does.
func formatMetric(metric string, v float64) string {
	switch metric {
	case "ops/s":
		return formatRate(v)
	case "CPU/op", "p99":
		return formatNs(v)
	}
	return formatPerOp(v)
}

func formatValue(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// lineColor gives a sweep line its backend's colour when no other line has the same backend, else a
// colour of its own in line order.
func lineColor(lines []*SweepLine, i int) color.Color {
	n := 0
	for _, l := range lines {
		if l.Backend == lines[i].Backend {
			n++
		}
	}
	if c, ok := backendColors[lines[i].Backend]; ok && n == 1 {
		return c
	}
	return seriesPalette[i%len(seriesPalette)]
}

// sweepTitle is a sweep chart's title.
func sweepTitle(c *SweepChart) string {
	sw := c.Sweep
	t := sw.Workload + " · " + c.Metric + " against " + sw.Describe()
	if c.Line != nil {
		t = sw.Workload + " · " + c.Line.Name() + " · " + c.Metric + ", " + sw.Describe()
	}
	if sw.Inferred {
		t += " (inferred sweep)"
	}
	return t
}

// sweepFigure draws a sweep chart: lines against a log₂ axis, or a heatmap. The table is the scaling
// chart's efficiencies (nil for others).
func sweepFigure(c *SweepChart, widthPx, heightPx int) (*figure, string, *rawTable) {
	if c.Kind == KindHeatmap {
		f, caption := heatmapFigure(c, widthPx, heightPx)
		return f, caption, nil
	}
	sw := c.Sweep
	lines := make([]*SweepLine, len(c.Curves))
	maxV := 0.0
	for i, cv := range c.Curves {
		lines[i] = cv.Line
		for j := range cv.Y {
			maxV = math.Max(maxV, math.Max(cv.Hi[j], cv.Y[j]))
			if cv.Perfect != nil {
				maxV = math.Max(maxV, cv.Perfect[j])
			}
		}
	}
	yLabel, div := sweepScale(c.Metric, sw.Unit, maxV)
	axis := sw.Axes[0]
	p := newPlot(sweepTitle(c), axis+" (log₂ scale)", yLabel)
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	for _, v := range sw.Values[0] {
		ticks = append(ticks, plot.Tick{Value: v, Label: formatValue(v)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	vals := sw.Values[0]
	p.X.Min, p.X.Max = vals[0]/1.25, vals[len(vals)-1]*1.25
	p.Y.Tick.Marker = linearTicks{}
	p.Y.Min, p.Y.Max = 0, math.Max(maxV/div*1.1, 1e-9)
	g := plotter.NewGrid()
	g.Vertical.Color, g.Horizontal.Color = gridGrey, gridGrey
	p.Add(g)
	f := &figure{plot: p, widthPx: widthPx, heightPx: heightPx}
	anyRange, anyCI := false, false
	for i, cv := range c.Curves {
		col := lineColor(lines, i)
		st := draw.LineStyle{Color: col, Width: vg.Points(1.75)}
		xys := make(plotter.XYs, len(cv.X))
		eb := &errorBars{style: draw.LineStyle{Color: col, Width: vg.Points(1)}}
		for j := range cv.X {
			xys[j] = plotter.XY{X: cv.X[j], Y: cv.Y[j] / div}
			eb.points = append(eb.points, errorBar{x: cv.X[j], lo: cv.Lo[j] / div, hi: cv.Hi[j] / div})
			anyCI = anyCI || cv.CI[j]
			anyRange = anyRange || !cv.CI[j]
		}
		if l, err := plotter.NewLine(xys); err == nil {
			l.LineStyle = st
			p.Add(l)
		}
		if sc, err := plotter.NewScatter(xys); err == nil {
			sc.GlyphStyle.Color, sc.GlyphStyle.Radius, sc.GlyphStyle.Shape = col, vg.Points(2.5), draw.CircleGlyph{}
			p.Add(sc)
		}
		p.Add(eb)
		f.addLegend(cv.Line.Name(), lineThumb{st})
		if cv.Perfect != nil {
			pxys := make(plotter.XYs, len(cv.X))
			for j := range cv.X {
				pxys[j] = plotter.XY{X: cv.X[j], Y: cv.Perfect[j] / div}
			}
			ps := draw.LineStyle{Color: col, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}
			if l, err := plotter.NewLine(pxys); err == nil {
				l.LineStyle = ps
				p.Add(l)
			}
			f.addLegend(cv.Line.Name()+" perfect scaling", lineThumb{ps})
		}
	}

	var caption strings.Builder
	fmt.Fprintf(&caption, "%s of each backend against %s (%s), on a log₂ axis with a tick at each value measured. "+
		"Points are medians over samples", c.Metric, axis, joinValues(sw.Values[0]))
	switch {
	case anyCI && anyRange:
		caption.WriteString("; error bars are the 95% confidence interval of the median where a point has 6 or more samples, else the slowest to the fastest sample.")
	case anyCI:
		caption.WriteString("; error bars are the 95% confidence interval of the median.")
	default:
		caption.WriteString("; error bars span the slowest to the fastest sample (too few samples for a confidence interval).")
	}
	if c.Metric == "p99" {
		caption.WriteString(" p99 is that of the merged histograms, as in the summary; the bars are those of the samples' own p99s.")
	}
	if sw.Inferred {
		fmt.Fprintf(&caption, " The run recorded no sweep: %s was found to take %d values across the series while the other parameters stay fixed.", axis, len(sw.Values[0]))
	}
	var table *rawTable
	if c.Kind == KindScaling {
		table = &rawTable{Columns: []string{"backend"}}
		for _, v := range sw.Values[0] {
			table.Columns = append(table.Columns, axis+"="+formatValue(v))
		}
		var effs []string
		for _, cv := range c.Curves {
			if cv.Perfect == nil {
				continue
			}
			row := []string{cv.Line.Name()}
			for _, v := range sw.Values[0] {
				cell := "—"
				for j, x := range cv.X {
					if x == v {
						cell = fmt.Sprintf("%s (%.0f%%)", formatRate(cv.Y[j]), 100*cv.Efficiency[j])
					}
				}
				row = append(row, cell)
			}
			table.Rows = append(table.Rows, row)
			last := len(cv.X) - 1
			effs = append(effs, fmt.Sprintf("%s %.0f%% at %s=%s", cv.Line.Name(), 100*cv.Efficiency[last], axis, formatValue(cv.X[last])))
		}
		base := formatValue(sw.Values[0][0])
		factor := axis + "/" + base
		if base == "1" {
			factor = axis
		}
		fmt.Fprintf(&caption, " Dashed: perfect scaling, the median at %s=%s times %s. Scaling efficiency (median ÷ perfect): %s; the table has every point.",
			axis, base, factor, strings.Join(effs, ", "))
	}
	return f, caption.String(), table
}

func joinValues(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = formatValue(x)
	}
	return strings.Join(s, ", ")
}

// errorBars draws a vertical bar with caps at each point, the caps a fixed width on the page (a log axis
// has no data width that suits every point).
type errorBars struct {
	points []errorBar
	style  draw.LineStyle
}

type errorBar struct{ x, lo, hi float64 }

func (e *errorBars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	capW := vg.Points(3)
	for _, b := range e.points {
		if b.hi <= b.lo {
			continue
		}
		x, lo, hi := trX(b.x), trY(b.lo), trY(b.hi)
		c.StrokeLines(e.style, c.ClipLinesXY([]vg.Point{{X: x, Y: lo}, {X: x, Y: hi}})...)
		c.StrokeLines(e.style, c.ClipLinesXY([]vg.Point{{X: x - capW, Y: lo}, {X: x + capW, Y: lo}})...)
		c.StrokeLines(e.style, c.ClipLinesXY([]vg.Point{{X: x - capW, Y: hi}, {X: x + capW, Y: hi}})...)
	}
}
