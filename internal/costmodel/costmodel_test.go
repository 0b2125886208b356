package costmodel

import (
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/ringbench/ringbench/internal/fingerprint"
	"github.com/ringbench/ringbench/internal/result"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestFitInverseExact(t *testing.T) {
	const w, c = 1200.0, 3400.0
	var pts []Point
	for _, n := range []float64{1, 2, 4, 8, 16} {
		pts = append(pts, Point{N: n, Y: []float64{w + c/n, w + c/n}})
	}
	f, err := FitInverse(pts)
	if err != nil {
		t.Fatal(err)
	}
	if !near(f.W, w, 1e-6) || !near(f.C, c, 1e-6) {
		t.Errorf("W %v C %v, want %v %v", f.W, f.C, w, c)
	}
	if !near(f.R2, 1, 1e-12) || f.Points != 5 || f.Samples != 10 {
		t.Errorf("R² %v points %d samples %d", f.R2, f.Points, f.Samples)
	}
	if !near(f.WLo, w, 1e-6) || !near(f.WHi, w, 1e-6) || !near(f.CLo, c, 1e-6) || !near(f.CHi, c, 1e-6) {
		t.Errorf("exact data, intervals not points: %+v", f)
	}
}

// With noise the 95% intervals contain the true W and C in about 95% of fits.
func TestFitInverseIntervalsCoverTruth(t *testing.T) {
	const w, c, sd = 800.0, 2500.0, 150.0
	rng := rand.New(rand.NewPCG(1, 2))
	const trials = 400
	coverW, coverC := 0, 0
	for range trials {
		var pts []Point
		for _, n := range []float64{1, 2, 4, 8, 16, 32, 64} {
			p := Point{N: n}
			for range 3 {
				p.Y = append(p.Y, w+c/n+rng.NormFloat64()*sd)
			}
			pts = append(pts, p)
		}
		f, err := FitInverse(pts)
		if err != nil {
			t.Fatal(err)
		}
		if f.WLo >= f.W || f.WHi <= f.W || f.CLo >= f.C || f.CHi <= f.C {
			t.Fatalf("intervals do not surround the estimates: %+v", f)
		}
		if f.WLo <= w && w <= f.WHi {
			coverW++
		}
		if f.CLo <= c && c <= f.CHi {
			coverC++
		}
	}
	for name, cover := range map[string]int{"W": coverW, "C": coverC} {
		if rate := float64(cover) / trials; rate < 0.90 || rate > 0.99 {
			t.Errorf("%s: the 95%% interval held the truth in %.1f%% of fits", name, 100*rate)
		}
	}
}

func TestFitInverseTooFewPoints(t *testing.T) {
	for name, pts := range map[string][]Point{
		"two N":        {{N: 1, Y: []float64{5, 6, 7}}, {N: 2, Y: []float64{4, 5}}},
		"three values": {{N: 1, Y: []float64{5}}, {N: 2, Y: []float64{4}}, {N: 4, Y: []float64{3}}},
		"NaN left out": {{N: 1, Y: []float64{5, 6}}, {N: 2, Y: []float64{4}}, {N: 4, Y: []float64{math.NaN()}}},
		"none":         nil,
	} {
		_, err := FitInverse(pts)
		if !errors.Is(err, ErrTooFewPoints) {
			t.Errorf("%s: err %v, want ErrTooFewPoints", name, err)
		}
	}
	if !strings.Contains(ErrTooFewPoints.Error(), "need 3 distinct N and 4 samples") {
		t.Errorf("message %q does not say what is needed", ErrTooFewPoints)
	}
	if _, err := FitInverse([]Point{{N: 0, Y: []float64{1}}, {N: 1, Y: []float64{1}}}); err == nil || errors.Is(err, ErrTooFewPoints) {
		t.Errorf("N = 0: err %v, want a bad-N error", err)
	}
	f, err := FitInverse([]Point{{N: 1, Y: []float64{5}}, {N: 2, Y: []float64{4}}, {N: 4, Y: []float64{3, 3}}})
	if err != nil || f.Points != 3 || f.Samples != 4 {
		t.Errorf("3 N and 4 samples: %+v, %v", f, err)
	}
}

func TestBreakEven(t *testing.T) {
	epoll := Fit{W: 3500}
	for _, tc := range []struct {
		name string
		a    Fit
		n    float64
		ok   bool
	}{
		{"crosses", Fit{W: 1000, C: 3000}, 1.2, true},              // 1000 + 3000/N = 3500 at N = 1.2
		{"crosses later", Fit{W: 3000, C: 5000}, 10, true},         // 500·N = 5000
		{"below at 1", Fit{W: 1000, C: 2000}, 1, true},             // 3000 ≤ 3500 already
		{"equal at 1", Fit{W: 3000, C: 500}, 1, true},              // 3500 ≤ 3500
		{"never: same w", Fit{W: 3500, C: 100}, 0, false},          // always 100/N above
		{"never: higher w", Fit{W: 3600, C: 100}, 0, false},        // above everywhere
		{"higher w, lower c", Fit{W: 3600, C: -200}, 1, true},      // 3400 at N = 1, above from N = 2
		{"flat below", Fit{W: 3400}, 1, true},                      // a flat line below
		{"negative c above", Fit{W: 4000, C: -100}, 0, false},      // 3900 at N = 1
		{"both batch", Fit{W: 1000, C: 9000}, 9000.0 / 2500, true}, // vs 3500 flat: 2500·N = 9000
	} {
		n, ok := BreakEven(tc.a, epoll)
		if ok != tc.ok || (ok && !near(n, tc.n, 1e-9)) {
			t.Errorf("%s: BreakEven = %v, %v; want %v, %v", tc.name, n, ok, tc.n, tc.ok)
			continue
		}
		if ok && tc.a.At(n) > epoll.At(n)+1e-9 {
			t.Errorf("%s: at N = %v a is %v > b %v", tc.name, n, tc.a.At(n), epoll.At(n))
		}
		if ok && n > 1 && tc.a.At(n*0.99) <= epoll.At(n*0.99) {
			t.Errorf("%s: N = %v is not the smallest", tc.name, n)
		}
	}
	// Without variances the CI range is the break-even's ceiling.
	lo, hi, okLo, okHi := BreakEvenCI(Fit{W: 1000, C: 3000}, epoll)
	if lo != 2 || hi != 2 || !okLo || !okHi {
		t.Errorf("BreakEvenCI = %d, %d, %v, %v; want 2, 2", lo, hi, okLo, okHi)
	}
	if _, _, okLo, okHi := BreakEvenCI(Fit{W: 3600, C: 100}, epoll); okLo || okHi {
		t.Errorf("BreakEvenCI of lines that never cross: %v %v", okLo, okHi)
	}
}

func TestFromFileFixture(t *testing.T) {
	f, err := result.Load("testdata/batch-sweep.json")
	if err != nil {
		t.Fatal(err)
	}
	models := FromFile(f)
	if len(models) != 2 {
		t.Fatalf("%d models, want epoll and uring: %+v", len(models), models)
	}
	byBackend := map[string]Model{}
	for _, m := range models {
		if m.Err != nil {
			t.Fatalf("%s: %v", m.Backend, m.Err)
		}
		if m.Workload != "small-file" || m.Axis.Param != "batch" || m.Fixed != "bs=4096/depth=64" {
			t.Errorf("model %s/%s %s fixed %q", m.Workload, m.Backend, m.Axis.Param, m.Fixed)
		}
		byBackend[m.Backend] = m
	}
	u, e := byBackend["uring"], byBackend["epoll"]
	// Counted samples (CPU 99999 ns/op) are not fitted: 5 batch sizes x 3 timed samples.
	if u.Fit.Points != 5 || u.Fit.Samples != 15 {
		t.Errorf("uring fitted on %d points, %d samples; want 5, 15", u.Fit.Points, u.Fit.Samples)
	}
	if !near(u.Fit.W, 1000, 1e-6) || !near(u.Fit.C, 3000, 1e-6) {
		t.Errorf("uring W %v C %v, want 1000, 3000", u.Fit.W, u.Fit.C)
	}
	if !(u.Fit.CLo < 3000 && 3000 < u.Fit.CHi) || !(u.Fit.WLo < 1000 && 1000 < u.Fit.WHi) {
		t.Errorf("uring intervals %+v", u.Fit)
	}
	if !near(e.Fit.W, 3500, 1e-6) || !near(e.Fit.C, 0, 1e-6) || !(e.Fit.CLo < 0 && 0 < e.Fit.CHi) {
		t.Errorf("epoll %+v, want flat at 3500", e.Fit)
	}
	if e.Versus != "" || u.Versus != "epoll" || !u.BreakOK || !near(u.BreakEven, 1.2, 1e-6) {
		t.Errorf("break-even: epoll versus %q; uring versus %q at %v (%v)", e.Versus, u.Versus, u.BreakEven, u.BreakOK)
	}
	if !u.LoOK || !u.HiOK || u.Lo > 2 || u.Hi < 2 {
		t.Errorf("break-even CI %d–%d (%v %v) does not hold batch 2", u.Lo, u.Hi, u.LoOK, u.HiOK)
	}

	var b strings.Builder
	if err := WriteText(&b, models, f.Env); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"small-file: CPU/op = w + c/batch (bs=4096/depth=64)",
		"3.00µs (", "1.00µs (", "30.0", // c in null syscalls: 3000 / 100 ns
		"5 batch sizes, 15 samples",
		"A null syscall (getppid) cost 100ns",
		"uring's CPU/op falls below epoll's from batch 2 (CI ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	t.Log("\n" + out)
}

func TestFromFileTooFewAndNoSweep(t *testing.T) {
	f, err := result.Load("testdata/batch-sweep.json")
	if err != nil {
		t.Fatal(err)
	}
	keep := func(batches ...string) *result.File {
		g := *f
		g.Samples = nil
		for _, s := range f.Samples {
			for _, b := range batches {
				if s.Params["batch"] == b {
					g.Samples = append(g.Samples, s)
				}
			}
		}
		return &g
	}
	if m := FromFile(keep("4")); len(m) != 0 {
		t.Errorf("one batch size is no sweep: %+v", m)
	}
	models := FromFile(keep("1", "16"))
	if len(models) != 2 || !models[0].TooFew() || !models[1].TooFew() {
		t.Fatalf("two batch sizes: %+v", models)
	}
	var b strings.Builder
	if err := WriteText(&b, models, fingerprint.Fingerprint{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "too few points to fit (2 batch sizes; need 3)") || strings.Contains(b.String(), "A null syscall") {
		t.Errorf("text:\n%s", b.String())
	}

	// Separate files at one batch size each make one sweep; epoll run at a single batch size is flat.
	var parts []*result.File
	for _, n := range []string{"1", "2", "4", "8"} {
		p := keep(n)
		if n != "4" {
			var uring []result.Sample
			for _, s := range p.Samples {
				if s.Backend == "uring" {
					uring = append(uring, s)
				}
			}
			p.Samples = uring
		}
		parts = append(parts, p)
	}
	models = FromFiles(parts...)
	if len(models) != 2 {
		t.Fatalf("FromFiles: %+v", models)
	}
	for _, m := range models {
		switch m.Backend {
		case "epoll":
			if !m.Constant || !near(m.Fit.W, 3500, 1e-6) || m.Fit.C != 0 || m.Fit.Samples != 3 {
				t.Errorf("epoll at one batch size: %+v", m)
			}
		case "uring":
			if m.Constant || m.Fit.Points != 4 || !near(m.Fit.C, 3000, 1e-6) || m.Versus != "epoll" || !near(m.BreakEven, 1.2, 1e-6) {
				t.Errorf("uring across files: %+v", m)
			}
		}
	}
}

func TestFromFileConnsSweep(t *testing.T) {
	// echo-proxy: syscalls/request = 0.2 + 1.6/conns on epoll, from counted samples only.
	var f result.File
	for _, conns := range []int{1, 4, 16, 64} {
		for r := range 2 {
			per := 0.2 + 1.6/float64(conns) + 0.01*float64(r)
			f.Samples = append(f.Samples,
				result.Sample{Backend: "epoll", Workload: "echo-proxy", Kind: result.KindCounted, Ops: 1000, Seconds: 1,
					Params:   map[string]string{"conns": strconv.Itoa(conns), "msg-size": "64"},
					Syscalls: result.Syscalls{Available: true, Total: uint64(per * 1000), PerOp: per}},
				result.Sample{Backend: "epoll", Workload: "echo-proxy", Kind: result.KindTimed, Ops: 1000, Seconds: 1,
					Params: map[string]string{"conns": strconv.Itoa(conns), "msg-size": "64"}})
		}
	}
	models := FromFile(&f)
	if len(models) != 1 || models[0].Err != nil {
		t.Fatalf("%+v", models)
	}
	m := models[0]
	if m.Axis.Param != "conns" || m.Fit.Samples != 8 || !near(m.Fit.C, 1.6, 0.01) || !near(m.Fit.W, 0.205, 0.01) {
		t.Errorf("conns fit %+v", m.Fit)
	}
	var b strings.Builder
	_ = WriteText(&b, models, fingerprint.Fingerprint{SyscallNs: 90})
	if !strings.Contains(b.String(), "echo-proxy: syscalls/request = w + c/conns (msg-size=64)") ||
		!strings.Contains(b.String(), "4 connection counts, 8 samples") {
		t.Errorf("text:\n%s", b.String())
	}
}

func TestSyscallNsAcrossFiles(t *testing.T) {
	fs := []*result.File{{}, {}, {}, {}}
	fs[0].Env.SyscallNs, fs[1].Env.SyscallNs, fs[2].Env.SyscallNs = 300, 100, 200
	if got := SyscallNs(fs...); got != 200 {
		t.Errorf("median of 300, 100, 200 and an unmeasured one: %v", got)
	}
	if got := SyscallNs(&result.File{}); got != 0 {
		t.Errorf("none measured: %v", got)
	}
}
