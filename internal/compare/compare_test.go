package compare

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"

	"github.com/ringbench/ringbench/internal/fingerprint"
	"github.com/ringbench/ringbench/internal/result"
)

// noisy returns n values around center with uniform relative noise of ±spread, from a fixed seed.
func noisy(seed uint64, n int, center, spread float64) []float64 {
	r := rand.New(rand.NewPCG(seed, 42))
	out := make([]float64, n)
	for i := range out {
		out[i] = center * (1 + spread*(2*r.Float64()-1))
	}
	return out
}

// samplesOf makes samples of one series with the given ops/s and (optionally) syscalls/op values.
func samplesOf(workload, backend string, ops []float64, syscalls []float64) []result.Sample {
	n := max(len(ops), len(syscalls))
	out := make([]result.Sample, n)
	for i := range out {
		s := result.Sample{Workload: workload, Backend: backend, Repeat: i, EntersPerOp: -1,
			Params: map[string]string{"depth": "32"}}
		if i < len(ops) {
			s.Seconds, s.OpsPerSec, s.Ops = 1, ops[i], int64(ops[i])
		}
		if i < len(syscalls) {
			s.Ops = max(s.Ops, 1000)
			s.Syscalls = result.Syscalls{Available: true, PerOp: syscalls[i]}
		}
		out[i] = s
	}
	return out
}

func env(kernel string) fingerprint.Fingerprint {
	var e fingerprint.Fingerprint
	e.Kernel.Release = kernel
	e.CPU.Model = "AMD EPYC 7B13"
	e.CPU.Logical = 2
	e.Go.GOMAXPROCS = 2
	e.Mitigations = map[string]string{"spectre_v2": "Mitigation: Retpolines"}
	return e
}

func set(name string, samples ...[]result.Sample) *Set {
	s := &Set{Name: name, Files: []string{name + ".json"}, Kernel: "6.18.0", Env: env("6.18.0")}
	s.Envs = []fingerprint.Fingerprint{s.Env}
	for _, ss := range samples {
		s.Samples = append(s.Samples, ss...)
	}
	return s
}

func only(metrics ...string) Options {
	o := DefaultOptions()
	o.Metrics = metrics
	return o
}

