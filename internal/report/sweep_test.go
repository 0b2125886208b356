package report

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/result"
)

// baseSpec is the fixtures' small-file series of a backend, to vary along a sweep.
func baseSpec(t *testing.T, backend string) seriesSpec {
	t.Helper()
	for _, s := range fixtureSpecs(fixtureOpts{uringFactor: 1, slowdown: 1}) {
		if s.workload == "small-file" && s.backend == backend {
			return s
		}
	}
	t.Fatalf("no small-file %s spec", backend)
	return seriesSpec{}
}

// writeSweep writes a result file of the given series (count samples each, interleaved as run does) with
// sweep as its Config.Sweep, and returns its path.
func writeSweep(t *testing.T, name string, sweep []result.SweepAxis, specs []seriesSpec, count int) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	f := &result.File{Schema: result.Schema, Version: result.Version, Started: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC),
		Env: fixtureEnv(fixtureOpts{}), Display: fixtureDisplay}
	f.Config = result.Config{Backends: []string{"epoll", "uring", "sqpoll"}, Workloads: []string{"small-file"}, Count: count,
		Duration: result.Duration(5 * time.Second), Sweep: sweep}
	for rep := range count {
		for _, s := range specs {
			f.Samples = append(f.Samples, makeSample(rng, s, rep, 5, ""))
		}
	}
	f.Finished = f.Started.Add(time.Hour)
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, fixtureJSON(t, f), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func axis(param string, values ...int) result.SweepAxis {
	a := result.SweepAxis{Flag: param, Param: param}
	for _, v := range values {
		a.Values = append(a.Values, strconv.Itoa(v))
	}
	return a
}

// batchSweep: epoll and uring at batch 1..64; uring's throughput grows with the batch, epoll's does not.
func batchSweepSpecs(t *testing.T) []seriesSpec {
	var specs []seriesSpec
	for _, b := range []int{1, 2, 4, 8, 16, 64} {
		for _, backend := range []string{"epoll", "uring"} {
			s := baseSpec(t, backend)
			s.params = map[string]string{"depth": "64", "batch": strconv.Itoa(b)}
			s.spread = 0.01
			if backend == "uring" {
				s.opsPerSec = 200e3 * (1 + math.Log2(float64(b))/4)
				s.syscalls = map[string]float64{"io_uring_enter": 1 / float64(b)}
			}
			specs = append(specs, s)
		}
	}
	return specs
}

