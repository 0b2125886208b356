package report

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// heatCells adapts a HeatGrid to gonum's GridXYZ: cells at integer positions, one per value measured, so
// that each is the same size whatever the values.
type heatCells struct {
	g   *HeatGrid
	div float64
}

func (h heatCells) Dims() (c, r int)   { return len(h.g.X), len(h.g.Y) }
func (h heatCells) Z(c, r int) float64 { return h.g.Z[r][c] / h.div }
func (h heatCells) X(c int) float64    { return float64(c) }
func (h heatCells) Y(r int) float64    { return float64(r) }

// heatPalette is Moreland's smooth blue-to-red palette: blue for the lowest value, red for the highest,
// never the white of a cell not measured.
var heatPalette = func() palette.Palette {
	m := moreland.SmoothBlueRed()
	m.SetMin(0)
	m.SetMax(1)
	return m.Palette(64)
}()

// heatmapFigure draws one backend's figure over two swept params, each cell labelled with its value and
// cells not measured left blank.
func heatmapFigure(c *SweepChart, widthPx, heightPx int) (*figure, string) {
	sw, g := c.Sweep, c.Grid
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, row := range g.Z {
		for _, v := range row {
			if !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	yLabel, div := sweepScale(c.Metric, sw.Unit, hi)
	p := newPlot(sweepTitle(c), sw.Axes[0], sw.Axes[1])
	hm := plotter.NewHeatMap(heatCells{g, div}, heatPalette)
	hm.Min, hm.Max = lo/div, hi/div
	if !(hm.Max > hm.Min) {
		hm.Max = hm.Min + 1
	}
	hm.NaN = color.White
	p.Add(hm, &heatLabels{cells: heatCells{g, div}, metric: c.Metric, min: hm.Min, max: hm.Max, pal: heatPalette})
	var xt, yt []plot.Tick
	for i, v := range g.X {
		xt = append(xt, plot.Tick{Value: float64(i), Label: formatValue(v)})
	}
	for i, v := range g.Y {
		yt = append(yt, plot.Tick{Value: float64(i), Label: formatValue(v)})
	}
	p.X.Tick.Marker, p.Y.Tick.Marker = plot.ConstantTicks(xt), plot.ConstantTicks(yt)
	p.X.Min, p.X.Max = -0.5, float64(len(g.X))-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(len(g.Y))-0.5
	p.X.Padding, p.Y.Padding = 0, 0
	f := &figure{plot: p, widthPx: widthPx, heightPx: heightPx}
	caption := fmt.Sprintf("%s of %s at each %s × %s point measured (%s), the median over samples; the colour "+
		"runs from blue (lowest, %s) to red (highest, %s). White cells (—) were not measured.",
		c.Metric, c.Line.Name(), sw.Axes[0], sw.Axes[1], yLabel, formatMetric(c.Metric, lo), formatMetric(c.Metric, hi))
	if sw.Inferred {
		caption += " The run recorded no sweep: the axes were found in the data."
	}
	return f, caption
}

// heatLabels writes each measured cell's value on it, in black or white, whichever stands out from the
// cell's colour.
type heatLabels struct {
	cells    heatCells
	metric   string
	min, max float64
	pal      palette.Palette
}

func (h *heatLabels) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	cols := h.pal.Colors()
	nc, nr := h.cells.Dims()
	for r := range nr {
		for col := range nc {
			v := h.cells.Z(col, r)
			if math.IsNaN(v) {
				st := textStyle(sans, 8.5, grey)
				st.XAlign, st.YAlign = draw.XCenter, draw.YCenter
				c.FillText(st, vg.Point{X: trX(float64(col)), Y: trY(float64(r))}, "—")
				continue
			}
			i := int((v-h.min)/(h.max-h.min)*float64(len(cols)-1) + 0.5)
			i = min(max(i, 0), len(cols)-1)
			st := textStyle(sans, 8.5, color.Black)
			if luminance(cols[i]) < 0.45 {
				st.Color = color.White
			}
			st.XAlign, st.YAlign = draw.XCenter, draw.YCenter
			c.FillText(st, vg.Point{X: trX(float64(col)), Y: trY(float64(r))}, formatMetric(h.metric, v*h.cells.div))
		}
	}
}

func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return (0.2126*float64(r) + 0.7152*float64(g) + 0.0722*float64(b)) / 0xffff
}