func mustCompare(t *testing.T, sets []*Set, o Options) *Report {
	t.Helper()
	r, err := Compare(sets, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func cell(t *testing.T, r *Report, metric, seriesPrefix string) Cell {
	t.Helper()
	for _, row := range r.Rows {
		if row.Metric == metric && strings.HasPrefix(row.Series, seriesPrefix) {
			return row.Cells[0]
		}
	}
	t.Fatalf("no row %s %s in %+v", metric, seriesPrefix, r.Rows)
	return Cell{}
}

func TestTenPercentShiftWithTenSamplesIsARegression(t *testing.T) {
	base := set("base", samplesOf("small-file", "uring", noisy(1, 10, 100_000, 0.02), nil))
	neu := set("new", samplesOf("small-file", "uring", noisy(2, 10, 90_000, 0.02), nil))
	r := mustCompare(t, []*Set{base, neu}, DefaultOptions())
	c := cell(t, r, "ops/s", "small-file/uring")
	if c.Verdict != Regression {
		t.Fatalf("verdict %s (%s), want regression", c.Verdict, c.Reason)
	}
	if c.Change == nil || math.Abs(*c.Change+0.10) > 0.03 || *c.PAdjusted > 0.05 || c.Rule != RuleUTest {
		t.Fatalf("cell %+v", c)
	}
	if !r.Regressed() || r.ExitCode(false) != ExitRegression || r.Comparisons != 1 {
		t.Fatalf("report: regressed=%v exit=%d comparisons=%d", r.Regressed(), r.ExitCode(false), r.Comparisons)
	}
	if r.FalseAlarms != "false alarms: Holm-Bonferroni over 1 comparisons at alpha 0.05" {
		t.Fatalf("false alarm line %q", r.FalseAlarms)
	}
}

func TestIdenticalDistributionsAreNotFlagged(t *testing.T) {
	for seed := uint64(0); seed < 50; seed++ {
		var b, n [][]result.Sample
		for _, backend := range []string{"epoll", "uring", "sqpoll"} {
			b = append(b, samplesOf("small-file", backend, noisy(seed*7+1, 10, 100_000, 0.03), noisy(seed*7+2, 10, 3, 0.001)))
			n = append(n, samplesOf("small-file", backend, noisy(seed*7+3, 10, 100_000, 0.03), noisy(seed*7+4, 10, 3, 0.001)))
		}
		r := mustCompare(t, []*Set{set("base", b...), set("new", n...)}, DefaultOptions())
		if r.Regressions+r.Improvements != 0 || r.NoVerdicts != 0 {
			t.Fatalf("seed %d: %s", seed, r.VerdictLine())
		}
		if r.ExitCode(true) != ExitOK {
			t.Fatalf("seed %d: exit %d", seed, r.ExitCode(true))
		}
	}
	// The very same values on both sides.
	v := noisy(9, 10, 100_000, 0.05)
	r := mustCompare(t, []*Set{set("a", samplesOf("w", "uring", v, v)), set("b", samplesOf("w", "uring", v, v))}, DefaultOptions())
	if r.Regressions+r.Improvements != 0 {
		t.Fatal(r.VerdictLine())
	}
}

func TestFewerThanFourSamplesWarnsAndGivesNoVerdict(t *testing.T) {
	base := set("base", samplesOf("small-file", "uring", []float64{100, 101, 99}, nil))
	neu := set("new", samplesOf("small-file", "uring", []float64{50, 51, 49}, nil))
	r := mustCompare(t, []*Set{base, neu}, DefaultOptions())
	c := cell(t, r, "ops/s", "small-file/uring")
	if c.Verdict != NoVerdict || !strings.Contains(c.Reason, "need 4") || c.PAdjusted != nil {
		t.Fatalf("cell %+v", c)
	}
	if r.Regressed() || r.ExitCode(false) != ExitInconclusive || r.ExitCode(true) != ExitNotComparable {
		t.Fatalf("exit %d / strict %d", r.ExitCode(false), r.ExitCode(true))
	}
	if r.Inconclusive() != 1 || !strings.Contains(r.VerdictLine(), "verdict: inconclusive: too few samples in 1 of 1 comparisons") {
		t.Fatalf("inconclusive %d: %s", r.Inconclusive(), r.VerdictLine())
	}
	if r.Comparisons != 0 || !strings.Contains(strings.Join(r.Warnings, "\n"), "too few values for a verdict") {
		t.Fatalf("comparisons %d warnings %q", r.Comparisons, r.Warnings)
	}
	if len(r.TooFewSamples()) != 1 {
		t.Fatalf("too few: %q", r.TooFewSamples())
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil { // infinite CIs must not break JSON
		t.Fatal(err)
	}
	if !json.Valid(buf.Bytes()) || !strings.Contains(buf.String(), `"ci_lo": null`) {
		t.Fatalf("json: %s", buf.String())
	}
}

func TestHolmCorrectionChangesABorderlineVerdict(t *testing.T) {
	// Five values per side, fully separated: raw p = 2/C(10,5) = 0.0079.
	b := samplesOf("small-file", "uring", []float64{100, 101, 102, 103, 104}, nil)
	n := samplesOf("small-file", "uring", []float64{88, 89, 90, 91, 92}, nil)
	alone := mustCompare(t, []*Set{set("base", b), set("new", n)}, only("ops/s"))
	if c := cell(t, alone, "ops/s", "small-file/uring"); c.Verdict != Regression || math.Abs(*c.P-2.0/252) > 1e-9 {
		t.Fatalf("alone: %+v p=%v", c, *c.P)
	}
	// Ten more comparisons with nothing going on: the family is 11, and 11 x 0.0079 > 0.05.
	bs, ns := [][]result.Sample{b}, [][]result.Sample{n}
	for i := range 10 {
		w := "other-" + string(rune('a'+i))
		bs = append(bs, samplesOf(w, "epoll", noisy(uint64(i), 5, 1000, 0.05), nil))
		ns = append(ns, samplesOf(w, "epoll", noisy(uint64(i+100), 5, 1000, 0.05), nil))
	}
	fam := mustCompare(t, []*Set{set("base", bs...), set("new", ns...)}, only("ops/s"))
	c := cell(t, fam, "ops/s", "small-file/uring")
	if fam.Comparisons != 11 || c.Verdict != NoChange || !strings.Contains(c.Reason, "Holm-Bonferroni over 11") {
		t.Fatalf("family of %d: %+v", fam.Comparisons, c)
	}
	if *c.PAdjusted <= 0.05 || *c.P > 0.05 {
		t.Fatalf("p=%v adjusted=%v", *c.P, *c.PAdjusted)
	}
	o := only("ops/s")
	o.NoCorrection = true
	raw := mustCompare(t, []*Set{set("base", bs...), set("new", ns...)}, o)
	if c := cell(t, raw, "ops/s", "small-file/uring"); c.Verdict != Regression {
		t.Fatalf("without correction: %+v", c)
	}
	if !strings.Contains(raw.FalseAlarms, "no correction") {
		t.Fatal(raw.FalseAlarms)
	}
}

func TestHolmAdjustedValues(t *testing.T) {
	got := Holm([]float64{0.01, 0.04, 0.03, 0.005})
	want := []float64{0.03, 0.06, 0.06, 0.02}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Fatalf("Holm = %v, want %v", got, want)
		}
	}
	if got := Holm([]float64{0.5, 0.9}); got[0] != 1 || got[1] != 1 {
		t.Fatalf("capped at 1: %v", got)
	}
}

func TestDirectionComesFromTheMetric(t *testing.T) {
	lat := func(ns []float64) []result.Sample {
		s := samplesOf("echo", "uring", ns, nil)
		for i := range s {
			s[i].Latency = result.Latency{Count: 100, P50: int64(ns[i]), P99: int64(ns[i] * 3), P999: int64(ns[i] * 4)}
			s[i].CPU.PerOpNs = ns[i]
		}
		return s
	}
	up := noisy(3, 8, 20_000, 0.01)
	down := noisy(4, 8, 16_000, 0.01)
	// Every figure went down 20%: ops/s is worse, latency and CPU per op are better.
	r := mustCompare(t, []*Set{set("base", lat(up)), set("new", lat(down))}, only("ops/s", "p50", "p99", "cpu-ns/op"))
	for metric, want := range map[string]Verdict{"ops/s": Regression, "p50": Improvement, "p99": Improvement, "cpu-ns/op": Improvement} {
		if c := cell(t, r, metric, "echo/uring"); c.Verdict != want {
			t.Errorf("%s: %s, want %s", metric, c.Verdict, want)
		}
	}
	// And the other way round.
	r = mustCompare(t, []*Set{set("base", lat(down)), set("new", lat(up))}, only("ops/s", "p50", "cpu-ns/op"))
	for metric, want := range map[string]Verdict{"ops/s": Improvement, "p50": Regression, "cpu-ns/op": Regression} {
		if c := cell(t, r, metric, "echo/uring"); c.Verdict != want {
			t.Errorf("reversed %s: %s, want %s", metric, c.Verdict, want)
		}
	}
}

func TestSignificantButSmallChangeIsNotARegression(t *testing.T) {
	b := samplesOf("w", "uring", noisy(5, 10, 100_000, 0.002), nil)
	n := samplesOf("w", "uring", noisy(6, 10, 97_000, 0.002), nil) // -3%, highly significant
	r := mustCompare(t, []*Set{set("base", b), set("new", n)}, only("ops/s"))
	c := cell(t, r, "ops/s", "w/uring")
	if c.Verdict != NoChange || *c.PAdjusted > 0.05 || !strings.Contains(c.Reason, "within the 5% threshold") {
		t.Fatalf("%+v", c)
	}
	o := only("ops/s")
	o.MetricThresholds = map[string]float64{"ops/s": 0.02}
	if c := cell(t, mustCompare(t, []*Set{set("base", b), set("new", n)}, o), "ops/s", "w/uring"); c.Verdict != Regression || c.Reason == "" {
		t.Fatalf("with ops/s=2%%: %+v", c)
	}
}

func TestOrderingRuleForDeterministicMetrics(t *testing.T) {
	cmp := func(b, n []float64, o Options) Cell {
		t.Helper()
		o.Metrics = []string{"syscalls/op"}
		r := mustCompare(t, []*Set{set("base", samplesOf("small-file", "uring", nil, b)), set("new", samplesOf("small-file", "uring", nil, n))}, o)
		return cell(t, r, "syscalls/op", "small-file/uring")
	}
	d := DefaultOptions()
	cases := []struct {
		name string
		b, n []float64
		o    Options
		want Verdict
	}{
		{"one more syscall per op, n=3", []float64{3.001, 3.002, 3.000}, []float64{4.001, 4.003, 4.002}, d, Regression},
		{"one fewer", []float64{3.001, 3.002, 3.000}, []float64{2.001, 2.003, 2.002}, d, Improvement},
		{"identical", []float64{3, 3, 3, 3}, []float64{3, 3, 3, 3}, d, NoChange},
		{"ranges overlap", []float64{3.0, 3.5, 3.1}, []float64{3.4, 3.9, 4.0}, d, NoChange},
		{"+3% under the 5% threshold", []float64{3.0, 3.0, 3.0}, []float64{3.09, 3.09, 3.09}, d, NoChange},
		{"+3% over a 2% threshold", []float64{3.0, 3.0, 3.0}, []float64{3.09, 3.09, 3.09},
			Options{Threshold: 0.05, MetricThresholds: map[string]float64{"syscalls/op": 0.02}, Alpha: 0.05, MinAbsChange: 0.01}, Regression},
		{"doubling of a tiny figure stays under the absolute floor", []float64{0.005, 0.005, 0.005}, []float64{0.01, 0.01, 0.01}, d, NoChange},
		{"from zero", []float64{0, 0, 0}, []float64{0.5, 0.5, 0.5}, d, Regression},
		{"n=2 gives no verdict", []float64{3, 3}, []float64{4, 4}, d, NoVerdict},
	}
	for _, tc := range cases {
		c := cmp(tc.b, tc.n, tc.o)
		if c.Verdict != tc.want || c.Rule != RuleOrdering || c.PAdjusted != nil {
			t.Errorf("%s: %s (%s), want %s", tc.name, c.Verdict, c.Reason, tc.want)
		}
	}
}

func TestDeterministicMetricsStayOutOfTheHolmFamily(t *testing.T) {
	b := samplesOf("small-file", "uring", noisy(1, 6, 1000, 0.02), noisy(2, 6, 3, 0.0001))
	n := samplesOf("small-file", "uring", noisy(3, 6, 1000, 0.02), noisy(4, 6, 4, 0.0001))
	r := mustCompare(t, []*Set{set("base", b), set("new", n)}, only("ops/s", "syscalls/op"))
	if r.Comparisons != 1 || r.OrderingTests != 1 || r.Regressions != 1 {
		t.Fatalf("comparisons %d ordering %d regressions %d", r.Comparisons, r.OrderingTests, r.Regressions)
	}
}

func TestMissingMetricOrSeriesGivesNoVerdict(t *testing.T) {
	b := append(samplesOf("small-file", "uring", noisy(1, 5, 1000, 0.02), noisy(2, 5, 3, 0.001)),
		samplesOf("small-file", "sqpoll", noisy(1, 5, 1000, 0.02), nil)...)
	n := samplesOf("small-file", "uring", noisy(3, 5, 1000, 0.02), nil) // syscalls not counted; sqpoll skipped
	r := mustCompare(t, []*Set{set("base", b), set("new", n)}, only("ops/s", "syscalls/op"))
	if c := cell(t, r, "syscalls/op", "small-file/uring"); c.Verdict != NoVerdict || !c.Missing {
		t.Fatalf("%+v", c)
	}
	if c := cell(t, r, "ops/s", "small-file/sqpoll"); c.Verdict != NoVerdict || !c.Missing {
		t.Fatalf("%+v", c)
	}
	w := strings.Join(r.Warnings, "\n")
	if !strings.Contains(w, "syscalls/op of small-file/uring/depth=32 is in the baseline") || !strings.Contains(w, "small-file/sqpoll/depth=32 is in the baseline base but not in new") {
		t.Fatalf("warnings: %s", w)
	}
	if r.ExitCode(false) != ExitOK || r.ExitCode(true) != ExitNotComparable {
		t.Fatal("strict must refuse missing figures")
	}
}

func TestNewSetsPoolsFilesSharingALabel(t *testing.T) {
	mk := func(label, kernel string, ops ...float64) *result.File {
		return &result.File{Label: label, Env: env(kernel), Samples: samplesOf("w", "uring", ops, nil)}
	}
	files := []*result.File{mk("before", "6.1", 1, 2), mk("after", "6.1", 3), mk("before", "6.1", 4), mk("", "6.1", 5)}
	paths := []string{"a/1.json", "a/2.json", "b/3.json", "b/4.json"}
	sets, err := NewSets(paths, files, ByLabel)
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 3 || sets[0].Name != "before" || len(sets[0].Samples) != 3 || len(sets[0].Files) != 2 ||
		sets[1].Name != "after" || sets[2].Name != "4.json" {
		t.Fatalf("sets: %+v", sets)
	}
	if sets, err = NewSets(paths, files, ByFile); err != nil || len(sets) != 4 {
		t.Fatalf("by file: %v %d", err, len(sets))
	}
	same := []*result.File{mk("ci", "6.1", 1), mk("ci", "6.1", 2)}
	if _, err := NewSets([]string{"x.json", "y.json"}, same, ByLabel); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "--group-by file") {
		t.Fatalf("one set: %v", err)
	}
	if sets, err := NewSets([]string{"x.json", "y.json"}, same, ByFile); err != nil || len(sets) != 2 {
		t.Fatalf("by file: %v", err)
	}
	if _, err := NewSets([]string{"x.json"}, same[:1], ByLabel); !errors.Is(err, ErrUsage) {
		t.Fatalf("one file: %v", err)
	}
	mixed := []*result.File{mk("k", "6.1", 1), mk("k", "6.12", 2), mk("", "6.1", 3)}
	sets, _ = NewSets([]string{"1", "2", "3"}, mixed, ByLabel)
	if sets[0].Kernel != "mixed" {
		t.Fatalf("kernel of a pooled set with two kernels: %q", sets[0].Kernel)
	}
}

