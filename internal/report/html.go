package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ringbench/ringbench/internal/costmodel"
	"github.com/ringbench/ringbench/internal/findings"
	"github.com/ringbench/ringbench/internal/result"
)

//go:embed template.html
var pageTemplate string

var page = template.Must(template.New("index.html").Funcs(template.FuncMap{
	"add":   func(a, b int) int { return a + b },
	"short": shortHTML,
}).Parse(pageTemplate))

// pageData is what template.html renders.
type pageData struct {
	Tool      string
	Generated string
	Multi     bool
	SetWord   string
	Inputs    []inputRow
	Warnings  []Warning
	// Findings are the claims the inputs answer (internal/findings); nil when they answer none.
	Findings  []findingRow
	Summary   summaryTable
	CostModel []costmodel.Block
	Env       envView
	Workloads []workloadView
	// Sweeps are the Sweeps section's groups of charts, one per sweep; SweepsLeftOut what did not fit.
	Sweeps        []sweepView
	SweepsLeftOut []string
}

type sweepView struct {
	Workload, Title, Anchor string
	Charts                  []chartView
}

type findingRow struct {
	N                           int
	Claim, Figure, Verdict, Why string
	// Anchor is the id of the section that shows the figure; "" when the claim was not measured.
	Anchor string
}

type inputRow struct {
	Name, Path, Set, Label, Started, Kernel, Command string
	Samples                                          int
	Duration                                         string
}

type summaryTable struct {
	Colspan int
	Columns []string
	Groups  []summaryGroup
}

type summaryGroup struct {
	Workload, Anchor string
	Rows             []summaryRow
}

type summaryRow struct {
	Variant, Set string
	N            int
	Few          bool
	Cells        []string
}

type envView struct {
	Columns []string
	Groups  []envGroup
	Differs []string
}

type envGroup struct {
	Name string
	Rows []EnvRow
}

type workloadView struct {
	Name, Anchor string
	Warnings     []Warning
	Charts       []chartView
	Samples      rawTable
	Latency      rawTable
	Syscalls     rawTable
}

type chartView struct {
	ID, Title, Caption, PNG, SVGFile string
	Kind                             string
	SVG                              template.HTML
	WidthPx                          int
	// Wide charts (many bars) take a whole row of the grid rather than being shrunk into a column.
	Wide bool
	// Table is figures shown under the chart (a scaling chart's efficiencies); nil for most.
	Table *rawTable
}

type rawTable struct {
	Columns []string
	Rows    [][]string
}

// summaryColumn is a column of the summary table: a header and a cell per series ("" = not available).
type summaryColumn struct {
	header string
	cell   func(s *Series, w *Workload, r *Report) string
}

func metricMedian(name string, format func(float64) string) func(*Series, *Workload, *Report) string {
	return func(s *Series, _ *Workload, _ *Report) string {
		sp, ok := s.Metrics[name]
		if !ok || sp.N == 0 {
			return ""
		}
		return format(sp.Median)
	}
}

func latencyCell(q float64, metric string) func(*Series, *Workload, *Report) string {
	return func(s *Series, w *Workload, r *Report) string {
		if v, ok := s.LatencyAt(q); ok {
			return formatNs(v)
		}
		// No histogram: the median of the samples' own percentiles, marked as such.
		if sp, ok := s.Metrics[metric]; ok && sp.N > 0 {
			return formatNs(sp.Median) + "*"
		}
		return ""
	}
}

