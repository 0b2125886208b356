// Package report turns ringbench result files into charts (PNG and SVG, drawn with gonum.org/v1/plot) and
// one self-contained index.html.
//
// It works in two steps, kept apart as benchstat keeps them: Build reads the data model (internal/result)
// and computes per-series aggregates (medians and ranges across samples, pooled per-op breakdowns, merged
// latency histograms) and warnings; the renderers (charts.go, html.go) only draw those aggregates.
//
// It is internal on purpose, as compare is: its API hands out internal/result and internal/fingerprint
// types, which change with the result schema. What ringbench offers other programs is the result file
// itself (a versioned JSON schema that old readers refuse when too new and new readers upgrade when old),
// not Go types; a Go API would freeze the data model while the schema is still moving.
package report

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/ringbench/ringbench/internal/result"
)

// ErrInput marks a problem with a result file given to report (missing, unreadable, corrupt, foreign, too
// new, or with nothing to report). The message names the file and fits on one line.
var ErrInput = errors.New("bad input")

// ErrOutput marks a problem with the output directory that the user can fix (it exists and is not empty,
// or is not a directory).
var ErrOutput = errors.New("bad output directory")

// Input is one loaded result file.
type Input struct {
	Path string // as given on the command line
	Name string // base name, for display
	File *result.File
	// Set is the name of the series this file belongs to ("" when all files form one set).
	Set string
	// hists are the samples' decoded latency histograms, by sample index (nil where none was stored).
	hists []*hdrhistogram.Histogram
}

// kindError keeps err's message and makes it match kind as well as whatever err matches.
type kindError struct{ err, kind error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.err, e.kind} }

// inputError marks err as a problem with an input file (ErrInput).
func inputError(err error) error { return &kindError{err, ErrInput} }

// outputError marks err as a problem with the output directory (ErrOutput).
func outputError(err error) error { return &kindError{err, ErrOutput} }

// LoadFiles reads and validates every result file, in order. The first problem found is returned as one
// line naming the file; it matches ErrInput.
func LoadFiles(paths []string) ([]*Input, error) {
	if len(paths) == 0 {
		return nil, inputError(errors.New("no result files given"))
	}
	seen := map[string]string{}
	var out []*Input
	samples, kept := 0, 0
	var size int64
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = p
		}
		if prev, dup := seen[abs]; dup {
			return nil, inputError(fmt.Errorf("%s: given twice (also as %s)", p, prev))
		}
		seen[abs] = p
		st, err := os.Stat(p)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path is named once, below
			}
			return nil, inputError(fmt.Errorf("%s: %w", p, err))
		}
		if st.IsDir() {
			return nil, inputError(fmt.Errorf("%s: is a directory, not a result file", p))
		}
		if size += st.Size(); size > MaxInputBytes {
			return nil, inputError(fmt.Errorf("%s: the files come to %d MiB, more than the %d MiB a report reads (report fewer files)",
				p, size>>20, MaxInputBytes>>20))
		}
		f, err := result.Load(p)
		if err != nil {
			// result.Load already names the file and keeps to one line.
			return nil, inputError(err)
		}
		if len(f.Samples) == 0 {
			return nil, inputError(fmt.Errorf("%s: has no samples to report", p))
		}
		samples += len(f.Samples)
		if err := checkSamples(p, samples); err != nil {
			return nil, err
		}
		in := &Input{Path: p, Name: filepath.Base(p), File: f, hists: make([]*hdrhistogram.Histogram, len(f.Samples))}
		for i := range f.Samples {
			s := &f.Samples[i]
			if s.Latency.Histogram == "" {
				continue
			}
			h, err := result.DecodeHistogram(s.Latency.Histogram)
			if err != nil {
				return nil, inputError(fmt.Errorf("%s: sample %d (%s/%s): %v", p, i, s.Workload, s.Backend, err))
			}
			// A decoded histogram takes about 270 KiB: past a few hundred, check them here and decode them
			// again, one at a time, where they are merged.
			if kept < maxKeptHistograms {
				in.hists[i] = h
				kept++
			}
		}
		out = append(out, in)
	}
	return out, nil
}