func TestFingerprintChecks(t *testing.T) {
	sa, sb := set("base"), set("new")
	sb.Envs[0] = env("6.12.0")
	sb.Envs[0].Mitigations = map[string]string{"spectre_v2": "Mitigation: Enhanced IBRS", "new_one": "Not affected"}
	if got := CheckComparable([]*Set{sa, sb}); len(got) != 0 {
		t.Fatalf("kernel alone (mitigations reworded, one more file) must not be a mismatch: %q", got)
	}
	b := env("6.18.0")
	b.CPU.Model, b.Go.GOMAXPROCS = "Intel Xeon", 4
	b.Mitigations = map[string]string{"spectre_v2": "Vulnerable"}
	sb.Envs[0] = b
	got := CheckComparable([]*Set{sa, sb})
	m := strings.Join(got, "; ")
	for _, want := range []string{`base.json vs new.json: cpu model: "AMD EPYC 7B13" vs "Intel Xeon"`, "GOMAXPROCS: 2 vs 4", `mitigation spectre_v2: "Mitigation: Retpolines" vs "Vulnerable"`} {
		if !strings.Contains(m, want) {
			t.Errorf("mismatch %q lacks %q", m, want)
		}
	}
	if len(got) != 3 {
		t.Errorf("want 3 differences, got %q", got)
	}
}

