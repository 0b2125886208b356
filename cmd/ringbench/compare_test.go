package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/fingerprint"
	"github.com/ringbench/ringbench/internal/result"
)

const cmpTimeout = 30 * time.Second

func cmpEnv(kernel string) fingerprint.Fingerprint {
	var e fingerprint.Fingerprint
	e.Kernel.Release, e.Kernel.Arch = kernel, "x86_64"
	e.CPU.Model, e.CPU.Logical = "AMD EPYC 7B13", 2
	e.Go.GOMAXPROCS, e.Go.Version = 2, "go1.26.8"
	e.Mitigations = map[string]string{"spectre_v2": "Mitigation: Retpolines"}
	return e
}

// cmpSamples makes n samples per backend of small-file with ops/s around opsPerSec (±1%, deterministic)
// and syscalls/op exactly syscalls.
func cmpSamples(n int, opsPerSec, syscalls float64, backends ...string) []result.Sample {
	var out []result.Sample
	for _, b := range backends {
		for i := range n {
			v := opsPerSec * (1 + 0.01*float64(i%5-2)/2)
			out = append(out, result.Sample{
				Workload: "small-file", Backend: b, Params: map[string]string{"depth": "32"}, Repeat: i,
				Seconds: 1, Ops: int64(v), OpsPerSec: v, EntersPerOp: -1,
				Syscalls: result.Syscalls{Available: true, PerOp: syscalls},
			})
		}
	}
	return out
}

