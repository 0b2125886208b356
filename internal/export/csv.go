package export

import (
	"encoding/csv"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/series"
)

// CSVHeader is the header row of WriteCSV. Columns are only ever added at the end, so that a script that
// reads columns by position keeps working; read them by name to be safe.
var CSVHeader = []string{
	"label", "workload", "backend", "params", "kind", "repeat", "invalid",
	"ops", "seconds", "ops_per_sec", "mb_per_sec",
	"latency_count", "p50_ns", "p90_ns", "p99_ns", "p99_9_ns", "max_ns",
	"syscalls_per_op", "other_syscalls_per_sec", "enters_per_op", "cpu_ns_per_op", "ctxsw_per_op",
	"peak_rss_bytes", "residency_before", "residency_after", "mem_per_idle_conn_bytes", "warnings",
}

// WriteCSV writes one row per sample of files, with CSVHeader first. A figure that was not measured, or
// that the sample's kind does not measure truly (a counted sample's latency, a timed sample's syscalls;
// see result.Metric.Kind), is an empty cell, never 0. Invalid samples are written too, with their reason in
// "invalid": filter on it. Text that a spreadsheet would run as a formula is neutralised (Neutralise).
func WriteCSV(w io.Writer, files ...*result.File) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, f := range files {
		if f == nil {
			continue
		}
		for i := range f.Samples {
			if err := cw.Write(csvRow(f, &f.Samples[i])); err != nil {
				return err
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvRow(f *result.File, s *result.Sample) []string {
	metric := func(name string) string {
		v, ok := series.OfName(name)(s)
		if !ok {
			return ""
		}
		return num(v)
	}
	lat := func(v int64) string {
		if s.Latency.Count <= 0 || !s.Timed() {
			return ""
		}
		return strconv.FormatInt(v, 10)
	}
	invalid := ""
	if s.Invalid != nil {
		invalid = s.Invalid.Kind + ": " + s.Invalid.Text
	}
	var resBefore, resAfter string
	if s.Residency != nil {
		resBefore, resAfter = num(s.Residency.Before), num(s.Residency.After)
	}
	warns := make([]string, 0, len(s.Warnings))
	for _, wn := range s.Warnings {
		warns = append(warns, wn.Text)
	}
	latCount := ""
	if s.Timed() {
		latCount = strconv.FormatInt(s.Latency.Count, 10)
	}
	row := []string{
		Neutralise(f.Label), Neutralise(s.Workload), Neutralise(s.Backend), Neutralise(result.ParamsString(s.Params)),
		Neutralise(s.Kind), strconv.Itoa(s.Repeat), Neutralise(invalid),
		strconv.FormatInt(s.Ops, 10), num(s.Seconds), metric("ops/s"), metric("MB/s"),
		latCount, lat(s.Latency.P50), lat(s.Latency.P90), lat(s.Latency.P99), lat(s.Latency.P999), lat(s.Latency.Max),
		metric("syscalls/op"), metric("other-syscalls/s"), metric("enters/op"), metric("cpu-ns/op"), metric("ctxsw/op"),
		metric("peak-rss"), resBefore, resAfter, metric("mem/idle-conn"), Neutralise(strings.Join(warns, "; ")),
	}
	return row
}

// num formats a figure in the shortest plain decimal (no exponent, which some spreadsheets misread) that
// reads back the same; non-finite values are left empty.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return ""
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// Neutralise makes a text cell safe to open in a spreadsheet: one that starts with =, +, -, @, a tab or a
// carriage return (which spreadsheets take as the start of a formula) gets a leading apostrophe, the
// OWASP advice for CSV injection. Numbers are written by num and never pass through here.
func Neutralise(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