func TestKernelsBecomeColumns(t *testing.T) {
	mk := func(name, kernel string, center float64) *Set {
		s := set(name, samplesOf("small-file", "uring", noisy(uint64(center), 6, center, 0.01), nil))
		s.Kernel, s.Env = kernel, env(kernel)
		s.Envs = []fingerprint.Fingerprint{s.Env}
		return s
	}
	r := mustCompare(t, []*Set{mk("k61", "6.1.0", 100), mk("k612", "6.12.0", 110), mk("k618", "6.18.0", 120)}, only("ops/s"))
	if !r.KernelColumns || !r.KernelOnly || len(r.Rows[0].Cells) != 2 {
		t.Fatalf("kernel columns %v only %v cells %d", r.KernelColumns, r.KernelOnly, len(r.Rows[0].Cells))
	}
	var buf bytes.Buffer
	if err := WriteTable(&buf, r); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	hdr := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "series") {
			hdr = l
		}
	}
	for _, k := range []string{"6.1.0 (k61)", "6.12.0 (k612)", "6.18.0 (k618)"} {
		if !strings.Contains(hdr, k) {
			t.Errorf("header %q lacks column %q\n%s", hdr, k, out)
		}
	}
	if !strings.Contains(out, "fingerprints differ only in kernel") || r.Comparisons != 2 {
		t.Errorf("output:\n%s", out)
	}
}

