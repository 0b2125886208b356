package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strconv"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Default chart size in pixels: 16:9, wide enough for a README, small enough to stay under ~50 KB as PNG.
const (
	DefaultWidth  = 800
	DefaultHeight = 450
	// dpi maps pixels to gonum's points: 96 px per inch, as browsers render SVG.
	dpi = 96
)

// px converts pixels to a gonum length.
func px(n float64) vg.Length { return vg.Length(n * 72 / dpi) }

// Liberation Sans, from the Liberation collection that gonum registers in font.DefaultCache.
var (
	sans     = font.Font{Typeface: "Liberation", Variant: "Sans"}
	sansBold = font.Font{Typeface: "Liberation", Variant: "Sans", Weight: xfont.WeightBold}
)

// The Okabe-Ito palette, safe for the common forms of colour blindness.
var (
	oiBlack      = color.RGBA{0x00, 0x00, 0x00, 0xff}
	oiOrange     = color.RGBA{0xe6, 0x9f, 0x00, 0xff}
	oiSkyBlue    = color.RGBA{0x56, 0xb4, 0xe9, 0xff}
	oiGreen      = color.RGBA{0x00, 0x9e, 0x73, 0xff}
	oiYellow     = color.RGBA{0xf0, 0xe4, 0x42, 0xff}
	oiBlue       = color.RGBA{0x00, 0x72, 0xb2, 0xff}
	oiVermillion = color.RGBA{0xd5, 0x5e, 0x00, 0xff}
	oiPurple     = color.RGBA{0xcc, 0x79, 0xa7, 0xff}
	// neutral grey for "other" and for text that is not data
	grey     = color.RGBA{0x99, 0x99, 0x99, 0xff}
	darkGrey = color.RGBA{0x33, 0x33, 0x33, 0xff}
	gridGrey = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
)

// seriesPalette is the order in which series take colours: high-contrast ones first, yellow last.
var seriesPalette = []color.Color{oiBlue, oiOrange, oiGreen, oiVermillion, oiSkyBlue, oiPurple, oiBlack, oiYellow}

// backendColors keeps each known backend's colour the same in every chart.
var backendColors = map[string]color.Color{
	"epoll":  oiOrange,
	"uring":  oiBlue,
	"sqpoll": oiGreen,
	"gostd":  oiPurple,
}

// setColors distinguish sets (kernels, labels) in grouped bars.
var setColors = []color.Color{oiBlue, oiVermillion, oiGreen, oiPurple, oiSkyBlue, oiOrange, oiBlack, oiYellow}

// setDashes distinguish sets in line charts, where colour already names the backend.
var setDashes = [][]vg.Length{nil, {vg.Points(6), vg.Points(3)}, {vg.Points(1.5), vg.Points(2)}, {vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2)}}

func textStyle(f font.Font, size vg.Length, c color.Color) text.Style {
	return text.Style{Font: font.From(f, size), Color: c, Handler: plot.DefaultTextHandler}
}

// figure is a plot with its legend kept outside the plotting area, and a size in pixels.
type figure struct {
	plot     *plot.Plot
	legend   []legendEntry
	widthPx  int
	heightPx int
}

type legendEntry struct {
	name  string
	thumb plot.Thumbnailer
}

// newPlot makes a plot styled for the report: Liberation Sans, labelled axes, light grid.
func newPlot(title, xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = clip(title, maxTitleRunes)
	// Change only font and colour: plot.New's styles carry the alignment and the Y label's rotation.
	restyle := func(st *text.Style, f font.Font, size vg.Length) {
		st.Font = font.From(f, size)
		st.Color = darkGrey
	}
	restyle(&p.Title.TextStyle, sansBold, 12)
	p.Title.Padding = vg.Points(8)
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		restyle(&ax.Label.TextStyle, sans, 10.5)
		restyle(&ax.Tick.Label, sans, 9)
		ax.Label.Padding = vg.Points(4)
		ax.Color = darkGrey
		ax.Tick.Color = darkGrey
		ax.LineStyle.Color = darkGrey
	}
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	return p
}

func (f *figure) addLegend(name string, thumb plot.Thumbnailer) {
	f.legend = append(f.legend, legendEntry{clip(name, MaxNameRunes), thumb})
}

var legendStyle = textStyle(sans, 9, darkGrey)

// legendWidth is the width of the strip the legend needs, margins included.
func (f *figure) legendWidth() vg.Length {
	if len(f.legend) == 0 {
		return 0
	}
	var w vg.Length
	for _, e := range f.legend {
		w = max(w, legendStyle.Width(e.name))
	}
	return w + vg.Points(20) + legendStyle.Width(" ") + vg.Points(18)
}

