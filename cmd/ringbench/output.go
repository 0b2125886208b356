package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/ringbench/ringbench/internal/gobench"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/summary"
	"github.com/ringbench/ringbench/internal/termsafe"
)

// defaultResultPath is results/ringbench-<UTC time>.json, suffixed -2, -3 ... when that exists.
func defaultResultPath(t time.Time) string {
	base := filepath.Join("results", "ringbench-"+t.UTC().Format("20060102-150405"))
	p := base + ".json"
	for i := 2; ; i++ {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return p
		}
		p = base + "-" + strconv.Itoa(i) + ".json"
	}
}

func writeJSON(w io.Writer, f *result.File) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

func printResult(w io.Writer, format string, f *result.File) error {
	switch format {
	case "json":
		return writeJSON(w, f)
	case "gobench":
		return gobench.Write(w, f)
	case "markdown":
		summary.WriteMarkdown(w, summary.Rows(f.Samples))
	default:
		summary.WriteTable(w, summary.Rows(f.Samples))
	}
	if n := summary.Notice(f.Samples); n != "" && (format == "table" || format == "markdown") {
		fmt.Fprintf(w, "WARNING: %s\n", n)
	}
	for _, s := range f.Skipped {
		where := s.Backend
		if s.Workload != "" {
			where += " on " + s.Workload
		}
		fmt.Fprintf(w, "skipped %s: %s\n", termsafe.String(where), termsafe.String(s.Reason))
	}
	for _, warn := range f.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", termsafe.String(fmt.Sprint(warn)))
	}
	return nil
}

// progress shows a bar on stderr when it is a terminal, and nothing otherwise.
type progress struct {
	bar *progressbar.ProgressBar
}

func newProgress(quiet bool, total int, w io.Writer) *progress {
	fd, ok := w.(interface{ Fd() uintptr })
	if quiet || !ok || !term.IsTerminal(int(fd.Fd())) {
		return &progress{}
	}
	return &progress{bar: progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetWidth(24),
		progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))}
}

// Status implements runner.Progress.
func (p *progress) Status(s string) {
	if p.bar != nil {
		p.bar.Describe(s)
	}
}

// Step implements runner.Progress.
func (p *progress) Step() {
	if p.bar != nil {
		_ = p.bar.Add(1)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