func TestRenderings(t *testing.T) {
	b := samplesOf("small-file", "uring", noisy(1, 10, 100_000, 0.02), noisy(2, 10, 3, 0.0001))
	n := samplesOf("small-file", "uring", noisy(3, 10, 90_000, 0.02), noisy(4, 10, 3, 0.0001))
	sets := []*Set{set("base", b), set("new", n)}
	r := mustCompare(t, sets, only("ops/s", "syscalls/op"))
	var tb, md, js, bs bytes.Buffer
	for _, err := range []error{WriteTable(&tb, r), WriteMarkdown(&md, r), WriteJSON(&js, r), WriteBenchstat(&bs, sets)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, out := range map[string]string{"table": tb.String(), "markdown": md.String()} {
		for _, want := range []string{"Holm-Bonferroni over 1 comparisons at alpha 0.05", "REGRESSION", "every new value is worse than every baseline value", "-10."} {
			if !strings.Contains(out, want) {
				t.Errorf("%s lacks %q:\n%s", name, want, out)
			}
		}
	}
	if !strings.Contains(md.String(), "| series | base | new | change | test | verdict |") {
		t.Errorf("markdown table header:\n%s", md.String())
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Regressions != 1 || back.FalseAlarms != r.FalseAlarms || len(back.Rows) != 2 {
		t.Fatalf("json: %v %+v", err, back)
	}
	// The benchstat text parses, with one label per set.
	rd := benchfmt.NewReader(&bs, "bs.txt")
	labels := map[string]int{}
	for rd.Scan() {
		switch rec := rd.Result().(type) {
		case *benchfmt.Result:
			labels[rec.GetConfig("label")]++
		case *benchfmt.SyntaxError:
			t.Fatal(rec)
		}
	}
	if labels["base"] != 10 || labels["new"] != 10 {
		t.Fatalf("labels %v", labels)
	}
}

func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		unit string
		v    float64
		want string
	}{
		{"ops/s", 81234, "81.23k"}, {"ops/s", 1234567, "1.235M"}, {"syscalls/op", 0.0331, "0.03310"},
		{"syscalls/op", 1.003, "1.003"}, {"syscalls/op", 3, "3.000"}, {"ns/p50", 12345, "12.35µs"}, {"ns/p99", 850, "850.0ns"},
		{"B", 3 << 20, "3.000MiB"}, {"ops/s", 0, "0"},
	} {
		if got := FormatValue(tc.unit, tc.v); got != tc.want {
			t.Errorf("FormatValue(%s, %v) = %q, want %q", tc.unit, tc.v, got, tc.want)
		}
	}
}