// draw paints the figure: white background, the plot on the left, the legend in a strip on the right, so
// that the legend never covers data.
func (f *figure) draw(c draw.Canvas) {
	c.SetColor(color.White)
	c.Fill(c.Rectangle.Path())
	lw := f.legendWidth()
	f.plot.Draw(draw.Crop(c, 0, -lw, 0, 0))
	if lw == 0 {
		return
	}
	top := c.Max.Y - vg.Points(6)
	if f.plot.Title.Text != "" {
		top -= f.plot.Title.TextStyle.Rectangle(f.plot.Title.Text).Size().Y + f.plot.Title.Padding
	}
	l := plot.NewLegend()
	l.TextStyle = legendStyle
	l.Top, l.Left = true, true
	l.ThumbnailWidth = vg.Points(20)
	l.Padding = vg.Points(3)
	for _, e := range f.legend {
		l.Add(e.name, e.thumb)
	}
	l.Draw(draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{
		Min: vg.Point{X: c.Max.X - lw + vg.Points(10), Y: c.Min.Y},
		Max: vg.Point{X: c.Max.X - vg.Points(4), Y: top},
	}})
}

// PNG renders the figure as a PNG of exactly widthPx x heightPx pixels.
func (f *figure) PNG() ([]byte, error) {
	c := vgimg.NewWith(vgimg.UseWH(px(float64(f.widthPx)), px(float64(f.heightPx))), vgimg.UseDPI(dpi))
	if err := safeDraw(f, draw.New(c)); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// SVG renders the figure as SVG. Text names Liberation Sans first, then the metric-compatible Arial and
// Helvetica, so that labels keep the widths gonum measured them with where Liberation is not installed.
func (f *figure) SVG() ([]byte, error) {
	c := vgsvg.New(px(float64(f.widthPx)), px(float64(f.heightPx)))
	if err := safeDraw(f, draw.New(c)); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	out := bytes.ReplaceAll(buf.Bytes(), []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
	return out, nil
}

// safeDraw turns a panic inside gonum (for example a log scale given a value <= 0) into an error.
func safeDraw(f *figure, c draw.Canvas) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("drawing chart %q: %v", f.plot.Title.Text, r)
		}
	}()
	f.draw(c)
	return nil
}

// swatch is a filled square legend thumbnail.
type swatch struct{ color color.Color }

func (s swatch) Thumbnail(c *draw.Canvas) {
	r := c.Rectangle
	h := r.Max.Y - r.Min.Y
	side := min(h, r.Max.X-r.Min.X)
	x0 := r.Min.X + (r.Max.X-r.Min.X-side)/2
	pts := []vg.Point{{X: x0, Y: r.Min.Y}, {X: x0 + side, Y: r.Min.Y}, {X: x0 + side, Y: r.Min.Y + side}, {X: x0, Y: r.Min.Y + side}}
	c.FillPolygon(s.color, pts)
}

// bars draws rectangles, whiskers and value labels in data coordinates: grouped and stacked bar charts
// without gonum's bar widths in canvas units.
type bars struct {
	rects    []barRect
	whiskers []whisker
	labels   []barLabel
}

type barRect struct {
	x, halfW, y0, y1 float64
	color            color.Color
}

type whisker struct{ x, lo, hi, capHalfW float64 }

type barLabel struct {
	x, y float64
	text string
}

var barLabelStyle = func() text.Style {
	s := textStyle(sans, 8.5, darkGrey)
	s.XAlign = draw.XCenter
	s.YAlign = draw.YBottom
	return s
}()

func (b *bars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sep := draw.LineStyle{Color: color.White, Width: vg.Points(0.75)}
	for _, r := range b.rects {
		if r.y1 == r.y0 {
			continue
		}
		x0, x1 := trX(r.x-r.halfW), trX(r.x+r.halfW)
		y0, y1 := trY(r.y0), trY(r.y1)
		pts := []vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}, {X: x1, Y: y1}, {X: x0, Y: y1}}
		c.FillPolygon(r.color, c.ClipPolygonXY(pts))
		if r.y0 != 0 {
			c.StrokeLines(sep, c.ClipLinesXY([]vg.Point{{X: x0, Y: y0}, {X: x1, Y: y0}})...)
		}
	}
	ws := draw.LineStyle{Color: darkGrey, Width: vg.Points(1)}
	for _, w := range b.whiskers {
		x := trX(w.x)
		lo, hi := trY(w.lo), trY(w.hi)
		cl, cr := trX(w.x-w.capHalfW), trX(w.x+w.capHalfW)
		c.StrokeLines(ws, c.ClipLinesXY([]vg.Point{{X: x, Y: lo}, {X: x, Y: hi}})...)
		c.StrokeLines(ws, c.ClipLinesXY([]vg.Point{{X: cl, Y: lo}, {X: cr, Y: lo}})...)
		c.StrokeLines(ws, c.ClipLinesXY([]vg.Point{{X: cl, Y: hi}, {X: cr, Y: hi}})...)
	}
	for _, l := range b.labels {
		c.FillText(barLabelStyle, vg.Point{X: trX(l.x), Y: trY(l.y) + vg.Points(2)}, l.text)
	}
}