func writeResult(t *testing.T, dir, name, label string, env fingerprint.Fingerprint, samples []result.Sample) string {
	t.Helper()
	p := filepath.Join(dir, name)
	f := &result.File{Label: label, Env: env, Samples: samples, Started: time.Unix(0, 0).UTC()}
	if err := result.Save(p, f, false); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCompareExitStatusFollowsTheVerdict(t *testing.T) {
	dir := t.TempDir()
	base := writeResult(t, dir, "base.json", "", cmpEnv("6.18.0"), cmpSamples(10, 100_000, 3, "epoll", "uring"))
	same := writeResult(t, dir, "same.json", "", cmpEnv("6.18.0"), cmpSamples(10, 100_000, 3, "epoll", "uring"))
	slow := writeResult(t, dir, "slow.json", "", cmpEnv("6.18.0"), cmpSamples(10, 90_000, 3, "epoll", "uring"))
	extra := writeResult(t, dir, "extra.json", "", cmpEnv("6.18.0"), cmpSamples(6, 100_000, 4, "epoll", "uring"))

	r := runRingbench(t, dir, cmpTimeout, "compare", base, same)
	if r.Code != 0 || !strings.Contains(r.Stdout, "false alarms: Holm-Bonferroni over 2 comparisons at alpha 0.05") ||
		!strings.Contains(r.Stdout, "verdict: no regression") || r.Stderr != "" {
		t.Fatalf("identical: %+v", r)
	}
	r = runRingbench(t, dir, cmpTimeout, "compare", base, slow)
	if r.Code != exitFailure || strings.Count(r.Stdout, "REGRESSION") < 2 || !strings.Contains(r.Stdout, "-10.") ||
		!strings.Contains(r.Stderr, "verdict: REGRESSION") {
		t.Fatalf("10%% slower: %+v", r)
	}
	// A larger threshold for ops/s lets the same change pass.
	r = runRingbench(t, dir, cmpTimeout, "compare", "--metric-threshold", "ops/s=15%", base, slow)
	if r.Code != 0 || !strings.Contains(r.Stdout, "threshold 15%") {
		t.Fatalf("ops/s=15%%: %+v", r)
	}
	// One more syscall per op fails the deterministic gate even with 6 samples.
	r = runRingbench(t, dir, cmpTimeout, "compare", "--metrics", "syscalls/op,enters/op", base, extra)
	if r.Code != exitFailure || !strings.Contains(r.Stdout, "ordering n=10+6") || !strings.Contains(r.Stdout, "every new value is worse than every baseline value") {
		t.Fatalf("extra syscall: %+v", r)
	}
}

func TestCompareFingerprintMismatchIsExit3(t *testing.T) {
	dir := t.TempDir()
	other := cmpEnv("6.18.0")
	other.CPU.Model = "Intel Xeon Platinum 8375C"
	other.Go.GOMAXPROCS = 4
	base := writeResult(t, dir, "base.json", "", cmpEnv("6.18.0"), cmpSamples(10, 100_000, 3, "uring"))
	same := writeResult(t, dir, "same.json", "", other, cmpSamples(10, 100_000, 3, "uring"))
	slow := writeResult(t, dir, "slow.json", "", other, cmpSamples(10, 80_000, 3, "uring"))

	r := runRingbench(t, dir, cmpTimeout, "compare", base, same)
	msg := strings.TrimRight(r.Stderr, "\n")
	if r.Code != exitUnsupported || strings.Contains(msg, "\n") || !strings.Contains(msg, `cpu model: "AMD EPYC 7B13" vs "Intel Xeon Platinum 8375C"`) ||
		!strings.Contains(msg, "GOMAXPROCS: 2 vs 4") || !strings.Contains(msg, "--allow-mismatch") || r.Stdout != "" {
		t.Fatalf("mismatch: %+v", r)
	}
	r = runRingbench(t, dir, cmpTimeout, "compare", "--allow-mismatch", base, same)
	if r.Code != 0 || !strings.Contains(r.Stdout, "allowed mismatch: base.json vs same.json: cpu model") {
		t.Fatalf("allowed, same: %+v", r)
	}
	r = runRingbench(t, dir, cmpTimeout, "compare", "--allow-mismatch", base, slow)
	if r.Code != exitFailure {
		t.Fatalf("allowed, slower: %+v", r)
	}
}

func TestCompareBadFilesAreExit2NamingTheFile(t *testing.T) {
	dir := t.TempDir()
	base := writeResult(t, dir, "base.json", "", cmpEnv("6.18.0"), cmpSamples(4, 100, 3, "uring"))
	corrupt := writeFile(t, dir, "corrupt.json", `{"schema": "ringbench/result", "version": 1, "samples": [`)
	newer := writeFile(t, dir, "newer.json", `{"schema": "ringbench/result", "version": 99, "samples": []}`)
	assertUsageError(t, runRingbench(t, dir, cmpTimeout, "compare", base, corrupt), corrupt)
	r := runRingbench(t, dir, cmpTimeout, "compare", newer, base)
	assertUsageError(t, r, newer)
	if !strings.Contains(r.Stderr, "newer") {
		t.Errorf("newer schema: %q", r.Stderr)
	}
	assertUsageError(t, runRingbench(t, dir, cmpTimeout, "compare", base, filepath.Join(dir, "missing.json")), "missing.json")
}

func TestCompareUsageErrors(t *testing.T) {
	dir := t.TempDir()
	a := writeResult(t, dir, "a.json", "", cmpEnv("6.18.0"), cmpSamples(4, 100, 3, "uring"))
	b := writeResult(t, dir, "b.json", "", cmpEnv("6.18.0"), cmpSamples(4, 100, 3, "uring"))
	existing := writeFile(t, dir, "out.txt", "keep")
	cases := []struct {
		want string
		args []string
	}{
		{"got 1 file", []string{a}},
		{"got 0 file", nil},
		{"--threshold", []string{"--threshold", "5x", a, b}},
		{"--metrics", []string{"--metrics", "ops/s,bogus", a, b}},
		{"--metric-threshold", []string{"--metric-threshold", "ops/s=5x", a, b}},
		{"--metric-threshold", []string{"--metric-threshold", "nope=5%", a, b}},
		{"--format", []string{"--format", "xml", a, b}},
		{"--alpha", []string{"--alpha", "2", a, b}},
		{"--group-by", []string{"--group-by", "kernel", a, b}},
		{"flag provided but not defined: --bogus", []string{a, b, "--bogus"}},
		{"--format", []string{a, b, "--format", "xml"}},
		{"--out", []string{"--out", existing, a, b}},
		{"--group-by file", []string{writeResult(t, dir, "l1.json", "ci", cmpEnv("6.18.0"), nil), writeResult(t, dir, "l2.json", "ci", cmpEnv("6.18.0"), nil)}},
	}
	for _, tc := range cases {
		assertUsageError(t, runRingbench(t, dir, cmpTimeout, append([]string{"compare"}, tc.args...)...), tc.want)
	}
	if data, _ := os.ReadFile(existing); string(data) != "keep" {
		t.Fatalf("--out without --force replaced the file: %q", data)
	}
}

func TestCompareShowsKernelsAsColumns(t *testing.T) {
	dir := t.TempDir()
	var args []string
	for i, k := range []string{"6.1.0-27-amd64", "6.12.9", "6.18.0"} {
		args = append(args, writeResult(t, dir, "k"+k+".json", "", cmpEnv(k), cmpSamples(6, float64(100_000+1000*i), 3, "epoll", "uring")))
	}
	r := runRingbench(t, dir, cmpTimeout, append([]string{"compare", "--metrics", "ops/s"}, args...)...)
	if r.Code != 0 {
		t.Fatalf("%+v", r)
	}
	var header string
	for _, l := range strings.Split(r.Stdout, "\n") {
		if strings.HasPrefix(l, "series") {
			header = l
			break
		}
	}
	i1, i2, i3 := strings.Index(header, "6.1.0-27-amd64"), strings.Index(header, "6.12.9"), strings.Index(header, "6.18.0")
	if i1 < 0 || i2 <= i1 || i3 <= i2 || !strings.Contains(r.Stdout, "fingerprints differ only in kernel") {
		t.Fatalf("kernels are not the columns, in order: header %q\n%s", header, r.Stdout)
	}
}

func TestComparePoolsFilesSharingALabel(t *testing.T) {
	dir := t.TempDir()
	b1 := writeResult(t, dir, "b1.json", "before", cmpEnv("6.18.0"), cmpSamples(3, 100_000, 3, "uring"))
	b2 := writeResult(t, dir, "b2.json", "before", cmpEnv("6.18.0"), cmpSamples(3, 100_000, 3, "uring"))
	a1 := writeResult(t, dir, "a1.json", "after", cmpEnv("6.18.0"), cmpSamples(3, 100_000, 3, "uring"))
	a2 := writeResult(t, dir, "a2.json", "after", cmpEnv("6.18.0"), cmpSamples(3, 100_000, 3, "uring"))
	r := runRingbench(t, dir, cmpTimeout, "compare", "--strict", "--metrics", "ops/s", b1, a1, b2, a2)
	if r.Code != 0 || !strings.Contains(r.Stdout, "baseline before vs after") || !strings.Contains(r.Stdout, "n=6") {
		t.Fatalf("pooled 3+3 per side must give n=6: %+v", r)
	}
	// Unpooled, three values per side are too few: --strict says not comparable.
	r = runRingbench(t, dir, cmpTimeout, "compare", "--strict", "--group-by", "file", "--metrics", "ops/s", b1, a1)
	if r.Code != exitUnsupported || !strings.Contains(r.Stderr, "--strict") || !strings.Contains(r.Stdout, "no verdict") {
		t.Fatalf("strict with n=3: %+v", r)
	}
	// Without --strict it is inconclusive, its own status, counted; flags may follow the files.
	r = runRingbench(t, dir, cmpTimeout, "compare", b1, a1, "--group-by", "file", "--metrics=ops/s")
	if r.Code != exitInconclusive || !strings.Contains(r.Stdout, "too few values for a verdict") ||
		!strings.Contains(r.Stderr, "verdict: inconclusive: too few samples in 1 of 1 comparisons") {
		t.Fatalf("n=3 without --strict: %+v", r)
	}
}

func TestCompareAppendsMarkdownToGitHubStepSummary(t *testing.T) {
	dir := t.TempDir()
	base := writeResult(t, dir, "base.json", "", cmpEnv("6.18.0"), cmpSamples(10, 100_000, 3, "uring"))
	slow := writeResult(t, dir, "slow.json", "", cmpEnv("6.18.0"), cmpSamples(10, 90_000, 3, "uring"))
	summary := writeFile(t, dir, "summary.md", "earlier step\n")
	r := runCmd(t, dir, cmpTimeout, []string{"GITHUB_STEP_SUMMARY=" + summary}, ringbenchBin, "compare", base, slow)
	if r.Code != exitFailure || !strings.HasPrefix(r.Stdout, "ringbench compare:") {
		t.Fatalf("%+v", r)
	}
	data, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	md := string(data)
	if !strings.HasPrefix(md, "earlier step\n### ringbench compare") || !strings.Contains(md, "| small-file/uring/depth=32 |") ||
		!strings.Contains(md, "**REGRESSION**") || !strings.Contains(md, "Holm-Bonferroni over 1 comparisons") {
		t.Fatalf("step summary:\n%s", md)
	}
	// Not comparable: the summary says so too.
	other := cmpEnv("6.18.0")
	other.CPU.Logical = 8
	odd := writeResult(t, dir, "odd.json", "", other, cmpSamples(10, 90_000, 3, "uring"))
	r = runCmd(t, dir, cmpTimeout, []string{"GITHUB_STEP_SUMMARY=" + summary}, ringbenchBin, "compare", base, odd)
	data, _ = os.ReadFile(summary)
	if r.Code != exitUnsupported || !strings.Contains(string(data), "not comparable (exit status 3)") {
		t.Fatalf("%+v\n%s", r, data)
	}
}

func TestCompareFormatsAndOut(t *testing.T) {
	dir := t.TempDir()
	base := writeResult(t, dir, "base.json", "", cmpEnv("6.18.0"), cmpSamples(10, 100_000, 3, "epoll", "uring"))
	same := writeResult(t, dir, "same.json", "", cmpEnv("6.18.0"), cmpSamples(10, 100_000, 3, "epoll", "uring"))

	r := runRingbench(t, dir, cmpTimeout, "compare", "--format", "json", base, same)
	var rep struct {
		FalseAlarms string `json:"false_alarms"`
		Rows        []struct {
			Metric string `json:"metric"`
		} `json:"rows"`
		Regressions int `json:"regressions"`
	}
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &rep) != nil || len(rep.Rows) != 4 || rep.FalseAlarms == "" {
		t.Fatalf("json: %+v %+v", r, rep)
	}
	r = runRingbench(t, dir, cmpTimeout, "compare", "--format", "markdown", base, same)
	if r.Code != 0 || !strings.Contains(r.Stdout, "| series | base.json | same.json | change | test | verdict |") {
		t.Fatalf("markdown: %+v", r)
	}
	r = runRingbench(t, dir, cmpTimeout, "compare", "--format", "benchstat", base, same)
	if r.Code != 0 || strings.Count(r.Stdout, "BenchmarkSmallFile/backend=uring/depth=32-2 ") != 20 ||
		!strings.Contains(r.Stdout, "label: base.json\n") || !strings.Contains(r.Stdout, "Unit ops/s better=higher") {
		t.Fatalf("benchstat: %+v", r)
	}
	out := filepath.Join(dir, "cmp.md")
	r = runRingbench(t, dir, cmpTimeout, "compare", "--format", "markdown", "--out", out, base, same)
	data, err := os.ReadFile(out)
	if r.Code != 0 || err != nil || !strings.HasPrefix(string(data), "### ringbench compare") || r.Stdout != "" {
		t.Fatalf("--out: %+v %v", r, err)
	}
	assertUsageError(t, runRingbench(t, dir, cmpTimeout, "compare", "--out", out, base, same), "file exists")
	if r = runRingbench(t, dir, cmpTimeout, "compare", "--out", out, "--force", base, same); r.Code != 0 {
		t.Fatalf("--force: %+v", r)
	}
}

