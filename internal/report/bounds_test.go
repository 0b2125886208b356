package report

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringbench/ringbench/internal/result"
)

// manyBackends writes a result file with one sample, histogram and syscalls included, for each of n
// backends on workload, named name(i).
func manyBackends(t *testing.T, workload string, n int, name func(int) string) string {
	t.Helper()
	f := &result.File{Schema: result.Schema, Version: result.Version, Display: fixtureDisplay}
	for i := range n {
		h := result.NewHistogram()
		for v := int64(1); v <= 200; v++ {
			_ = h.RecordValue(v * int64(1000+i))
		}
		f.Samples = append(f.Samples, result.Sample{Backend: name(i), Workload: workload, Seconds: 1, Ops: 1000 + int64(i),
			OpsPerSec: float64(1000 + i), Latency: result.LatencyFrom(h), EntersPerOp: -1,
			Syscalls: result.Syscalls{Available: true, Total: 1000, PerOp: 1, ByName: map[string]uint64{"pread64": 1000}}})
	}
	p := filepath.Join(t.TempDir(), "many.json")
	if err := result.Save(p, f, false); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReportRefusesTooManySeries: 3,000 backends in one workload are refused with one line naming the
// count and the cap, before anything is drawn or written.
func TestReportRefusesTooManySeries(t *testing.T) {
	p := manyBackends(t, "small-file", 3000, func(i int) string { return fmt.Sprintf("backend-%04d", i) })
	out := filepath.Join(t.TempDir(), "out")
	_, err := Generate([]string{p}, Options{Out: out})
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "3000 series") ||
		!strings.Contains(err.Error(), fmt.Sprint(MaxSeriesPerChart)) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("3,000 backends: %v; want one line naming 3000 series and the cap %d", err, MaxSeriesPerChart)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--out was created: %v", err)
	}
}

// TestReportChartsStayWithinBounds: at the cap, with the longest labels, every chart stays within
// MaxChartWidthPx, as the PNG itself says.
func TestReportChartsStayWithinBounds(t *testing.T) {
	p := manyBackends(t, "small-file", MaxSeriesPerChart, func(i int) string { return fmt.Sprintf("%s-%02d", strings.Repeat("b", 200), i) })
	o, err := Generate([]string{p}, Options{Out: filepath.Join(t.TempDir(), "out")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range o.Charts {
		cfg, err := png.DecodeConfig(bytes.NewReader(c.PNG))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Width != c.WidthPx || cfg.Width > MaxChartWidthPx || cfg.Height != DefaultHeight {
			t.Errorf("%s: PNG %dx%d (recorded %dx%d), want at most %d wide", c.Name, cfg.Width, cfg.Height, c.WidthPx, c.HeightPx, MaxChartWidthPx)
		}
	}
}

// TestReportRefusesTooManySamples: more than MaxSamples samples in all are refused before their
// histograms are decoded.
func TestReportRefusesTooManySamples(t *testing.T) {
	f := &result.File{Schema: result.Schema, Version: result.Version}
	for i := range MaxSamples + 1 {
		f.Samples = append(f.Samples, result.Sample{Backend: "epoll", Workload: "small-file", Repeat: i, Seconds: 1, Ops: 1, OpsPerSec: 1, EntersPerOp: -1})
	}
	p := filepath.Join(t.TempDir(), "huge.json")
	if err := result.Save(p, f, false); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFiles([]string{p})
	if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), fmt.Sprint(MaxSamples+1)) || !strings.Contains(err.Error(), fmt.Sprint(MaxSamples)) {
		t.Fatalf("%d samples: %v", MaxSamples+1, err)
	}
}

// TestReportShortensLongNames: a 5,000-character workload, backend and label render, shortened with an
// ellipsis in charts, file names and the page, whole in the page's title attributes.
func TestReportShortensLongNames(t *testing.T) {
	long := strings.Repeat("w", 5000)
	longBackend := strings.Repeat("b", 5000)
	p := manyBackends(t, long, 2, func(i int) string { return fmt.Sprint(longBackend, i) })
	// A second file with a long label: sets show in legends and tick labels too.
	f, err := result.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Label = strings.Repeat("l", 5000)
	p2 := filepath.Join(t.TempDir(), "labelled.json")
	if err := result.Save(p2, f, false); err != nil {
		t.Fatal(err)
	}
	o, err := Generate([]string{p, p2}, Options{Out: filepath.Join(t.TempDir(), "out")})
	if err != nil {
		t.Fatalf("%.300v", err)
	}
	if len(o.Charts) == 0 {
		t.Fatal("no charts")
	}
	for _, c := range o.Charts {
		if len(c.Name) > maxSlugBytes+len("throughput-") || !strings.Contains(c.Title, "…") || len(c.Title) > 4*maxTitleRunes {
			t.Errorf("chart %q (%d bytes), title %q", c.Name, len(c.Name), c.Title)
		}
		if c.WidthPx > MaxChartWidthPx {
			t.Errorf("%s: %d px wide", c.Name, c.WidthPx)
		}
	}
	page, err := os.ReadFile(o.Index)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), `<span title="`+long+`">`+clip(long, MaxNameRunes)+`</span>`) {
		t.Error("the page does not show the workload shortened with the whole name in a title")
	}
	if strings.Contains(string(page), ">"+long+"<") || strings.Contains(string(page), ">"+longBackend+"0<") {
		t.Error("the page shows a 5,000-character name in full")
	}
}

func TestClipAndSlug(t *testing.T) {
	if got := clip("αβγδε", 3); got != "αβ…" {
		t.Errorf("clip: %q", got)
	}
	if got := clip("abc", 3); got != "abc" {
		t.Errorf("clip: %q", got)
	}
	a, b := slug(strings.Repeat("x", 100)+"a"), slug(strings.Repeat("x", 100)+"b")
	if a == b || len(a) > maxSlugBytes || len(b) > maxSlugBytes {
		t.Errorf("slugs of long names: %q %q", a, b)
	}
}
