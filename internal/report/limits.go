package report

import (
	"fmt"
	"hash/fnv"
	"html/template"
	"strings"
	"unicode/utf8"

	"github.com/ringbench/ringbench/internal/series"
)

// Bounds on what one report reads and draws. Past them a chart is no longer readable, and drawing it
// costs gigabytes: a file of 3,000 backends once asked for a PNG 136,443 pixels wide and 4 GB of memory.
// Inputs past MaxSamples or MaxSeriesPerChart are refused (ErrInput, one line); names are shortened for
// display, never in the data.
const (
	// MaxSamples is the most samples a report reads, over all its files.
	MaxSamples = 20_000
	// MaxInputBytes is the most bytes of result files a report reads, over all its files.
	MaxInputBytes = 64 << 20
	// MaxSeries is the most series of a report, over all workloads (each holds a merged latency
	// histogram of about 270 KiB).
	MaxSeries = 512
	// MaxSeriesPerChart is the most series (backend × varying parameters × set) of one workload, hence
	// the most bars or lines of one chart.
	MaxSeriesPerChart = 64
	// MaxCharts is the most charts one report draws (each workload has up to seven, latency charts one per
	// parameter value).
	MaxCharts = 200
	// MaxChartWidthPx bounds every chart's width, however many bars it has and however long their labels.
	MaxChartWidthPx = 8000
	// MaxNameRunes is how much of a name (workload, backend, label, parameters) a chart or the page shows;
	// the page keeps the whole name in a title attribute.
	MaxNameRunes = 48
	// maxTitleRunes bounds a chart's title, which joins a name and a description.
	maxTitleRunes = 96
	// maxKeptHistograms is how many decoded histograms LoadFiles keeps for Build.
	maxKeptHistograms = 256
	// maxSlugBytes bounds the names of chart files and HTML ids derived from names.
	maxSlugBytes = 64
)

// checkSamples refuses inputs that hold more than MaxSamples samples in all; seen is the count so far.
func checkSamples(path string, seen int) error {
	if seen > MaxSamples {
		return inputError(fmt.Errorf("%s: %d samples in the files so far, more than the %d a report reads (report fewer files)",
			path, seen, MaxSamples))
	}
	return nil
}

// checkSeries refuses a report with a workload of more than MaxSeriesPerChart series, before any chart
// is laid out.
func checkSeries(r *Report) error {
	for _, w := range r.Workloads {
		if err := checkSeriesCount(w.Name, len(w.Series)); err != nil {
			return err
		}
	}
	return nil
}

// checkGroups refuses, before anything is aggregated, more than MaxSeriesPerChart series in a workload
// or MaxSeries in all.
func checkGroups(groups []*series.Series) error {
	perWorkload := map[string]int{}
	for _, g := range groups {
		perWorkload[g.Workload]++
	}
	for _, g := range groups {
		if err := checkSeriesCount(g.Workload, perWorkload[g.Workload]); err != nil {
			return err
		}
	}
	if len(groups) > MaxSeries {
		return inputError(fmt.Errorf("the files hold %d series (workloads × backends × parameters × files), more than the %d a report draws; "+
			"report fewer files", len(groups), MaxSeries))
	}
	return nil
}

func checkSeriesCount(workload string, n int) error {
	if n > MaxSeriesPerChart {
		return inputError(fmt.Errorf("workload %s has %d series (backends × parameters × files), more than the %d a chart shows; "+
			"report fewer files, or split the result by backend", clip(workload, MaxNameRunes), n, MaxSeriesPerChart))
	}
	return nil
}

// tooManyCharts is the error for more than MaxCharts charts; the count stops there.
func tooManyCharts() error {
	return inputError(fmt.Errorf("the files make more than the %d charts a report draws (report fewer files)", MaxCharts))
}

// clip shortens s to at most n runes for display, ending it with an ellipsis when it was cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// shortHTML renders a name for the page: escaped, clipped to MaxNameRunes with the whole name in a
// title attribute when it was cut.
func shortHTML(s string) template.HTML {
	c := clip(s, MaxNameRunes)
	if c == s {
		return template.HTML(template.HTMLEscapeString(s))
	}
	return template.HTML(`<span title="` + template.HTMLEscapeString(s) + `">` + template.HTMLEscapeString(c) + `</span>`)
}

// boundSlug keeps a slug within maxSlugBytes, telling cut names apart by a hash of the whole name.
func boundSlug(slug, whole string) string {
	if len(slug) <= maxSlugBytes {
		return slug
	}
	h := fnv.New32a()
	h.Write([]byte(whole))
	return strings.Trim(slug[:maxSlugBytes-9], "-") + fmt.Sprintf("-%08x", h.Sum32())
}
