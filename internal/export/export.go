// Package export renders stored result files in every output format ringbench has: the summary table and
// Markdown of `run`, the result JSON itself, Go benchmark text (internal/gobench), CSV with one row per
// sample, OpenMetrics text for a Pushgateway or a Prometheus textfile collector, and HdrHistogram interval
// logs (.hlog) with percentile distributions (.hgrm). Everything works from a result.File alone, so `run`,
// `load` and `show` (a file rendered again, without measuring) print the same thing.
package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ringbench/ringbench/internal/costmodel"
	"github.com/ringbench/ringbench/internal/gobench"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/summary"
	"github.com/ringbench/ringbench/internal/termsafe"
)

// Formats are the output formats, in the order help texts list them.
var Formats = []string{"table", "json", "csv", "markdown", "gobench", "openmetrics"}

// ErrFormat is returned for a format not in Formats.
var ErrFormat = errors.New("unknown format")

// Check says whether format is one of Formats.
func Check(format string) error {
	for _, f := range Formats {
		if f == format {
			return nil
		}
	}
	return fmt.Errorf("%q: %w (want %s)", format, ErrFormat, strings.Join(Formats, ", "))
}

// Write renders files in format to w. Table, Markdown and JSON render each file on its own (JSON: one
// indented document per file, one after the other, as jq reads them); CSV, gobench and OpenMetrics write
// one document covering every file (a single CSV header, a single # EOF).
func Write(w io.Writer, format string, files ...*result.File) error {
	if err := Check(format); err != nil {
		return err
	}
	switch format {
	case "csv":
		return WriteCSV(w, files...)
	case "openmetrics":
		return WriteOpenMetrics(w, files...)
	case "gobench":
		return gobench.Write(w, files...)
	}
	for _, f := range files {
		var err error
		switch format {
		case "json":
			err = WriteJSON(w, f)
		case "markdown":
			err = WriteSummary(w, f, true)
		default:
			err = WriteSummary(w, f, false)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON writes f as Save does: indented JSON, a newline at the end.
func WriteJSON(w io.Writer, f *result.File) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

// WriteSummary writes the summary table (or Markdown) of f, the cost model when f holds a batch or conns
// sweep (internal/costmodel), then what was left out, skipped or warned of.
func WriteSummary(w io.Writer, f *result.File, markdown bool) error {
	ew := &ErrWriter{W: w}
	if markdown {
		summary.WriteMarkdown(ew, summary.FileRows(f))
	} else {
		summary.WriteTable(ew, summary.FileRows(f))
	}
	if models := costmodel.FromFile(f); len(models) > 0 {
		fmt.Fprintln(ew)
		if markdown {
			fmt.Fprintln(ew, "```")
		}
		costmodel.WriteText(ew, models, f.Env)
		if markdown {
			fmt.Fprint(ew, "```\n")
		}
	}
	if n := summary.Notice(f.Samples); n != "" {
		fmt.Fprintf(ew, "WARNING: %s\n", n)
	}
	for _, s := range f.Skipped {
		where := s.Backend
		if s.Workload != "" {
			where += " on " + s.Workload
		}
		fmt.Fprintf(ew, "skipped %s: %s\n", termsafe.String(where), termsafe.String(s.Reason))
	}
	for _, warn := range f.Warnings {
		fmt.Fprintf(ew, "WARNING: %s\n", termsafe.String(fmt.Sprint(warn)))
	}
	return ew.Err
}

// ErrWriter remembers the first error writing to W, as Err, for printers that do not return one; after it,
// it writes nothing more.
type ErrWriter struct {
	W   io.Writer
	Err error
}

func (e *ErrWriter) Write(p []byte) (int, error) {
	if e.Err != nil {
		return 0, e.Err
	}
	n, err := e.W.Write(p)
	if err != nil {
		e.Err = err
	}
	return n, err
}