var summaryColumns = []summaryColumn{
	{"ops/s (median, min–max)", func(s *Series, _ *Workload, _ *Report) string {
		sp := s.OpsPerSec
		if sp.N == 0 {
			return ""
		}
		if sp.N == 1 {
			return formatRate(sp.Median)
		}
		return fmt.Sprintf("%s (%s–%s)", formatRate(sp.Median), formatRate(sp.Min), formatRate(sp.Max))
	}},
	{"ops/s vs epoll", func(s *Series, w *Workload, r *Report) string {
		base := epollBaseline(s, w)
		if base == nil || base == s || base.OpsPerSec.Median <= 0 || s.OpsPerSec.N == 0 {
			return ""
		}
		return formatRatio(s.OpsPerSec.Median / base.OpsPerSec.Median)
	}},
	{"p50", latencyCell(0.5, "p50")},
	{"p99", latencyCell(0.99, "p99")},
	{"p99.9", latencyCell(0.999, "p99.9")},
	{"syscalls/op", func(s *Series, _ *Workload, _ *Report) string {
		if sp, ok := s.Metrics["syscalls/op"]; ok && sp.N > 0 {
			return formatPerOp(sp.Median)
		}
		if s.Syscalls != nil && s.Syscalls.Missing > 0 {
			return "n/a"
		}
		return ""
	}},
	{"io_uring_enter/op", metricMedian("enters/op", formatPerOp)},
	// io_uring's own tracepoints (counted samples of io_uring series; empty for the others).
	{"submitted/op", metricMedian("submitted/op", formatPerOp)},
	{"async punts/op", metricMedian("async punts/op", formatPerOp)},
	{"worker CPU/op", func(s *Series, _ *Workload, _ *Report) string {
		// Beside the punts it explains; already inside CPU/op.
		if sp, ok := s.Metrics["async punts/op"]; !ok || sp.N == 0 || s.CPU == nil {
			return ""
		}
		if s.CPU.Worker == 0 {
			return "0"
		}
		return formatNs(s.CPU.Worker)
	}},
	{"task work/op", metricMedian("task work/op", formatPerOp)},
	{"poll arms/op", metricMedian("poll arms/op", formatPerOp)},
	{"cq overflows", metricMedian("cq overflows", formatPerOp)},
	{"CPU/op", metricMedian("cpu-ns/op", formatNs)},
	{"ctx switches/op", metricMedian("ctxsw/op", formatPerOp)},
	{"MB/s", metricMedian("MB/s", sig3)},
	{"peak RSS", metricMedian("peak-rss", formatBytes)},
	{"memory/idle conn", metricMedian("mem/idle-conn", formatBytes)},
}

func columnUsed(c summaryColumn, r *Report) bool {
	for _, w := range r.Workloads {
		for _, s := range w.Series {
			if c.cell(s, w, r) != "" {
				return true
			}
		}
	}
	return false
}

// epollBaseline is the epoll series to compare s with: same workload and set, same varying params when
// epoll has such a series, else the only epoll series of that set.
func epollBaseline(s *Series, w *Workload) *Series {
	var cands []*Series
	for _, o := range w.Series {
		if o.Backend == "epoll" && o.Set == s.Set {
			cands = append(cands, o)
		}
	}
	for _, o := range cands {
		if result.ParamsString(o.VaryingParams) == result.ParamsString(s.VaryingParams) {
			return o
		}
	}
	if len(cands) == 1 {
		return cands[0]
	}
	return nil
}

// HTML renders index.html: one self-contained page with the charts inline as SVG.
func HTML(r *Report, charts []*Chart, tool string, generated time.Time) ([]byte, error) {
	d := pageData{Tool: tool, Generated: generated.UTC().Format("2006-01-02 15:04 MST"), Multi: r.MultiSet(),
		SetWord: setWord(r), Warnings: r.Warnings}
	for _, in := range r.Inputs {
		f := in.File
		row := inputRow{Name: in.Name, Path: in.Path, Set: in.Set, Label: f.Label, Kernel: f.Env.Kernel.Release,
			Samples: len(f.Samples), Command: strings.Join(f.Command, " ")}
		if !f.Started.IsZero() {
			row.Started = f.Started.UTC().Format(time.DateTime)
			if f.Finished.After(f.Started) {
				row.Duration = f.Finished.Sub(f.Started).Round(time.Second).String()
			}
		}
		d.Inputs = append(d.Inputs, row)
	}

	// Summary: only the columns some series has.
	var cols []summaryColumn
	for _, c := range summaryColumns {
		if columnUsed(c, r) {
			cols = append(cols, c)
		}
	}
	for _, c := range cols {
		d.Summary.Columns = append(d.Summary.Columns, c.header)
	}
	d.Summary.Colspan = len(cols) + 2
	if d.Multi {
		d.Summary.Colspan++
	}
	for _, w := range r.Workloads {
		g := summaryGroup{Workload: w.Name, Anchor: "wl-" + slug(w.Name)}
		for _, s := range w.Series {
			row := summaryRow{Variant: s.Variant, Set: s.Set, N: len(s.Samples), Few: len(s.Samples) < MinSamples}
			for _, c := range cols {
				v := c.cell(s, w, r)
				if v == "" {
					v = "—"
				}
				row.Cells = append(row.Cells, v)
			}
			g.Rows = append(g.Rows, row)
		}
		d.Summary.Groups = append(d.Summary.Groups, g)
	}

	d.CostModel = costModelBlocks(r)
	d.Findings = findingRows(r)

	// Environment, side by side.
	for _, in := range r.Inputs {
		name := in.Name
		if in.Set != "" && in.Set != strings.TrimSuffix(in.Name, ".json") {
			name += " (" + in.Set + ")"
		}
		d.Env.Columns = append(d.Env.Columns, name)
	}
	for _, row := range EnvTable(r.Inputs) {
		if n := len(d.Env.Groups); n == 0 || d.Env.Groups[n-1].Name != row.Group {
			d.Env.Groups = append(d.Env.Groups, envGroup{Name: row.Group})
		}
		g := &d.Env.Groups[len(d.Env.Groups)-1]
		g.Rows = append(g.Rows, row)
		if row.Differs {
			d.Env.Differs = append(d.Env.Differs, row.Group+" "+row.Field)
		}
	}

	for _, w := range r.Workloads {
		wv := workloadView{Name: w.Name, Anchor: "wl-" + slug(w.Name)}
		for _, wn := range r.Warnings {
			if slices.Contains(wn.Workloads, w.Name) {
				wv.Warnings = append(wv.Warnings, wn)
			}
		}
		for _, c := range charts {
			if c.Workload != w.Name || c.sweep != nil {
				continue
			}
			wv.Charts = append(wv.Charts, newChartView(c))
		}
		wv.Samples = sampleTable(r, w)
		wv.Latency = latencyTable(w)
		wv.Syscalls = syscallTable(w)
		d.Workloads = append(d.Workloads, wv)
	}

	index := map[*Sweep]int{}
	for _, c := range charts {
		if c.sweep == nil {
			continue
		}
		i, ok := index[c.sweep]
		if !ok {
			i = len(d.Sweeps)
			index[c.sweep] = i
			title := c.sweep.Describe()
			if c.sweep.Inferred {
				title += " (inferred from the series)"
			}
			d.Sweeps = append(d.Sweeps, sweepView{Workload: c.sweep.Workload, Title: title,
				Anchor: fmt.Sprintf("sweep-%d", i+1)})
		}
		d.Sweeps[i].Charts = append(d.Sweeps[i].Charts, newChartView(c))
	}
	d.SweepsLeftOut = r.SweepsLeftOut

	var buf bytes.Buffer
	if err := page.Execute(&buf, d); err != nil {
		return nil, fmt.Errorf("rendering index.html: %w", err)
	}
	return buf.Bytes(), nil
}