// TestCompareStrictRegressionWinsOverMissingCells: under --strict, a comparison with a regression and a
// series with too few values exits 1 (the regression), not 3; without the regression it is 3.
func TestCompareStrictRegressionWinsOverMissingCells(t *testing.T) {
	dir := t.TempDir()
	base := writeResult(t, dir, "base.json", "", cmpEnv("6.18.0"), cmpSamples(10, 100_000, 3, "epoll", "uring"))
	slow := writeResult(t, dir, "slow.json", "", cmpEnv("6.18.0"),
		append(cmpSamples(10, 90_000, 3, "epoll"), cmpSamples(2, 100_000, 3, "uring")...))
	same := writeResult(t, dir, "same.json", "", cmpEnv("6.18.0"),
		append(cmpSamples(10, 100_000, 3, "epoll"), cmpSamples(2, 100_000, 3, "uring")...))

	r := runRingbench(t, dir, cmpTimeout, "compare", "--strict", "--metrics", "ops/s", base, slow)
	if r.Code != exitFailure || !strings.Contains(r.Stderr, "verdict: REGRESSION") || !strings.Contains(r.Stderr, "also not comparable under --strict") {
		t.Fatalf("regression with a series of 2 values under --strict: %+v", r)
	}
	r = runRingbench(t, dir, cmpTimeout, "compare", "--strict", "--metrics", "ops/s", base, same)
	if r.Code != exitUnsupported || !strings.Contains(r.Stderr, "not comparable under --strict") {
		t.Fatalf("no regression, a series of 2 values, --strict: %+v", r)
	}
}
