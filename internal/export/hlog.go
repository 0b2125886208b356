package export

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/ringbench/ringbench/internal/result"
)

// HgrmScale is the value unit of the .hgrm files: histogram values are nanoseconds, printed divided by
// 1000, i.e. in microseconds. The .hlog files keep nanoseconds (their interval max is in milliseconds, as
// HdrHistogram's tools expect by default).
const HgrmScale = 1000.0

// HgrmTicks is the ticks per half distance of the .hgrm percentile distribution (HdrHistogram's usual 5).
const HgrmTicks = 5

// ErrHlogDir marks a --hlog directory that cannot take the logs.
var ErrHlogDir = errors.New("cannot hold the histogram logs")

// CheckHlogDir says, before anything is measured, whether WriteHlog(dir, force, ...) can write: dir is a
// directory or may be created, a file can be created in it, and (without force) it holds no .hlog or
// .hgrm file that the logs could replace.
func CheckHlogDir(dir string, force bool) error {
	if dir == "" {
		return fmt.Errorf("empty directory name: %w", ErrHlogDir)
	}
	st, err := os.Stat(dir)
	switch {
	case err == nil && !st.IsDir():
		return fmt.Errorf("%s: not a directory: %w", dir, ErrHlogDir)
	case err == nil && !force:
		for _, pat := range []string{"*.hlog", "*.hgrm"} {
			if m, _ := filepath.Glob(filepath.Join(dir, pat)); len(m) > 0 {
				return fmt.Errorf("%s: holds %s already (use --force to replace histogram logs): %w", dir, filepath.Base(m[0]), ErrHlogDir)
			}
		}
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s: %w: %w", dir, err, ErrHlogDir)
	}
	if err := result.CheckWritable(filepath.Join(dir, "ringbench.hlog"), true, true); err != nil {
		return fmt.Errorf("%w: %w", err, ErrHlogDir)
	}
	return nil
}

// hlogSeries is the timed, valid samples with a histogram of one series of one file.
type hlogSeries struct {
	file    *result.File
	name    string
	title   string
	samples []*result.Sample
	starts  []float64 // seconds from file.Started
}

// WriteHlog writes, for each series of files that has latency histograms (valid timed samples), into dir
// (created when missing): NAME.hlog, an HdrHistogram interval log (format 1.3, with StartTime and
// BaseTime comments and the legend) holding one interval per sample, values in nanoseconds; and
// NAME.hgrm, the percentile distribution of the samples merged, in microseconds (HgrmScale). NAME is the
// file's label (when set), workload, backend and parameters, made safe for a file name; a name taken twice
// gets -2, -3 .... Result files store no clock time per sample, so an interval starts at the sum of the
// windows of the samples before it in the file (setup and warm-up not counted), from the run's start.
// Without force no file is replaced. It returns the paths written.
func WriteHlog(dir string, force bool, files ...*result.File) ([]string, error) {
	var all []*hlogSeries
	used := map[string]bool{}
	for _, f := range files {
		if f == nil {
			continue
		}
		offset := make([]float64, len(f.Samples))
		var at float64
		for i := range f.Samples {
			offset[i] = at
			at += f.Samples[i].Seconds
		}
		byKey := map[string]*hlogSeries{}
		for i := range f.Samples {
			s := &f.Samples[i]
			if s.Invalid != nil || !s.Timed() || s.Latency.Count == 0 || s.Latency.Histogram == "" {
				continue
			}
			params := result.ParamsString(s.Params)
			key := s.Workload + "\x00" + s.Backend + "\x00" + params
			hs := byKey[key]
			if hs == nil {
				title := s.Workload + " " + s.Backend
				if params != "" {
					title += " " + params
				}
				parts := []string{s.Workload, s.Backend}
				if f.Label != "" {
					parts = append([]string{f.Label}, parts...)
				}
				if params != "" {
					parts = append(parts, strings.ReplaceAll(params, "/", "_"))
				}
				hs = &hlogSeries{file: f, name: uniqueName(used, fileSafe(strings.Join(parts, "_"))), title: title}
				byKey[key] = hs
				all = append(all, hs)
			}
			hs.samples = append(hs.samples, s)
			hs.starts = append(hs.starts, offset[i])
		}
	}
	if len(all) == 0 {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("--hlog %s: %w", dir, err)
	}
	var written []string
	for _, hs := range all {
		hlog, hgrm, err := hs.render()
		if err != nil {
			return written, err
		}
		for _, out := range []struct {
			ext  string
			data []byte
		}{{".hlog", hlog}, {".hgrm", hgrm}} {
			p := filepath.Join(dir, hs.name+out.ext)
			if err := result.WriteFileAtomic(p, out.data, force); err != nil {
				return written, err
			}
			written = append(written, p)
		}
	}
	return written, nil
}

func (hs *hlogSeries) render() (hlog, hgrm []byte, err error) {
	var lb bytes.Buffer
	lw := hdrhistogram.NewHistogramLogWriter(&lb)
	startMs := hs.file.Started.UnixMilli()
	lw.SetBaseTime(startMs)
	// Writes to a bytes.Buffer do not fail.
	_ = lw.OutputLogFormatVersion()
	_ = lw.OutputComment(fmt.Sprintf("[ringbench %s; label %q; values in nanoseconds; one interval per timed sample]",
		oneLine(hs.title), oneLine(hs.file.Label)))
	_ = lw.OutputStartTime(startMs)
	_ = lw.OutputBaseTime(startMs)
	_ = lw.OutputLegend()
	merged := result.NewHistogram()
	for i, s := range hs.samples {
		h, err := result.DecodeHistogram(s.Latency.Histogram)
		if err != nil {
			return nil, nil, fmt.Errorf("%s repeat %d: %w", hs.title, s.Repeat, err)
		}
		from := startMs + int64(hs.starts[i]*1000)
		h.SetStartTimeMs(from)
		h.SetEndTimeMs(from + int64(s.Seconds*1000))
		if err := lw.OutputIntervalHistogram(h); err != nil {
			return nil, nil, fmt.Errorf("%s repeat %d: %w", hs.title, s.Repeat, err)
		}
		merged.Merge(h)
	}
	var gb bytes.Buffer
	if _, err := merged.PercentilesPrint(&gb, HgrmTicks, HgrmScale); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", hs.title, err)
	}
	return lb.Bytes(), gb.Bytes(), nil
}

// fileSafe keeps letters, digits, '.', '-', '_' and '=' and turns the rest into '_'.
func fileSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_', r == '=':
			return r
		}
		return '_'
	}, s)
	s = strings.TrimLeft(s, ".-")
	if len(s) > 200 {
		s = s[:200]
	}
	if s == "" {
		s = "series"
	}
	return s
}

func uniqueName(used map[string]bool, name string) string {
	n := name
	for i := 2; used[n]; i++ {
		n = name + "-" + strconv.Itoa(i)
	}
	used[n] = true
	return n
}

func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