// top is the highest value drawn (bar tops and whiskers).
func (b *bars) top() float64 {
	t := 0.0
	for _, r := range b.rects {
		t = math.Max(t, math.Max(r.y0, r.y1))
	}
	for _, w := range b.whiskers {
		t = math.Max(t, w.hi)
	}
	return t
}

// lineThumb is a legend thumbnail for a line style.
type lineThumb struct{ style draw.LineStyle }

func (l lineThumb) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	c.StrokeLine2(l.style, c.Min.X, y, c.Max.X, y)
}

// niceTicks125 returns ticks at 1, 2 and 5 times powers of ten between lo and hi (both > 0), labelled, and
// the range widened to the nearest such values.
func niceTicks125(lo, hi float64) (ticks []plot.Tick, min, max float64) {
	steps := []float64{1, 2, 5}
	floor125 := func(v float64) float64 {
		e := math.Floor(math.Log10(v))
		best := math.Pow(10, e)
		for _, s := range steps {
			if c := s * math.Pow(10, e); c <= v*(1+1e-9) {
				best = c
			}
		}
		return best
	}
	ceil125 := func(v float64) float64 {
		e := math.Floor(math.Log10(v))
		for _, s := range append(steps, 10) {
			if c := s * math.Pow(10, e); c >= v*(1-1e-9) {
				return c
			}
		}
		return 10 * math.Pow(10, e)
	}
	min, max = floor125(lo), ceil125(hi)
	if min >= max {
		min, max = floor125(min/1.5), ceil125(max*1.5)
	}
	decades := math.Log10(max / min)
	for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
		for _, s := range steps {
			v := s * math.Pow(10, e)
			if v < min*(1-1e-9) || v > max*(1+1e-9) {
				continue
			}
			label := strconv.FormatFloat(v, 'f', -1, 64)
			// Over many decades, label only the powers of ten; keep the others as minor ticks.
			if decades > 3.5 && s != 1 {
				label = ""
			}
			ticks = append(ticks, plot.Tick{Value: v, Label: label})
		}
	}
	return ticks, min, max
}

// splitVariant breaks a variant name over lines for an x tick label: "uring conns=16" -> "uring\nconns=16".
func splitVariant(v string) string {
	return strings.ReplaceAll(clip(v, MaxNameRunes), " ", "\n")
}

// linearTicks marks about six ticks at 1, 2, 2.5 or 5 times a power of ten, labelled with no more
// decimals than the step needs.
type linearTicks struct{}

func (linearTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	// Of the 1-2-2.5-5 steps near (hi-lo)/6, take the one whose tick count is closest to 6 (the larger
	// step on a tie).
	e := math.Floor(math.Log10((hi - lo) / 6))
	step, best := 0.0, math.Inf(1)
	for de := -1.0; de <= 1; de++ {
		for _, m := range []float64{1, 2, 2.5, 5} {
			st := m * math.Pow(10, e+de)
			n := math.Floor(hi/st+1e-9) - math.Ceil(lo/st-1e-9) + 1
			if score := math.Abs(n - 6); score < best || score == best && st > step {
				step, best = st, score
			}
		}
	}
	decimals := 0
	if step < 1 {
		decimals = int(math.Ceil(-math.Log10(step) - 1e-9))
		if m := step * math.Pow(10, float64(decimals)); math.Abs(m-math.Round(m)) > 1e-9 {
			decimals++ // 2.5 × 10^-n needs one more
		}
	} else if math.Abs(step-math.Round(step)) > 1e-9 {
		decimals = 1
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step-1e-9) * step; v <= hi+step*1e-9; v += step {
		if math.Abs(v) < step*1e-9 {
			v = 0
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals, 64)})
	}
	return ticks
}