func TestParsers(t *testing.T) {
	for in, want := range map[string]float64{"5%": 0.05, "5": 0.05, "2.5%": 0.025, " 10 % ": 0.10, "0%": 0} {
		if got, err := ParseThreshold(in); err != nil || math.Abs(got-want) > 1e-12 {
			t.Errorf("ParseThreshold(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"5x", "", "%", "-1%", "NaN", "inf", "5000%"} {
		if _, err := ParseThreshold(in); err == nil {
			t.Errorf("ParseThreshold(%q) accepted", in)
		}
	}
	m, err := ParseMetricThresholds("syscalls/op=2%, ops/s=10%")
	if err != nil || m["syscalls/op"] != 0.02 || m["ops/s"] != 0.10 {
		t.Fatalf("%v %v", m, err)
	}
	for _, in := range []string{"nope=2%", "ops/s", "ops/s=5x", ""} {
		if _, err := ParseMetricThresholds(in); err == nil {
			t.Errorf("ParseMetricThresholds(%q) accepted", in)
		}
	}
	if ms, err := ParseMetrics("syscalls/op,enters/op,syscalls/op"); err != nil || len(ms) != 2 {
		t.Fatalf("%v %v", ms, err)
	}
	if _, err := ParseMetrics("syscalls/op,bogus"); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Fatalf("%v", err)
	}
	if _, err := Compare([]*Set{set("a"), set("b")}, only("bogus")); !errors.Is(err, ErrUsage) {
		t.Fatalf("unknown metric: %v", err)
	}
}

// TestRealBenchstatRedoesTheComparison feeds --format benchstat output to the real benchstat when it is
// installed (go install golang.org/x/perf/cmd/benchstat@latest); it is optional tooling.
func TestRealBenchstatRedoesTheComparison(t *testing.T) {
	bin, err := exec.LookPath("benchstat")
	if err != nil {
		out, _ := exec.Command("go", "env", "GOPATH").Output()
		bin = filepath.Join(strings.TrimSpace(string(out)), "bin", "benchstat")
		if _, err := os.Stat(bin); err != nil {
			t.Skip("benchstat is not installed")
		}
	}
	b, n := set("base", samplesOf("small-file", "uring", noisy(1, 10, 100_000, 0.01), nil)), set("new", samplesOf("small-file", "uring", noisy(2, 10, 90_000, 0.01), nil))
	n.Kernel, n.Env = "6.12.0", env("6.12.0")
	var buf bytes.Buffer
	if err := WriteBenchstat(&buf, []*Set{b, n}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cmp.txt")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-col", "label", "-ignore", "kernel", p).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "vs base") || !strings.Contains(string(out), "SmallFile/backend=uring/depth=32-2") ||
		!regexp.MustCompile(`(?s)ops/s.*-(9|1\d)\.\d\d% \(p=0\.000 n=10\)`).Match(out) {
		t.Fatalf("benchstat: %v\n%s", err, out)
	}
}