func TestSweepBatchDrawsFourChartsPerBackend(t *testing.T) {
	p := writeSweep(t, "batch.json", []result.SweepAxis{axis("batch", 1, 2, 4, 8, 16, 64)}, batchSweepSpecs(t), 6)
	r := buildFrom(t, p)
	if len(r.Sweeps) != 1 {
		t.Fatalf("%d sweeps, want 1 (batch)", len(r.Sweeps))
	}
	sw := r.Sweeps[0]
	if !slices.Equal(sw.Axes, []string{"batch"}) || sw.Inferred || len(sw.Fixed) != 0 {
		t.Fatalf("sweep %+v, want batch, recorded, nothing fixed that varies", sw)
	}
	charts, leftOut := planSweepCharts(r.Sweeps, MaxCharts)
	if len(leftOut) != 0 {
		t.Errorf("left out: %v", leftOut)
	}
	var metrics []string
	wantX := []float64{1, 2, 4, 8, 16, 64}
	for _, c := range charts {
		metrics = append(metrics, c.Metric)
		if c.Kind != KindSweep {
			t.Errorf("%s chart: kind %s, want %s", c.Metric, c.Kind, KindSweep)
		}
		var names []string
		for _, cv := range c.Curves {
			names = append(names, cv.Line.Name())
			if !slices.Equal(cv.X, wantX) {
				t.Errorf("%s chart, %s: x %v, want %v", c.Metric, cv.Line.Name(), cv.X, wantX)
			}
			for i := range cv.Y {
				if !(cv.Lo[i] <= cv.Y[i] && cv.Y[i] <= cv.Hi[i]) || !cv.CI[i] {
					t.Errorf("%s chart, %s at %v: %v not within its CI %v–%v (ci %v)", c.Metric, cv.Line.Name(), cv.X[i], cv.Y[i], cv.Lo[i], cv.Hi[i], cv.CI[i])
				}
			}
			if cv.Perfect != nil {
				t.Errorf("%s chart: a batch sweep has no perfect-scaling line", c.Metric)
			}
		}
		if !slices.Equal(names, []string{"epoll", "uring"}) {
			t.Errorf("%s chart: lines %v, want epoll, uring", c.Metric, names)
		}
	}
	if !slices.Equal(metrics, []string{"ops/s", "CPU/op", "syscalls/op", "p99"}) {
		t.Fatalf("charts %v, want ops/s, CPU/op, syscalls/op, p99", metrics)
	}
	uring := charts[0].Curves[1]
	if got, want := uring.Y[5]/uring.Y[0], 1+6.0/4; math.Abs(got/want-1) > 0.05 {
		t.Errorf("uring ops/s at batch 64 / batch 1 = %.3f, want %.3f", got, want)
	}
	if sc := charts[2].Curves[1]; math.Abs(sc.Y[3]-1.0/8) > 0.01 {
		t.Errorf("uring syscalls/op at batch 8 = %v, want 1/8", sc.Y[3])
	}

	// Drawn: the section, after the summary and before the workloads, with its four charts.
	out := filepath.Join(t.TempDir(), "report")
	o, err := Generate([]string{p}, Options{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	checkChartFiles(t, out, o.Charts, DefaultWidth, DefaultHeight)
	page, err := os.ReadFile(o.Index)
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	sum, sec, wl := strings.Index(html, `<section id="summary">`), strings.Index(html, `<section id="sweeps">`), strings.Index(html, `<section class="workload"`)
	if !(sum >= 0 && sum < sec && sec < wl) {
		t.Fatalf("Sweeps section at %d, want between the summary (%d) and the workloads (%d)", sec, sum, wl)
	}
	if n := strings.Count(html[sec:wl], `data-kind="sweep"`); n != 4 {
		t.Errorf("Sweeps section has %d sweep charts, want 4", n)
	}
	if strings.Contains(html[wl:], `data-kind="sweep"`) {
		t.Error("a sweep chart shows in a workload's section too")
	}
}

func TestSweepInferredFromFilesWithoutOne(t *testing.T) {
	// The same batch series, written by runs that recorded no sweep, merged from two files.
	specs := batchSweepSpecs(t)
	a := writeSweep(t, "a.json", nil, specs[:6], 3)
	b := writeSweep(t, "b.json", nil, specs[6:], 3)
	r := buildFrom(t, a, b)
	if len(r.Sweeps) != 1 {
		t.Fatalf("%d sweeps, want 1", len(r.Sweeps))
	}
	sw := r.Sweeps[0]
	if !sw.Inferred || !slices.Equal(sw.Axes, []string{"batch"}) || !slices.Equal(sw.Values[0], []float64{1, 2, 4, 8, 16, 64}) {
		t.Fatalf("sweep %+v, want batch 1..64, inferred", sw)
	}
	charts, _ := planSweepCharts(r.Sweeps, MaxCharts)
	if len(charts) == 0 || !strings.Contains(sweepTitle(charts[0]), "inferred") {
		t.Errorf("an inferred sweep's title must say so: %v", charts)
	}
}

func TestSweepDepthByBatchDrawsHeatmaps(t *testing.T) {
	depths, batches := []int{1, 4, 16}, []int{1, 8}
	var specs []seriesSpec
	for _, d := range depths {
		for _, b := range batches {
			for _, backend := range []string{"epoll", "uring"} {
				if backend == "uring" && d == 16 && b == 8 {
					continue // not measured: a blank cell
				}
				s := baseSpec(t, backend)
				s.params = map[string]string{"depth": strconv.Itoa(d), "batch": strconv.Itoa(b)}
				s.spread = 0
				s.opsPerSec = float64(1000*d + b)
				specs = append(specs, s)
			}
		}
	}
	p := writeSweep(t, "grid.json", []result.SweepAxis{axis("depth", depths...), axis("batch", batches...)}, specs, 2)
	r := buildFrom(t, p)
	if len(r.Sweeps) != 1 || !slices.Equal(r.Sweeps[0].Axes, []string{"depth", "batch"}) {
		t.Fatalf("sweeps %+v, want one depth × batch", r.Sweeps)
	}
	charts, _ := planSweepCharts(r.Sweeps, MaxCharts)
	var got []string
	for _, c := range charts {
		got = append(got, c.Line.Name()+" "+c.Metric)
		if c.Kind != KindHeatmap {
			t.Errorf("kind %s, want heatmap", c.Kind)
		}
	}
	if want := []string{"epoll ops/s", "epoll CPU/op", "uring ops/s", "uring CPU/op"}; !slices.Equal(got, want) {
		t.Fatalf("heatmaps %v, want %v", got, want)
	}
	g := charts[2].Grid
	if !slices.Equal(g.X, []float64{1, 4, 16}) || !slices.Equal(g.Y, []float64{1, 8}) {
		t.Fatalf("grid axes %v × %v, want depth 1,4,16 × batch 1,8", g.X, g.Y)
	}
	for i, b := range g.Y {
		for j, d := range g.X {
			v := g.Z[i][j]
			if d == 16 && b == 8 {
				if !math.IsNaN(v) {
					t.Errorf("uring depth 16 batch 8 was not measured, cell %v", v)
				}
				continue
			}
			if want := 1000*d + b; math.Abs(v-want) > 0.5 {
				t.Errorf("uring cell depth %v batch %v = %v, want %v", d, b, v, want)
			}
		}
	}
	if c := charts[0].Grid.Z[1][2]; math.IsNaN(c) {
		t.Error("epoll depth 16 batch 8 was measured, cell blank")
	}
	out := filepath.Join(t.TempDir(), "report")
	o, err := Generate([]string{p}, Options{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	checkChartFiles(t, out, o.Charts, DefaultWidth, DefaultHeight)
}

func TestSweepJobsDrawsPerfectScaling(t *testing.T) {
	jobs := []int{1, 2, 4, 8}
	eff := map[string][]float64{"epoll": {1, 0.9, 0.8, 0.5}, "uring": {1, 1, 0.95, 0.75}}
	var specs []seriesSpec
	for i, n := range jobs {
		for _, backend := range []string{"epoll", "uring"} {
			s := baseSpec(t, backend)
			s.params = map[string]string{"depth": "32"}
			if n > 1 { // jobs=1 left out, as files of runs without --jobs have it
				s.params["jobs"] = strconv.Itoa(n)
			}
			s.spread = 0
			s.opsPerSec = 100e3 * float64(n) * eff[backend][i]
			specs = append(specs, s)
		}
	}
	p := writeSweep(t, "jobs.json", []result.SweepAxis{axis("jobs", jobs...)}, specs, 3)
	r := buildFrom(t, p)
	if len(r.Sweeps) != 1 || !r.Sweeps[0].Scaling() {
		t.Fatalf("sweeps %+v, want one jobs sweep", r.Sweeps)
	}
	charts, _ := planSweepCharts(r.Sweeps, MaxCharts)
	c := charts[0]
	if c.Kind != KindScaling || c.Metric != "ops/s" {
		t.Fatalf("first chart %s %s, want the scaling chart of ops/s", c.Kind, c.Metric)
	}
	for _, cv := range c.Curves {
		if !slices.Equal(cv.X, []float64{1, 2, 4, 8}) {
			t.Fatalf("%s: x %v", cv.Line.Name(), cv.X)
		}
		for i, n := range cv.X {
			if want := 100e3 * n; math.Abs(cv.Perfect[i]-want) > 1 {
				t.Errorf("%s perfect at %v jobs = %v, want %v", cv.Line.Name(), n, cv.Perfect[i], want)
			}
			if want := eff[cv.Line.Backend][i]; math.Abs(cv.Efficiency[i]-want) > 1e-3 {
				t.Errorf("%s efficiency at %v jobs = %.3f, want %.3f", cv.Line.Name(), n, cv.Efficiency[i], want)
			}
		}
	}
	if charts[1].Kind != KindSweep || charts[1].Curves[0].Perfect != nil {
		t.Error("CPU/op against jobs has no perfect-scaling line")
	}
	fig, caption, table := sweepFigure(c, DefaultWidth, DefaultHeight)
	if fig == nil || table == nil || len(table.Rows) != 2 || table.Rows[0][4] != "400k (50%)" {
		t.Errorf("scaling table %+v, want epoll at 8 jobs 400k (50%%)", table)
	}
	if !strings.Contains(caption, "uring 75% at jobs=8") {
		t.Errorf("caption lacks uring's efficiency at 8 jobs: %s", caption)
	}
}

func TestNoSweepNoSection(t *testing.T) {
	paths := writeFixtures(t, "kernel-6.12-kvm.json")
	r := buildFrom(t, paths...)
	if len(r.Sweeps) != 0 {
		t.Fatalf("a file with no sweep has sweeps %+v", r.Sweeps)
	}
	out := filepath.Join(t.TempDir(), "report")
	o, err := Generate(paths, Options{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(o.Index)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(page), `id="sweeps"`) {
		t.Error("index.html has a Sweeps section for a file with no sweep")
	}
}

func TestSweepChartsBounded(t *testing.T) {
	p := writeSweep(t, "batch.json", []result.SweepAxis{axis("batch", 1, 2, 4, 8, 16, 64)}, batchSweepSpecs(t), 2)
	r := buildFrom(t, p)
	charts, leftOut := planSweepCharts(r.Sweeps, 3)
	if len(charts) != 0 || len(leftOut) != 1 || !strings.Contains(leftOut[0], "batch sweep (4 charts") {
		t.Errorf("with room for 3 charts: %d charts, left out %q; want none and the batch sweep named", len(charts), leftOut)
	}
}

// echoSpec is the fixtures' echo-proxy series of a backend at 16 connections.
func echoSpec(t *testing.T, backend string) seriesSpec {
	t.Helper()
	for _, s := range fixtureSpecs(fixtureOpts{uringFactor: 1, slowdown: 1}) {
		if s.workload == "echo-proxy" && s.backend == backend && s.params["conns"] == "16" {
			return s
		}
	}
	t.Fatalf("no echo-proxy %s spec", backend)
	return seriesSpec{}
}

// TestSweepThreadsWithGenThreadsSame: `run --threads 1,2 --gen-threads threads` records gen-threads as
// following threads, and its series carry gen-threads=threads at each point: one line per backend and a
// scaling chart, not one single-point sweep per gen-threads value.
func TestSweepThreadsWithGenThreadsSame(t *testing.T) {
	var specs []seriesSpec
	for _, n := range []int{1, 2} {
		for _, backend := range []string{"epoll", "uring"} {
			s := echoSpec(t, backend)
			s.params = map[string]string{"topology": "echo", "conns": "16", "msg-size": "64", "pipeline": "1",
				"threads": strconv.Itoa(n), "gen-threads": strconv.Itoa(n)}
			s.spread = 0
			s.opsPerSec = 50e3 * float64(n) * 0.8
			specs = append(specs, s)
		}
	}
	threads := axis("threads", 1, 2)
	threads.Workloads, threads.Same = []string{"echo-proxy"}, []string{"gen-threads"}
	p := writeSweep(t, "threads.json", []result.SweepAxis{threads}, specs, 3)
	r := buildFrom(t, p)
	if len(r.Sweeps) != 1 || !r.Sweeps[0].Scaling() || len(r.Sweeps[0].Lines) != 2 {
		t.Fatalf("sweeps %+v, want one threads sweep of two lines", r.Sweeps)
	}
	sw := r.Sweeps[0]
	if sw.Describe() != "threads (gen-threads = threads)" {
		t.Errorf("described as %q", sw.Describe())
	}
	charts, _ := planSweepCharts(r.Sweeps, MaxCharts)
	if len(charts) == 0 || charts[0].Kind != KindScaling {
		t.Fatalf("charts %+v, want the scaling chart first", charts)
	}
	for _, cv := range charts[0].Curves {
		if !slices.Equal(cv.X, []float64{1, 2}) || len(cv.Perfect) != 2 {
			t.Errorf("%s: x %v, perfect %v; want threads 1, 2 with a perfect-scaling line", cv.Line.Name(), cv.X, cv.Perfect)
		}
	}
}