// findingRows are the findings of the report's files taken together, nil when no claim was measured.
func findingRows(r *Report) []findingRow {
	var files []*result.File
	for _, in := range r.Inputs {
		files = append(files, in.File)
	}
	fs := findings.Evaluate(files...)
	if !findings.Measured(fs) {
		return nil
	}
	rows := make([]findingRow, len(fs))
	for i, f := range fs {
		rows[i] = findingRow{N: i + 1, Claim: f.Claim, Figure: f.Figure, Verdict: string(f.Verdict), Why: f.Why}
		if f.Verdict != findings.NotMeasured {
			rows[i].Anchor = f.Anchor
		}
	}
	return rows
}

func newChartView(c *Chart) chartView {
	return chartView{ID: "chart-" + c.Name, Title: c.Title, Caption: c.Caption,
		PNG: c.Name + ".png", SVGFile: c.Name + ".svg", Kind: c.Kind, SVG: inlineSVG(c.SVG),
		WidthPx: c.WidthPx, Wide: c.WidthPx > DefaultWidth*5/4, Table: c.table}
}

var svgProlog = regexp.MustCompile(`^(?s)\s*<\?xml[^>]*\?>\s*(<!--.*?-->\s*)?`)

// inlineSVG strips the XML prolog so that the SVG can sit inside HTML. The SVG is ours (gonum escapes
// every text it draws), so it is trusted markup.
func inlineSVG(svg []byte) template.HTML {
	return template.HTML(svgProlog.ReplaceAll(svg, nil)) //nolint:gosec // generated by gonum, text escaped
}