func TestStrictRefusesAGateWithNothingToGate(t *testing.T) {
	// Syscalls were not counted on either side (no perf access): the syscalls/op gate has nothing to judge.
	b := samplesOf("small-file", "uring", noisy(1, 6, 1000, 0.01), nil)
	n := samplesOf("small-file", "uring", noisy(2, 6, 1000, 0.01), nil)
	r := mustCompare(t, []*Set{set("base", b), set("new", n)}, only("syscalls/op", "ops/s"))
	if len(r.AbsentMetrics) != 1 || r.AbsentMetrics[0] != "syscalls/op" || r.ExitCode(false) != ExitOK || r.ExitCode(true) != ExitNotComparable {
		t.Fatalf("absent %q exit %d strict %d", r.AbsentMetrics, r.ExitCode(false), r.ExitCode(true))
	}
	r = mustCompare(t, []*Set{set("base", b), set("new", n)}, only("enters/op"))
	if len(r.Rows) != 0 || r.ExitCode(true) != ExitNotComparable || !strings.Contains(r.TooFewSamples()[0], "nothing compared") {
		t.Fatalf("rows %d strict %d %q", len(r.Rows), r.ExitCode(true), r.TooFewSamples())
	}
}

func TestAGateThatCannotFireIsSaid(t *testing.T) {
	if p := minP(5, 5); math.Abs(p-2.0/252) > 1e-12 {
		t.Fatalf("minP(5,5) = %v", p)
	}
	// n=4 per side: the smallest p is 2/70 = 0.029, above 0.05/2 with two comparisons.
	var bs, ns [][]result.Sample
	for _, w := range []string{"a", "b"} {
		bs = append(bs, samplesOf(w, "uring", []float64{100, 101, 102, 103}, nil))
		ns = append(ns, samplesOf(w, "uring", []float64{50, 51, 52, 53}, nil))
	}
	r := mustCompare(t, []*Set{set("base", bs...), set("new", ns...)}, only("ops/s"))
	if !r.DeadGate || r.Regressed() || r.ExitCode(true) != ExitNotComparable || r.ExitCode(false) != ExitInconclusive || r.Inconclusive() != 2 || !strings.Contains(strings.Join(r.Warnings, "\n"), "no U-test can be significant") {
		t.Fatalf("dead gate %v regressed %v warnings %q", r.DeadGate, r.Regressed(), r.Warnings)
	}
	// One comparison alone can be: 0.029 < 0.05.
	r = mustCompare(t, []*Set{set("base", bs[0]), set("new", ns[0])}, only("ops/s"))
	if r.DeadGate || !r.Regressed() {
		t.Fatalf("single comparison: dead %v regressed %v", r.DeadGate, r.Regressed())
	}
}

