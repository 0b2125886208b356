package export

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/series"
)

// Quantiles are the quantiles of ringbench_latency_seconds.
var Quantiles = []float64{0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1}

// gauge is one OpenMetrics gauge family: a metric of the catalogue (result.Metrics), rescaled.
type gauge struct {
	name, unit, help string
	metric           string  // result.Metric name
	scale            float64 // multiplies the catalogue's value (ns to seconds ...)
}

var gauges = []gauge{
	{"ringbench_ops_per_second", "", "Operations per second (median over timed samples).", "ops/s", 1},
	{"ringbench_throughput_bytes_per_second", "bytes_per_second", "Bytes moved per second (median over timed samples).", "MB/s", 1e6},
	{"ringbench_syscalls_per_op", "", "System calls of the I/O thread per operation (median over counted samples).", "syscalls/op", 1},
	{"ringbench_other_syscalls_per_second", "", "System calls per second of the rest of the process (median over counted samples).", "other-syscalls/s", 1},
	{"ringbench_io_uring_enters_per_op", "", "io_uring_enter calls per operation, by the ring's own count (median over counted samples).", "enters/op", 1},
	{"ringbench_cpu_seconds_per_op", "", "CPU time per operation, user and system, io_uring kernel threads included (median over timed samples).", "cpu-ns/op", 1e-9},
	{"ringbench_context_switches_per_op", "", "Context switches per operation (median over timed samples).", "ctxsw/op", 1},
	{"ringbench_peak_rss_bytes", "bytes", "Peak resident set size (median over samples).", "peak-rss", 1},
	{"ringbench_idle_conn_memory_bytes", "bytes", "Server RSS per idle connection (median over samples).", "mem/idle-conn", 1},
}

// omSeries is the samples of one series of one label, valid ones only.
type omSeries struct {
	labels  string // rendered label pairs, without braces
	samples []*result.Sample
}

// WriteOpenMetrics writes files as OpenMetrics text (https://prometheus.io/docs/specs/om/open_metrics_spec/):
// per series (labels workload, backend, params, kind, and label when the file has one), the median of each
// figure over the valid samples of the kind that measures it, as a gauge; latency as a summary whose
// quantiles come from the samples' histograms merged (never averaged percentiles), in seconds; and
// ringbench_samples, how many samples each figure is the median of. Samples of the same series in several
// files are taken together. No timestamps: a Pushgateway refuses them. Ends with # EOF. Prometheus's
// text format 0.0.4 reads it too (# UNIT and # EOF are comments there).
func WriteOpenMetrics(w io.Writer, files ...*result.File) error {
	var all []*omSeries
	byLabels := map[string]*omSeries{}
	for _, f := range files {
		if f == nil {
			continue
		}
		valid, _ := series.Valid(f.Samples)
		for _, g := range series.Samples(valid) {
			key := labelPairs(f.Label, g.Workload, g.Backend, result.ParamsString(g.Params))
			s := byLabels[key]
			if s == nil {
				s = &omSeries{labels: key}
				byLabels[key] = s
				all = append(all, s)
			}
			s.samples = append(s.samples, g.Samples...)
		}
	}
	bw := bufio.NewWriter(w)
	family := func(name, typ, unit, help string) {
		fmt.Fprintf(bw, "# TYPE %s %s\n", name, typ)
		if unit != "" {
			fmt.Fprintf(bw, "# UNIT %s %s\n", name, unit)
		}
		fmt.Fprintf(bw, "# HELP %s %s\n", name, escapeHelp(help))
	}

	family("ringbench_samples", "gauge", "", "Valid samples of the series, by kind: what the other figures are medians of.")
	for _, s := range all {
		counts := map[string]int{}
		for _, smp := range s.samples {
			counts[kindOf(smp)]++
		}
		for _, k := range slices.Sorted(maps.Keys(counts)) {
			fmt.Fprintf(bw, "ringbench_samples{%s,kind=%s} %d\n", s.labels, quote(k), counts[k])
		}
	}

	for _, g := range gauges {
		m, ok := result.MetricByName(g.metric)
		if !ok {
			return fmt.Errorf("openmetrics: no metric %q in the catalogue", g.metric)
		}
		kind := m.Kind
		if kind == "" {
			kind = "any"
		}
		wrote := false
		for _, s := range all {
			ser := &series.Series{Samples: s.samples}
			v, ok := ser.MedianOf(series.Of(m))
			if !ok {
				continue
			}
			if !wrote {
				family(g.name, "gauge", g.unit, g.help)
				wrote = true
			}
			fmt.Fprintf(bw, "%s{%s,kind=%s} %s\n", g.name, s.labels, quote(kind), omFloat(v*g.scale))
		}
	}

	wrote := false
	for _, s := range all {
		h, err := mergedLatency(s.samples)
		if err != nil {
			return fmt.Errorf("openmetrics: %w", err)
		}
		if h == nil {
			continue
		}
		if !wrote {
			family("ringbench_latency_seconds", "summary", "seconds",
				"Latency of an operation, from the timed samples' histograms merged.")
			wrote = true
		}
		for _, q := range Quantiles {
			fmt.Fprintf(bw, "ringbench_latency_seconds{%s,kind=\"timed\",quantile=\"%s\"} %s\n", s.labels,
				strconv.FormatFloat(q, 'g', -1, 64), omFloat(float64(h.ValueAtQuantile(q*100))/1e9))
		}
		fmt.Fprintf(bw, "ringbench_latency_seconds_sum{%s,kind=\"timed\"} %s\n", s.labels, omFloat(h.Mean()*float64(h.TotalCount())/1e9))
		fmt.Fprintf(bw, "ringbench_latency_seconds_count{%s,kind=\"timed\"} %d\n", s.labels, h.TotalCount())
	}
	fmt.Fprintln(bw, "# EOF")
	return bw.Flush()
}

// mergedLatency merges the histograms of the timed samples that have one; nil when none has.
func mergedLatency(samples []*result.Sample) (*hdrhistogram.Histogram, error) {
	var merged *hdrhistogram.Histogram
	for _, s := range samples {
		if !s.Timed() || s.Latency.Count == 0 || s.Latency.Histogram == "" {
			continue
		}
		h, err := result.DecodeHistogram(s.Latency.Histogram)
		if err != nil {
			return nil, fmt.Errorf("%s/%s repeat %d: %w", s.Workload, s.Backend, s.Repeat, err)
		}
		if merged == nil {
			merged = result.NewHistogram()
		}
		merged.Merge(h)
	}
	if merged == nil || merged.TotalCount() == 0 {
		return nil, nil
	}
	return merged, nil
}

// kindOf is a sample's kind as a label value: "timed", "counted", or "any" for samples of files written
// before samples had kinds (they measured every figure).
func kindOf(s *result.Sample) string {
	if s.Kind == "" {
		return "any"
	}
	return s.Kind
}

func labelPairs(label, workload, backend, params string) string {
	var b strings.Builder
	if label != "" {
		b.WriteString("label=" + quote(label) + ",")
	}
	b.WriteString("workload=" + quote(workload) + ",backend=" + quote(backend) + ",params=" + quote(params))
	return b.String()
}

// quote renders a label value: in double quotes, with backslash, double quote and line feed escaped, as
// both OpenMetrics and the Prometheus text format want.
func quote(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}

// escapeHelp escapes HELP text as OpenMetrics does (backslash, double quote, line feed).
func escapeHelp(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

func omFloat(v float64) string {
	return strconv.FormatFloat(v, 'g', -1, 64)
}