func sampleTable(r *Report, w *Workload) rawTable {
	t := rawTable{Columns: []string{"series", "file", "repeat", "seconds", "ops", "ops/s", "p50", "p99", "p99.9",
		"max", "syscalls/op", "io_uring_enter/op", "user/op", "sys/op", "SQPOLL/op", "ctxsw/op", "peak RSS",
		"page cache", "memory/idle conn", "warnings"}}
	if !r.MultiSet() {
		t.Columns[0] = "backend"
	}
	fileOf := map[*result.Sample]string{}
	for _, in := range r.Inputs {
		for i := range in.File.Samples {
			fileOf[&in.File.Samples[i]] = in.Name
		}
	}
	for _, s := range w.Series {
		for _, smp := range s.Samples {
			perOp := func(ns uint64) string {
				if smp.Ops <= 0 {
					return "—"
				}
				return formatNs(float64(ns) / float64(smp.Ops))
			}
			sys := smp.CPU.SysNs
			if smp.CPU.PollThreadNs <= sys {
				sys -= smp.CPU.PollThreadNs
			}
			repeat := fmt.Sprint(smp.Repeat)
			if smp.Kind != "" {
				repeat += " " + smp.Kind
			}
			row := []string{s.Name(), fileOf[smp], repeat, fmt.Sprintf("%.2f", smp.Seconds),
				fmt.Sprint(smp.Ops), formatRate(smp.OpsPerSec)}
			if smp.Latency.Count > 0 {
				row = append(row, formatNs(float64(smp.Latency.P50)), formatNs(float64(smp.Latency.P99)),
					formatNs(float64(smp.Latency.P999)), formatNs(float64(smp.Latency.Max)))
			} else {
				row = append(row, "—", "—", "—", "—")
			}
			if v, ok := smp.IOSyscalls(); ok {
				row = append(row, formatPerOp(v))
			} else {
				row = append(row, "n/a")
			}
			if smp.EntersPerOp >= 0 && smp.Backend != "epoll" && smp.Backend != "gostd" {
				row = append(row, formatPerOp(smp.EntersPerOp))
			} else {
				row = append(row, "—")
			}
			row = append(row, perOp(smp.CPU.UserNs), perOp(sys))
			if smp.CPU.PollThreadNs > 0 {
				row = append(row, perOp(smp.CPU.PollThreadNs))
			} else {
				row = append(row, "—")
			}
			if smp.ContextSwitches.Available {
				row = append(row, formatPerOp(smp.ContextSwitches.PerOp))
			} else {
				row = append(row, "n/a")
			}
			if smp.PeakRSSBytes > 0 {
				row = append(row, formatBytes(float64(smp.PeakRSSBytes)))
			} else {
				row = append(row, "—")
			}
			if res := smp.Residency; res != nil {
				cell := fmt.Sprintf("%.0f%% → %.0f%%", 100*res.Before, 100*res.After)
				if res.Locked {
					cell += " (locked)"
				}
				row = append(row, cell)
			} else {
				row = append(row, "—")
			}
			if m := smp.Memory; m != nil {
				cell := fmt.Sprintf("%s RSS", formatBytes(m.RSSPerConnBytes))
				if m.SlabPerConnBytes != nil {
					cell += fmt.Sprintf(" + %s slab", formatBytes(*m.SlabPerConnBytes))
				}
				row = append(row, cell+fmt.Sprintf(" (%d conns)", m.IdleConns))
			} else {
				row = append(row, "—")
			}
			row = append(row, strings.Join(warningTexts(smp.Warnings), "; "))
			t.Rows = append(t.Rows, row)
		}
	}
	return t
}

func latencyTable(w *Workload) rawTable {
	t := rawTable{Columns: []string{"series", "samples", "count"}}
	for _, q := range Quantiles {
		t.Columns = append(t.Columns, quantileLabel(q))
	}
	for _, s := range w.Series {
		if s.Hist == nil {
			continue
		}
		row := []string{s.Name(), fmt.Sprint(s.HistSamples), fmt.Sprint(s.Hist.TotalCount())}
		for _, q := range Quantiles {
			v, _ := s.LatencyAt(q)
			row = append(row, formatNs(v))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

func quantileLabel(q float64) string {
	if q >= 1 {
		return "max"
	}
	s := fmt.Sprintf("%.3f", 100*q)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return "p" + s
}

func syscallTable(w *Workload) rawTable {
	names := map[string]bool{}
	for _, s := range w.Series {
		if s.Syscalls != nil {
			for n := range s.Syscalls.ByNamePerOp {
				names[n] = true
			}
		}
	}
	if len(names) == 0 {
		return rawTable{}
	}
	var cols []string
	for n := range names {
		if n != "other" {
			cols = append(cols, n)
		}
	}
	sort.Strings(cols)
	if names["other"] {
		cols = append(cols, "other")
	}
	t := rawTable{Columns: append([]string{"series", "total/op", "scope"}, cols...)}
	for _, s := range w.Series {
		if s.Syscalls == nil {
			continue
		}
		if s.Syscalls.Samples == 0 {
			t.Rows = append(t.Rows, append([]string{s.Name(), "n/a: " + s.Syscalls.Reason, ""}, make([]string, len(cols))...))
			continue
		}
		row := []string{s.Name(), formatPerOp(s.Syscalls.Pooled), s.Syscalls.Scope}
		for _, n := range cols {
			v := s.Syscalls.ByNamePerOp[n]
			if v == 0 || math.IsNaN(v) {
				row = append(row, "")
			} else {
				row = append(row, formatPerOp(v))
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}
