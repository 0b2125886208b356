package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/testsupport"
)

var update = flag.Bool("update", false, "rewrite internal/report/testdata from the fixture generator")

func fixtureJSON(t *testing.T, f *result.File) []byte {
	t.Helper()
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(data, '\n')
}

// TestFixturesUpToDate keeps internal/report/testdata equal to what the generator makes (-update rewrites it).
func TestFixturesUpToDate(t *testing.T) {
	for _, name := range []string{"kernel-6.1-kvm.json", "kernel-6.12-kvm.json", "kernel-6.1-tcg.json"} {
		want := fixtureJSONFor(t, name)
		path := filepath.Join("testdata", name)
		if *update {
			if err := result.WriteFileAtomic(path, want, true); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./internal/report -run TestFixturesUpToDate -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output (run go test ./internal/report -run TestFixturesUpToDate -update)", path)
		}
		if _, err := result.Decode(got); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

// writeFixtures writes the named fixtures into a temp dir and returns their paths, in the order given.
func writeFixtures(t *testing.T, names ...string) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, fixtureJSONFor(t, n), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func buildFrom(t *testing.T, paths ...string) *Report {
	t.Helper()
	in, err := LoadFiles(paths)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestBuildGroupsSeriesAndMergesHistograms(t *testing.T) {
	paths := writeFixtures(t, "kernel-6.12-kvm.json")
	r := buildFrom(t, paths...)
	if r.MultiSet() || len(r.Sets) != 1 || r.Sets[0] != "" {
		t.Fatalf("one file must make one unnamed set, got %q", r.Sets)
	}
	var names []string
	for _, w := range r.Workloads {
		names = append(names, w.Name)
	}
	if strings.Join(names, ",") != "small-file,many-file,echo-proxy" {
		t.Fatalf("workloads %v", names)
	}
	sf := r.Workloads[0]
	if strings.Join(sf.Variants, ",") != "epoll,uring,sqpoll" {
		t.Errorf("small-file variants %v (params that do not vary must not name variants)", sf.Variants)
	}
	echo := r.Workloads[2]
	want := "epoll conns=1,uring conns=1,sqpoll conns=1,gostd conns=1,epoll conns=16,uring conns=16,sqpoll conns=16,gostd conns=16"
	if got := strings.Join(echo.Variants, ","); got != want {
		t.Errorf("echo-proxy variants\n got %s\nwant %s", got, want)
	}
	uring := sf.SeriesFor("uring", "")
	if uring == nil || len(uring.Samples) != 5 {
		t.Fatalf("uring series: %+v", uring)
	}
	var count int64
	for _, s := range uring.Samples {
		count += s.Latency.Count
	}
	if uring.Hist == nil || uring.Hist.TotalCount() != count || uring.HistSamples != 5 {
		t.Fatalf("merged histogram must hold every sample's count: %d vs %d", uring.Hist.TotalCount(), count)
	}
	if m := uring.OpsPerSec.Median; m < 350e3 || m > 450e3 || uring.OpsPerSec.Min > m || uring.OpsPerSec.Max < m {
		t.Errorf("uring ops/s spread %+v", uring.OpsPerSec)
	}
	if sc := uring.Syscalls; sc == nil || sc.Pooled < 0.03 || sc.Pooled > 0.04 || sc.ByNamePerOp["io_uring_enter"] < 0.03 {
		t.Errorf("uring syscalls %+v", uring.Syscalls)
	}
	if sc := sf.SeriesFor("epoll", "").Syscalls; sc == nil || sc.ByNamePerOp["pread64"] < 0.99 {
		t.Errorf("epoll syscalls %+v", sc)
	}
	sq := sf.SeriesFor("sqpoll", "")
	if sq.CPU == nil || sq.CPU.Poll < 6000 || sq.CPU.Sys > 1000 || sq.CPU.Total < 7000 {
		t.Errorf("sqpoll CPU must split the poll thread out of sys: %+v", sq.CPU)
	}
	if m := echo.SeriesFor("uring conns=16", "").Memory; m == nil || m.RSS.Median < 4000 || m.Slab == nil || m.IdleConns != 10000 {
		t.Errorf("echo memory %+v", m)
	}
	if echo.SeriesFor("uring conns=1", "").Memory != nil {
		t.Errorf("memory only where measured")
	}
}

func TestKernelsMakeSeriesSets(t *testing.T) {
	paths := writeFixtures(t, "kernel-6.1-kvm.json", "kernel-6.12-kvm.json", "kernel-6.1-tcg.json")
	r := buildFrom(t, paths...)
	if r.SetBy != "kernel" || strings.Join(r.Sets, "|") != "6.1.0|6.12.38|6.1.0 (tcg)" {
		t.Fatalf("sets by %q: %q", r.SetBy, r.Sets)
	}
	sf := r.Workloads[0]
	for _, set := range r.Sets {
		if sf.SeriesFor("uring", set) == nil {
			t.Errorf("no uring series for %s", set)
		}
	}
	a, b := sf.SeriesFor("uring", "6.1.0"), sf.SeriesFor("uring", "6.12.38")
	if a.OpsPerSec.Median >= b.OpsPerSec.Median {
		t.Errorf("fixture: 6.1 uring should be slower: %v vs %v", a.OpsPerSec.Median, b.OpsPerSec.Median)
	}
	if tcg := sf.SeriesFor("uring", "6.1.0 (tcg)"); tcg.Syscalls == nil || tcg.Syscalls.Samples != 0 || tcg.Syscalls.Missing != 2 {
		t.Errorf("tcg syscalls must be unavailable, not zero: %+v", tcg.Syscalls)
	}
}

func TestLabelsMakeSeriesSets(t *testing.T) {
	dir := t.TempDir()
	b2 := fixtureFile(t, "kernel-6.12-kvm.json")
	b2.Label = "before"
	a2 := fixtureFile(t, "kernel-6.12-kvm.json")
	a2.Label = "after"
	var paths []string
	for _, f := range []*result.File{b2, a2} {
		p := filepath.Join(dir, f.Label+".json")
		if err := os.WriteFile(p, fixtureJSON(t, f), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	r := buildFrom(t, paths...)
	if r.SetBy != "label" || strings.Join(r.Sets, ",") != "before,after" {
		t.Fatalf("sets by %q: %v", r.SetBy, r.Sets)
	}
	for _, w := range r.Warnings {
		if w.Kind == "environment" {
			t.Errorf("same environment must not warn: %s", w.Text)
		}
	}
}

func warningKinds(r *Report) map[string][]string {
	out := map[string][]string{}
	for _, w := range r.Warnings {
		out[w.Kind] = append(out[w.Kind], w.Text)
	}
	return out
}

func TestWarnings(t *testing.T) {
	paths := writeFixtures(t, "kernel-6.1-kvm.json", "kernel-6.12-kvm.json", "kernel-6.1-tcg.json")
	r := buildFrom(t, paths...)
	kinds := warningKinds(r)
	for kind, want := range map[string]string{
		"emulated":             "kernel-6.1-tcg.json comes from an emulated kernel (qemu TCG",
		"few-samples":          "fewer than 4 samples",
		"page-cache":           "(lowest: 62%)",
		"sqpoll-core":          "no core of its own (kernel-6.1-kvm.json: 2 CPUs; kernel-6.12-kvm.json: 2 CPUs)",
		"syscalls-unavailable": "perf_event_open: ENOENT",
		"environment":          "virtualisation",
		"skipped":              "sqpoll was not run",
		"run":                  "running under qemu TCG",
	} {
		if !strings.Contains(strings.Join(kinds[kind], "\n"), want) {
			t.Errorf("warning %s: want %q in %q", kind, want, kinds[kind])
		}
	}
	for _, k := range []string{"emulated", "environment", "few-samples", "page-cache", "sqpoll-core", "syscalls-unavailable"} {
		if len(kinds[k]) != 1 {
			t.Errorf("%d %s warnings, want one that names every series it concerns", len(kinds[k]), k)
		}
	}
	for _, w := range r.Warnings {
		if w.Kind == "sqpoll-core" && strings.Join(w.Workloads, ",") != "small-file,many-file,echo-proxy" {
			t.Errorf("sqpoll-core concerns %v", w.Workloads)
		}
	}
	if strings.Contains(strings.Join(kinds["environment"], ""), "kernel") {
		t.Errorf("the kernel is the variable when sets are kernels: %q", kinds["environment"])
	}
	for _, w := range r.Warnings {
		if strings.Contains(w.Text, "\n") {
			t.Errorf("warning spans lines: %q", w.Text)
		}
	}

	// The run's own "SQPOLL shares a core" messages are not repeated next to the derived warning.
	in, err := LoadFiles(writeFixtures(t, "kernel-6.12-kvm.json"))
	if err != nil {
		t.Fatal(err)
	}
	in[0].File.Warnings = append(in[0].File.Warnings,
		result.Warning{Kind: result.WarnSQPollSharedCPU, Text: "sqpoll: 2 CPUs: the SQPOLL thread has no core of its own"},
		result.Warning{Kind: result.WarnOther, Text: "disk is slow"})
	in[0].File.Samples[2].Warnings = []result.Warning{{Kind: result.WarnSQPollSharedCPU, Text: "SQPOLL SHARES A CORE: 2 CPUs"}}
	r2, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	k2 := warningKinds(r2)
	if len(k2["sqpoll-core"]) != 1 || len(k2["run"]) != 1 || !strings.Contains(k2["run"][0], "disk is slow") {
		t.Errorf("run's SQPOLL-core messages must fold into the derived warning: %q", k2)
	}

	// A clean run warns only about what is wrong with it.
	clean := warningKinds(buildFrom(t, writeFixtures(t, "kernel-6.12-kvm.json")...))
	for _, k := range []string{"emulated", "few-samples", "page-cache", "syscalls-unavailable", "environment"} {
		if len(clean[k]) > 0 {
			t.Errorf("clean run warns %s: %q", k, clean[k])
		}
	}
	if len(clean["sqpoll-core"]) == 0 {
		t.Errorf("2 CPUs with SQPOLL must warn")
	}
}

func TestEnvTableHighlightsDifferences(t *testing.T) {
	in, err := LoadFiles(writeFixtures(t, "kernel-6.1-kvm.json", "kernel-6.12-kvm.json"))
	if err != nil {
		t.Fatal(err)
	}
	rows := EnvTable(in)
	differs := map[string]bool{}
	for _, r := range rows {
		if len(r.Values) != 2 {
			t.Fatalf("row %s has %d values", r.Field, len(r.Values))
		}
		differs[r.Group+"/"+r.Field] = r.Differs
	}
	for _, k := range []string{"Kernel/release", "io_uring/features", "io_uring/io_uring_disabled"} {
		if !differs[k] {
			t.Errorf("%s must be marked as differing", k)
		}
	}
	for _, k := range []string{"CPU/model", "Go/GOMAXPROCS", "Run/time (UTC)"} {
		if d, ok := differs[k]; !ok || d {
			t.Errorf("%s: present %v, differs %v", k, ok, d)
		}
	}
}

func TestGenerateWritesChartsThatDecode(t *testing.T) {
	paths := writeFixtures(t, "kernel-6.1-kvm.json", "kernel-6.12-kvm.json", "kernel-6.1-tcg.json")
	out := filepath.Join(t.TempDir(), "report")
	o, err := Generate(paths, Options{Out: out, Tool: "ringbench test", Now: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, c := range o.Charts {
		kinds[c.Kind]++
	}
	// 3 workloads: throughput, syscalls, CPU each; latency for each, echo-proxy's split by connections
	// (every backend ran at 1 and 16); memory for echo-proxy only.
	want := map[string]int{KindThroughput: 3, KindLatency: 4, KindSyscalls: 3, KindCPU: 3, KindMemory: 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s charts, want %d", kinds[k], k, n)
		}
	}
	for _, name := range []string{"latency-echo-proxy-conns-1", "latency-echo-proxy-conns-16", "latency-small-file"} {
		if _, err := os.Stat(filepath.Join(out, name+".svg")); err != nil {
			t.Errorf("chart %s: %v", name, err)
		}
	}
	checkChartFiles(t, out, o.Charts, DefaultWidth, DefaultHeight)
	page, err := os.ReadFile(o.Index)
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, c := range o.Charts {
		if !strings.Contains(html, `id="chart-`+c.Name+`"`) {
			t.Errorf("index.html lacks chart %s", c.Name)
		}
	}
	for _, want := range []string{"<svg", "Environment", "Summary", "data-kind=\"emulated\"", "data-kind=\"page-cache\"",
		"data-kind=\"sqpoll-core\"", "data-kind=\"few-samples\"", "data-kind=\"syscalls-unavailable\"",
		`class="differs`, "<details", "6.12.38", "ringbench test"} {
		if !strings.Contains(html, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	// The charts come first; the environment fingerprint, long, after them.
	if chart, env := strings.Index(html, `<section class="workload"`), strings.Index(html, `<section id="environment">`); chart < 0 || env < chart {
		t.Errorf("index.html: the environment (at %d) comes before the first workload's charts (at %d)", env, chart)
	}
	for _, bad := range []string{"<?xml", "http://", "https://", "<script", "<img"} {
		if bad == "http://" {
			// SVG namespaces are identifiers, not fetches.
			html = strings.ReplaceAll(strings.ReplaceAll(html, "http://www.w3.org/2000/svg", ""), "http://www.w3.org/1999/xlink", "")
		}
		if strings.Contains(html, bad) {
			t.Errorf("index.html must be self-contained and inline: found %q", bad)
		}
	}
}

// checkChartFiles asserts that every chart's PNG decodes at its size and every SVG parses as XML.
func checkChartFiles(t *testing.T, dir string, charts []*Chart, minW, h int) {
	t.Helper()
	for _, c := range charts {
		f, err := os.Open(filepath.Join(dir, c.Name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s.png: %v", c.Name, err)
		}
		b := img.Bounds()
		if b.Dx() != c.WidthPx || b.Dy() != c.HeightPx || b.Dy() != h || b.Dx() < minW {
			t.Errorf("%s.png is %dx%d, want %dx%d (height %d, width >= %d)", c.Name, b.Dx(), b.Dy(), c.WidthPx, c.HeightPx, h, minW)
		}
		svg, err := os.ReadFile(filepath.Join(dir, c.Name+".svg"))
		if err != nil {
			t.Fatal(err)
		}
		if err := parseSVG(svg); err != nil {
			t.Errorf("%s.svg: %v", c.Name, err)
		}
		if !bytes.Contains(svg, []byte("Liberation Sans")) {
			t.Errorf("%s.svg does not use Liberation Sans", c.Name)
		}
	}
}

// parseSVG checks that data is well-formed XML whose root is an <svg> with a size.
func parseSVG(data []byte) error {
	els, err := testsupport.SVGElements(data)
	if err != nil {
		return err
	}
	var w, h string
	for _, a := range els[0].Attr {
		switch a.Name.Local {
		case "width":
			w = a.Value
		case "height":
			h = a.Value
		}
	}
	if w == "" || h == "" {
		return errors.New("root has no width or height")
	}
	texts := 0
	for _, se := range els {
		if se.Name.Local == "text" {
			texts++
		}
	}
	if texts < 5 {
		return errors.New("too few text elements: labels missing")
	}
	return nil
}

// tinyResult writes a small result file: one workload on two backends, real histograms.
func tinyResult(t *testing.T) string {
	t.Helper()
	f := fixtureFile(t, "kernel-6.1-tcg.json")
	var keep []result.Sample
	for _, s := range f.Samples {
		if s.Workload == "small-file" {
			keep = append(keep, s)
		}
	}
	f.Samples = keep
	p := filepath.Join(t.TempDir(), "tiny.json")
	if err := os.WriteFile(p, fixtureJSON(t, f), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGenerateRefusesToOverwrite(t *testing.T) {
	paths := []string{tinyResult(t)}
	out := t.TempDir()
	keep := filepath.Join(out, "notes.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Generate(paths, Options{Out: out})
	if !errors.Is(err, ErrOutput) || !strings.Contains(err.Error(), out) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("non-empty --out without force: %v", err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 1 {
		t.Fatalf("refusal must write nothing: %v", ents)
	}
	if _, err := Generate(paths, Options{Out: out, Force: true}); err != nil {
		t.Fatalf("with force: %v", err)
	}
	if _, err := Generate(paths, Options{Out: out, Force: true}); err != nil {
		t.Fatalf("again with force: %v", err)
	}
	if b, _ := os.ReadFile(keep); string(b) != "mine" {
		t.Errorf("unrelated file touched")
	}
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	file := filepath.Join(t.TempDir(), "f")
	_ = os.WriteFile(file, nil, 0o644)
	if _, err := Generate(paths, Options{Out: file, Force: true}); !errors.Is(err, ErrOutput) {
		t.Errorf("--out naming a file: %v", err)
	}
}

func TestBadInputsAreOneLineNamingTheFile(t *testing.T) {
	dir := t.TempDir()
	good := fixtureJSONFor(t, "kernel-6.1-tcg.json")
	var f result.File
	if err := json.Unmarshal(good, &f); err != nil {
		t.Fatal(err)
	}
	f.Samples[0].Latency.Histogram = "HISTFAAAnotreally"
	corruptHist := fixtureJSON(t, &f)
	f.Samples = nil
	noSamples := fixtureJSON(t, &f)
	cases := map[string]struct{ content, want string }{
		"empty.json":   {"", "empty"},
		"corrupt.json": {`{"schema": "ringbench/result", "version": 1, "samples": [`, "JSON"},
		"foreign.json": {`{"jobs": [{"jobname": "rr"}], "fio version": "fio-3.33"}`, "not a ringbench result"},
		"newer.json":   {`{"schema": "ringbench/result", "version": 99, "samples": []}`, "newer"},
		"hist.json":    {string(corruptHist), "corrupt histogram"},
		"none.json":    {string(noSamples), "no samples"},
	}
	for name, c := range cases {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadFiles([]string{p})
		if !errors.Is(err, ErrInput) {
			t.Errorf("%s: %v, want ErrInput", name, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, p) || !strings.Contains(msg, c.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: want one line naming the file and %q, got %q", name, c.want, msg)
		}
	}
	missing := filepath.Join(dir, "missing.json")
	if _, err := LoadFiles([]string{missing}); !errors.Is(err, ErrInput) || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing: %v", err)
	}
	if _, err := LoadFiles([]string{dir}); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: %v", err)
	}
	p := filepath.Join(dir, "ok.json")
	_ = os.WriteFile(p, good, 0o644)
	if _, err := LoadFiles([]string{p, p}); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "twice") {
		t.Errorf("same file twice: %v", err)
	}
}

// TestDegenerateDataDoesNotPanic feeds the log axes what would make gonum panic: a histogram of one
// value, a single op, zero-latency samples, zero throughput.
func TestDegenerateDataDoesNotPanic(t *testing.T) {
	mk := func(backend string, values ...int64) result.Sample {
		h := result.NewHistogram()
		for _, v := range values {
			_ = h.RecordValue(v)
		}
		return result.Sample{Backend: backend, Workload: "odd", Seconds: 1, Ops: int64(len(values)),
			OpsPerSec: float64(len(values)), Latency: result.LatencyFrom(h), EntersPerOp: -1}
	}
	f := &result.File{Schema: result.Schema, Version: result.Version, Display: fixtureDisplay, Samples: []result.Sample{
		mk("epoll", 5000, 5000, 5000, 5000),
		mk("uring", 1),
		mk("sqpoll"),
		mk("gostd", 1, 1, 1),
		{Backend: "zero", Workload: "odd", EntersPerOp: -1},
	}}
	p := filepath.Join(t.TempDir(), "odd.json")
	if err := result.Save(p, f, false); err != nil {
		t.Fatal(err)
	}
	o, err := Generate([]string{p}, Options{Out: filepath.Join(t.TempDir(), "out"), WidthPx: 400, HeightPx: 300})
	if err != nil {
		t.Fatal(err)
	}
	checkChartFiles(t, o.Dir, o.Charts, 400, 300)
}

func TestNiceTicks(t *testing.T) {
	ticks, lo, hi := niceTicks125(1.7, 83)
	if lo != 1 || hi != 100 {
		t.Errorf("range %v..%v", lo, hi)
	}
	var labels []string
	for _, tk := range ticks {
		labels = append(labels, tk.Label)
	}
	if got := strings.Join(labels, " "); got != "1 2 5 10 20 50 100" {
		t.Errorf("labels %q", got)
	}
	if _, lo, hi := niceTicks125(5, 5); !(lo < 5 && hi > 5 && lo > 0) {
		t.Errorf("equal bounds must widen: %v..%v", lo, hi)
	}
}

func TestLinearTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   string
	}{
		{0, 57, "0 10 20 30 40 50"},
		{0, 6.9, "0 1 2 3 4 5 6"},
		{0, 1.15, "0.0 0.2 0.4 0.6 0.8 1.0"},
		{0, 0.04, "0.00 0.01 0.02 0.03 0.04"},
		{0, 160, "0 25 50 75 100 125 150"},
	} {
		var labels []string
		for _, tk := range (linearTicks{}).Ticks(c.lo, c.hi) {
			labels = append(labels, tk.Label)
		}
		if got := strings.Join(labels, " "); got != c.want {
			t.Errorf("%v..%v: %q, want %q", c.lo, c.hi, got, c.want)
		}
	}
}

func TestFormatting(t *testing.T) {
	cases := []struct{ got, want string }{
		{formatRate(402113), "402k"}, {formatRate(1.25e6), "1.25M"}, {formatRate(950), "950"},
		{formatNs(2410), "2.41 µs"}, {formatNs(80100), "80.1 µs"}, {formatNs(950), "950 ns"}, {formatNs(1.2e6), "1.20 ms"},
		{formatPerOp(1.0031), "1.003"}, {formatPerOp(0.0333), "0.0333"}, {formatPerOp(2.13), "2.130"},
		{formatBytes(4198), "4.10 KiB"}, {formatBytes(12), "12 B"}, {formatRatio(1.08), "×1.08"},
		{quantileLabel(0.999), "p99.9"}, {quantileLabel(1), "max"}, {slug("Echo Proxy/x"), "echo-proxy-x"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if n := countCPUList("0-3,8,10-11"); n != 7 {
		t.Errorf("countCPUList: %d", n)
	}
}

func TestCommittedFixturesLoad(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	sort.Strings(paths)
	if len(paths) < 3 {
		t.Fatalf("testdata has %d result files", len(paths))
	}
	if _, err := LoadFiles(paths); err != nil {
		t.Fatal(err)
	}
}

// A result file written before warnings had kinds and files recorded their display order (schema version
// 1) makes the same report as the same figures written now.
func TestVersion1FileReportsAsNow(t *testing.T) {
	old := buildFrom(t, filepath.Join("testdata", "v1", "kernel-6.1-tcg.json"))
	now := buildFrom(t, filepath.Join("testdata", "kernel-6.1-tcg.json"))
	if !reflect.DeepEqual(old.Warnings, now.Warnings) {
		t.Errorf("warnings differ:\nv1  %q\nnow %q", old.Warnings, now.Warnings)
	}
	if len(old.Workloads) != len(now.Workloads) {
		t.Fatalf("%d workloads from v1, %d now", len(old.Workloads), len(now.Workloads))
	}
	for i, w := range now.Workloads {
		o := old.Workloads[i]
		if o.Name != w.Name || o.Unit != w.Unit || !reflect.DeepEqual(o.Variants, w.Variants) || len(o.Series) != len(w.Series) {
			t.Fatalf("workload %d: v1 %s (%s) %q, now %s (%s) %q", i, o.Name, o.Unit, o.Variants, w.Name, w.Unit, w.Variants)
		}
		for j, s := range w.Series {
			if os := o.Series[j]; os.Variant != s.Variant || os.OpsPerSec != s.OpsPerSec {
				t.Errorf("%s series %d: v1 %s %+v, now %s %+v", w.Name, j, os.Variant, os.OpsPerSec, s.Variant, s.OpsPerSec)
			}
		}
	}
}
