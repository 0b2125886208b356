package export

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/ringbench/ringbench/internal/result"
)

// fixture loads a committed result file.
func fixture(t *testing.T, rel string) *result.File {
	t.Helper()
	f, err := result.Load(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// made is a small file of our own: a timed and a counted sample of one series, an invalid one, a legacy
// sample with no kind, and text that a spreadsheet would run or that needs escaping in a label.
func made(t *testing.T) *result.File {
	t.Helper()
	h := result.NewHistogram()
	for i := int64(1); i <= 1000; i++ {
		if err := h.RecordValue(i * 1000); err != nil {
			t.Fatal(err)
		}
	}
	lat := result.LatencyFrom(h)
	params := map[string]string{"depth": "32", "note": "=cmd|' /C calc'!A0"}
	return &result.File{Schema: result.Schema, Version: result.Version, Label: "a \"b\"\\c\nd",
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Samples: []result.Sample{
			{Workload: "small-file", Backend: "uring", Params: params, Kind: result.KindTimed, Seconds: 2, Ops: 1000, Bytes: 4096000,
				OpsPerSec: 500, BytesPerSec: 2048000, Latency: lat, EntersPerOp: -1, CPU: result.CPU{PerOpNs: 1500},
				ContextSwitches: result.Counted{Available: true, PerOp: 0.5}, PeakRSSBytes: 1 << 20},
			{Workload: "small-file", Backend: "uring", Params: params, Kind: result.KindCounted, Seconds: 2, Ops: 800,
				OpsPerSec: 400, Latency: lat, EntersPerOp: 0.25,
				Syscalls: result.Syscalls{Available: true, Total: 100, PerOp: 0.125}},
			{Workload: "small-file", Backend: "uring", Params: params, Kind: result.KindTimed, Repeat: 1, Seconds: 2, Ops: 10,
				OpsPerSec: 5, Latency: lat, EntersPerOp: -1, Invalid: &result.Warning{Kind: result.WarnLowResidency, Text: "-40% cached"}},
			{Workload: "echo-proxy", Backend: "@epoll", Seconds: 1, Ops: 10, OpsPerSec: 10, EntersPerOp: -1,
				Warnings: []result.Warning{{Kind: "other", Text: "+1 odd"}}},
		}}
}

func TestCheck(t *testing.T) {
	for _, f := range Formats {
		if err := Check(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if err := Check("xml"); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "openmetrics") {
		t.Errorf("xml: %v", err)
	}
}

func TestCSV(t *testing.T) {
	var b bytes.Buffer
	if err := WriteCSV(&b, made(t), fixture(t, "results/baseline-ci.json")); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") {
		t.Fatalf("header %v", rows[0])
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	if len(rows) != 1+4+24 {
		t.Fatalf("%d rows, want a header and one per sample (28)", len(rows))
	}
	get := func(r int, name string) string { return rows[r][col[name]] }
	timed, counted, invalid, legacy := 1, 2, 3, 4
	for _, c := range []struct {
		row        int
		name, want string
	}{
		{timed, "kind", "timed"}, {timed, "ops_per_sec", "500"}, {timed, "mb_per_sec", "2.048"}, {timed, "p50_ns", "500223"},
		{timed, "syscalls_per_op", ""}, {timed, "enters_per_op", ""}, {timed, "cpu_ns_per_op", "1500"}, {timed, "ctxsw_per_op", "0.5"},
		{timed, "peak_rss_bytes", "1048576"}, {timed, "residency_before", ""}, {timed, "params", "depth=32/note==cmd|' /C calc'!A0"},
		{counted, "ops_per_sec", ""}, {counted, "p99_ns", ""}, {counted, "latency_count", ""}, {counted, "syscalls_per_op", "0.125"},
		{counted, "enters_per_op", "0.25"}, {counted, "cpu_ns_per_op", ""}, {counted, "ctxsw_per_op", ""}, {counted, "peak_rss_bytes", ""},
		{invalid, "invalid", "low-residency: -40% cached"}, {invalid, "repeat", "1"},
		{legacy, "backend", "'@epoll"}, {legacy, "kind", ""}, {legacy, "warnings", "'+1 odd"}, {legacy, "ops", "10"},
		{legacy, "syscalls_per_op", ""}, {legacy, "p50_ns", ""},
		{5, "label", "baseline-ci"}, {5, "kind", "counted"},
	} {
		if got := get(c.row, c.name); got != c.want {
			t.Errorf("row %d %s = %q, want %q", c.row, c.name, got, c.want)
		}
	}
	for r, row := range rows[1:] {
		for i, v := range row {
			if v != "" && strings.ContainsRune("=+-@", rune(v[0])) {
				t.Errorf("row %d %s = %q: a spreadsheet would run it", r+1, rows[0][i], v)
			}
		}
	}
}

func TestNeutralise(t *testing.T) {
	for in, want := range map[string]string{"": "", "a=b": "a=b", "=1+2": "'=1+2", "-2": "'-2", "@x": "'@x", "+": "'+", "\tx": "'\tx"} {
		if got := Neutralise(in); got != want {
			t.Errorf("Neutralise(%q) = %q, want %q", in, got, want)
		}
	}
}

// omSample is one parsed OpenMetrics sample.
type omSample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseOpenMetrics is a strict parser of the subset of OpenMetrics text WriteOpenMetrics writes: every
// family declared by TYPE before its samples, UNIT a suffix of the name, HELP escaped, samples of a family
// together, label values quoted and escaped, no duplicate series, # EOF last and nothing after it.
func parseOpenMetrics(t *testing.T, text string) (types map[string]string, samples []omSample) {
	t.Helper()
	types = map[string]string{}
	metaName := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	sampleRe := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)\{(.*)\} (\S+)$`)
	labelRe := regexp.MustCompile(`^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"`)
	if !strings.HasSuffix(text, "# EOF\n") {
		t.Fatalf("does not end with # EOF and a line feed: %q", text[max(0, len(text)-40):])
	}
	seen := map[string]bool{}
	var current string
	done := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(strings.TrimSuffix(text, "# EOF\n")))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			f := strings.SplitN(line, " ", 4)
			if len(f) < 4 || !metaName.MatchString(f[2]) {
				t.Fatalf("line %d: bad metadata %q", n, line)
			}
			name := f[2]
			switch f[1] {
			case "TYPE":
				if _, dup := types[name]; dup {
					t.Fatalf("line %d: family %s declared twice", n, name)
				}
				if f[3] != "gauge" && f[3] != "summary" {
					t.Fatalf("line %d: type %q", n, f[3])
				}
				if current != "" {
					done[current] = true
				}
				types[name], current = f[3], name
			case "UNIT":
				if name != current || !strings.HasSuffix(name, "_"+f[3]) {
					t.Fatalf("line %d: unit %q is not a suffix of %s, or not after its TYPE", n, f[3], name)
				}
			case "HELP":
				if name != current || regexp.MustCompile(`\\[^\\"n]|[^\\]"`).MatchString(f[3]) {
					t.Fatalf("line %d: HELP not after its TYPE, or badly escaped: %q", n, line)
				}
			default:
				t.Fatalf("line %d: unknown metadata %q", n, line)
			}
			continue
		}
		m := sampleRe.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %d: not a sample: %q", n, line)
		}
		family := m[1]
		if _, ok := types[family]; !ok {
			base := strings.TrimSuffix(strings.TrimSuffix(family, "_sum"), "_count")
			if types[base] != "summary" {
				t.Fatalf("line %d: sample %s of no declared family", n, family)
			}
			family = base
		}
		if family != current || done[family] {
			t.Fatalf("line %d: sample of %s outside its family's block", n, family)
		}
		labels := map[string]string{}
		rest := m[2]
		for rest != "" {
			lm := labelRe.FindStringSubmatch(rest)
			if lm == nil {
				t.Fatalf("line %d: bad labels at %q", n, rest)
			}
			if _, dup := labels[lm[1]]; dup {
				t.Fatalf("line %d: label %s twice", n, lm[1])
			}
			labels[lm[1]] = strings.NewReplacer(`\\`, `\`, `\"`, `"`, `\n`, "\n").Replace(lm[2])
			rest = strings.TrimPrefix(rest[len(lm[0]):], ",")
		}
		if _, q := labels["quantile"]; (types[m[1]] == "summary") != q {
			t.Fatalf("line %d: a quantile label must be on, and only on, a summary's quantile samples", n)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("line %d: value %q", n, m[3])
		}
		key := m[1] + fmt.Sprint(labels)
		if seen[key] {
			t.Fatalf("line %d: duplicate series %s", n, key)
		}
		seen[key] = true
		samples = append(samples, omSample{m[1], labels, v})
	}
	return types, samples
}

func TestOpenMetricsParsesBack(t *testing.T) {
	f := made(t)
	var b bytes.Buffer
	if err := WriteOpenMetrics(&b, f, fixture(t, "internal/report/testdata/kernel-6.12-kvm.json"), fixture(t, "results/baseline-ci.json")); err != nil {
		t.Fatal(err)
	}
	types, samples := parseOpenMetrics(t, b.String())
	if types["ringbench_latency_seconds"] != "summary" || types["ringbench_ops_per_second"] != "gauge" || types["ringbench_syscalls_per_op"] != "gauge" {
		t.Fatalf("families %v", types)
	}
	find := func(name string, want map[string]string) (float64, bool) {
		for _, s := range samples {
			ok := s.name == name
			for k, v := range want {
				ok = ok && s.labels[k] == v
			}
			if ok {
				return s.value, true
			}
		}
		return 0, false
	}
	ours := map[string]string{"label": f.Label, "workload": "small-file", "backend": "uring", "params": "depth=32/note==cmd|' /C calc'!A0"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range ours {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	// The invalid sample (5 ops/s) is left out: the median of the one valid timed sample is 500.
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ringbench_ops_per_second", with("kind", "timed"), 500},
		{"ringbench_syscalls_per_op", with("kind", "counted"), 0.125},
		{"ringbench_io_uring_enters_per_op", with("kind", "counted"), 0.25},
		{"ringbench_cpu_seconds_per_op", with("kind", "timed"), 1.5e-6},
		{"ringbench_samples", with("kind", "timed"), 1},
		{"ringbench_samples", with("kind", "counted"), 1},
		{"ringbench_latency_seconds", with("kind", "timed", "quantile", "0.5"), 500223e-9},
		{"ringbench_latency_seconds_count", with("kind", "timed"), 1000},
	} {
		got, ok := find(c.name, c.labels)
		if !ok || math.Abs(got-c.want) > 1e-9*math.Abs(c.want) {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	if _, ok := find("ringbench_ops_per_second", with("kind", "counted")); ok {
		t.Error("a counted sample gave ops/s")
	}
	if _, ok := find("ringbench_ops_per_second", map[string]string{"workload": "echo-proxy", "backend": "@epoll", "kind": "timed"}); !ok {
		t.Error("a sample with no kind (an old file) must give ops/s")
	}
	if _, ok := find("ringbench_latency_seconds", map[string]string{"label": "", "quantile": "0.99"}); !ok {
		t.Error("the kvm fixture has no latency summary")
	}
}

func TestJSONRoundTrips(t *testing.T) {
	f := fixture(t, "internal/report/testdata/kernel-6.12-kvm.json")
	var b bytes.Buffer
	if err := Write(&b, "json", f); err != nil {
		t.Fatal(err)
	}
	back, err := result.Decode(b.Bytes())
	if err != nil || len(back.Samples) != len(f.Samples) {
		t.Fatalf("json output does not load back: %v", err)
	}
}

func TestSummaryAndGobench(t *testing.T) {
	f := made(t)
	f.Skipped = []result.Skip{{Backend: "sqpoll", Reason: "no\x1b[31m"}}
	for _, format := range []string{"table", "markdown", "gobench"} {
		var b bytes.Buffer
		if err := Write(&b, format, f); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if !strings.Contains(out, "uring") || strings.Contains(out, "\x1b") {
			t.Errorf("%s:\n%s", format, out)
		}
		if format != "gobench" && !strings.Contains(out, "left out") && !strings.Contains(out, "skipped sqpoll") {
			t.Errorf("%s: no notice of the invalid or skipped samples:\n%s", format, out)
		}
	}
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }

func TestWriteErrorsReachTheCaller(t *testing.T) {
	for _, format := range Formats {
		if err := Write(failWriter{}, format, made(t)); !errors.Is(err, io.ErrShortWrite) {
			t.Errorf("%s: %v, want the write error", format, err)
		}
	}
}

func TestHlog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "logs")
	if err := CheckHlogDir(dir, false); err != nil {
		t.Fatalf("a missing directory that can be created: %v", err)
	}
	f, kvm := made(t), fixture(t, "internal/report/testdata/kernel-6.12-kvm.json")
	paths, err := WriteHlog(dir, false, f, kvm)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 || len(paths)%2 != 0 {
		t.Fatalf("wrote %v", paths)
	}
	data, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, want := range []string{"#[Histogram log format version 1.3]", "#[StartTime: 1767323045 (seconds since epoch), 2026-01-02T03:04:05Z]",
		"#[BaseTime: 1767323045 (seconds since epoch)]", `"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"`,
		"0.000000,2.000000,1.000447,HISTF"} {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q:\n%s", paths[0], want, text)
		}
	}
	if !strings.HasSuffix(paths[0], ".hlog") || strings.ContainsAny(filepath.Base(paths[0]), " \"\\\n|'!") {
		t.Errorf("name %q", paths[0])
	}
	// HdrHistogram's own reader takes it back: one interval (the invalid and counted samples are left out),
	// at the sample's offset from the base time, with the sample's distribution.
	r := hdrhistogram.NewHistogramLogReader(bytes.NewReader(data))
	var got []*hdrhistogram.Histogram
	for {
		h, err := r.NextIntervalHistogram()
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			break
		}
		got = append(got, h)
	}
	if len(got) != 1 || got[0].TotalCount() != 1000 || got[0].ValueAtQuantile(50) != 500223 {
		t.Fatalf("read back %d histograms: %+v", len(got), got)
	}
	hgrm, err := os.ReadFile(strings.TrimSuffix(paths[0], ".hlog") + ".hgrm")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(hgrm), "       Value     Percentile TotalCount 1/(1-Percentile)") &&
		!strings.HasPrefix(string(hgrm), " Value\tPercentile\tTotalCount\t1/(1-Percentile)") {
		t.Errorf("hgrm header:\n%s", hgrm)
	}
	if !strings.Contains(string(hgrm), "#[Max     =     1000.447, Total count    =         1000]") {
		t.Errorf("hgrm footer (values in µs):\n%s", hgrm)
	}
	// Every timed series of the kvm fixture gets its pair; one interval per timed valid sample.
	kvmOnly, err := WriteHlog(t.TempDir(), false, kvm)
	if err != nil || len(kvmOnly) == 0 {
		t.Fatalf("%v %v", kvmOnly, err)
	}
	// Again into the same directory: refused without force, file by file and by the check.
	if _, err := WriteHlog(dir, false, f); !errors.Is(err, result.ErrExists) {
		t.Errorf("second write without force: %v", err)
	}
	if err := CheckHlogDir(dir, false); !errors.Is(err, ErrHlogDir) || !strings.Contains(err.Error(), "--force") {
		t.Errorf("check of a directory with logs: %v", err)
	}
	if err := CheckHlogDir(dir, true); err != nil {
		t.Errorf("with force: %v", err)
	}
	if _, err := WriteHlog(dir, true, f); err != nil {
		t.Errorf("with force: %v", err)
	}
	if err := CheckHlogDir(paths[0], true); !errors.Is(err, ErrHlogDir) {
		t.Errorf("a file as DIR: %v", err)
	}
	if err := CheckHlogDir("/proc/x", true); !errors.Is(err, ErrHlogDir) {
		t.Errorf("/proc/x: %v", err)
	}
}

// TestSummaryCostModel: a file holding a batch sweep gets the cost model after its table, in text and
// Markdown; a file without one gets none.
func TestSummaryCostModel(t *testing.T) {
	f := fixture(t, "internal/costmodel/testdata/batch-sweep.json")
	for _, format := range []string{"table", "markdown"} {
		var b bytes.Buffer
		if err := Write(&b, format, f); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		table := strings.Index(out, "uring")
		model := strings.Index(out, "Cost model")
		if table < 0 || model < table || !strings.Contains(out, "uring's CPU/op falls below epoll's from batch 2") {
			t.Errorf("%s: no cost model after the table:\n%s", format, out)
		}
		if format == "markdown" && !strings.Contains(out, "```\nCost model") {
			t.Errorf("markdown: the cost model is not a code block:\n%s", out)
		}
	}
	var b bytes.Buffer
	if err := Write(&b, "table", made(t)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Cost model") {
		t.Errorf("no sweep, yet a cost model:\n%s", b.String())
	}
}