// TestInvalidSamplesAreLeftOut: three baseline samples that read from disk (10x slower) are left out of
// the comparison, which says so; counted in, they would make an improvement of the new set.
func TestInvalidSamplesAreLeftOut(t *testing.T) {
	baseSamples := samplesOf("small-file", "uring", noisy(1, 10, 100_000, 0.02), nil)
	for i := range 3 {
		baseSamples = append(baseSamples, samplesOf("small-file", "uring", []float64{10_000}, nil)...)
		baseSamples[len(baseSamples)-1].Invalid = &result.Warning{Kind: result.WarnLowResidency, Text: "page cache below 99% resident"}
		baseSamples[len(baseSamples)-1].Repeat = 10 + i
	}
	base := set("base", baseSamples)
	neu := set("new", samplesOf("small-file", "uring", noisy(2, 10, 100_000, 0.02), nil))
	r := mustCompare(t, []*Set{base, neu}, DefaultOptions())
	c := cell(t, r, "ops/s", "small-file/uring")
	if c.Verdict == Improvement || c.Verdict == Regression || r.Regressed() {
		t.Fatalf("verdict %s: the invalid samples were compared", c.Verdict)
	}
	if !strings.Contains(strings.Join(r.Warnings, "\n"), "base: left out 3 of 13 samples as invalid: 3 low-residency") {
		t.Fatalf("warnings %q do not say what was left out", r.Warnings)
	}
}
