package main

// Tests of `ringbench show` (a stored result rendered again) and of --hlog on run, through the real binary.

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ringbench/ringbench/internal/export"
	"github.com/ringbench/ringbench/internal/result"
)

const showTimeout = 30 * time.Second

// repoPath is a file of the repository, as an absolute path.
func repoPath(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestShowRendersEveryFormat: each format of a stored file is what the shared writer makes of it, with
// flags before or after the files; json gives the file back.
func TestShowRendersEveryFormat(t *testing.T) {
	kvm := repoPath(t, "internal/report/testdata/kernel-6.12-kvm.json")
	base := repoPath(t, "results/baseline-ci.json")
	f, err := result.Load(kvm)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range export.Formats {
		var want bytes.Buffer
		if err := export.Write(&want, format, f); err != nil {
			t.Fatal(err)
		}
		for _, a := range [][]string{{"show", "--format", format, kvm}, {"show", kvm, "-f", format}, {"show", kvm, "--format=" + format}} {
			r := runRingbench(t, "", showTimeout, a...)
			if r.Code != 0 || r.Stdout != want.String() {
				t.Errorf("%v: exit %d, stderr %q; stdout differs from the writer's (%d vs %d bytes)", a, r.Code, r.Stderr, len(r.Stdout), want.Len())
			}
		}
	}
	r := runRingbench(t, "", showTimeout, "show", kvm)
	if r.Code != 0 || !strings.Contains(r.Stdout, "backend  ops/s") {
		t.Errorf("default format is the table: %q", r.Stdout)
	}
	r = runRingbench(t, "", showTimeout, "show", "--format", "json", kvm)
	if back, err := result.Decode([]byte(r.Stdout)); err != nil || len(back.Samples) != len(f.Samples) {
		t.Errorf("json does not load back: %v", err)
	}
	// Several files: one CSV header, one # EOF, a heading per file in the table.
	r = runRingbench(t, "", showTimeout, "show", "--format", "csv", kvm, base)
	rows, err := csv.NewReader(strings.NewReader(r.Stdout)).ReadAll()
	if err != nil || r.Code != 0 || len(rows) != 1+len(f.Samples)+24 || strings.Join(rows[0], ",") != strings.Join(export.CSVHeader, ",") {
		t.Errorf("csv of two files: exit %d, %d rows, %v", r.Code, len(rows), err)
	}
	r = runRingbench(t, "", showTimeout, "show", "--format", "openmetrics", kvm, base)
	if r.Code != 0 || strings.Count(r.Stdout, "# EOF") != 1 || !strings.HasSuffix(r.Stdout, "# EOF\n") ||
		!strings.Contains(r.Stdout, `ringbench_latency_seconds{workload="small-file",backend="epoll"`) ||
		!strings.Contains(r.Stdout, `ringbench_syscalls_per_op{label="baseline-ci",workload="small-file",backend="uring"`) {
		t.Errorf("openmetrics of two files: exit %d\n%s", r.Code, r.Stdout)
	}
	r = runRingbench(t, "", showTimeout, "show", kvm, base)
	if r.Code != 0 || !strings.Contains(r.Stdout, "== "+kvm+" ==") || !strings.Contains(r.Stdout, "== "+base+" (baseline-ci) ==") {
		t.Errorf("table of two files names each:\n%s", r.Stdout)
	}
}

// TestShowRefusesBadInput: bad files and flags are one line, exit 2; stdout that does not take the output
// is exit 1.
func TestShowRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	kvm := repoPath(t, "internal/report/testdata/kernel-6.12-kvm.json")
	bad := writeFile(t, dir, "bad.json", `{"schema": "fio"}`)
	notDir := writeFile(t, dir, "file", "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"show"}, "at least one result file"},
		{[]string{"show", filepath.Join(dir, "missing.json")}, "missing.json"},
		{[]string{"show", bad}, "bad.json: not a ringbench result"},
		{[]string{"show", kvm, bad}, "bad.json"},
		{[]string{"show", "--format", "xml", kvm}, `--format "xml"`},
		{[]string{"show", kvm, "--format"}, "flag needs an argument"},
		{[]string{"show", kvm, "--bogus"}, "--bogus"},
		{[]string{"show", "--hlog", notDir, kvm}, "--hlog " + notDir + ": not a directory"},
		{[]string{"show", "--hlog", "/proc/x", kvm}, "--hlog /proc/x"},
	} {
		assertUsageError(t, runRingbench(t, dir, showTimeout, c.args...), c.want)
	}
	for _, format := range export.Formats {
		r := runToFull(t, dir, nil, "show", "--format", format, kvm)
		if r.Code != exitFailure || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 || !strings.Contains(r.Stderr, "no space left on device") {
			t.Errorf("show --format %s > /dev/full: exit %d, stderr %q", format, r.Code, r.Stderr)
		}
	}
}

// TestShowHlog: show --hlog writes a log and a distribution per series that HdrHistogram's reader takes
// back, prints nothing without --format, and replaces them only with --force.
func TestShowHlog(t *testing.T) {
	kvm := repoPath(t, "internal/report/testdata/kernel-6.12-kvm.json")
	out := filepath.Join(t.TempDir(), "logs")
	r := runRingbench(t, "", showTimeout, "show", kvm, "--hlog", out)
	if r.Code != 0 || r.Stdout != "" || !strings.Contains(r.Stderr, "histogram logs:") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	logs, _ := filepath.Glob(filepath.Join(out, "*.hlog"))
	hgrms, _ := filepath.Glob(filepath.Join(out, "*.hgrm"))
	if len(logs) == 0 || len(logs) != len(hgrms) {
		t.Fatalf("%d logs, %d distributions", len(logs), len(hgrms))
	}
	assertHlogReadable(t, logs[0])
	assertUsageError(t, runRingbench(t, "", showTimeout, "show", "--hlog", out, kvm), "--force")
	if r := runRingbench(t, "", showTimeout, "show", "--hlog", out, "--force", "--format", "csv", kvm); r.Code != 0 || !strings.HasPrefix(r.Stdout, "label,") {
		t.Errorf("with --force and --format: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

// assertHlogReadable reads an interval log with HdrHistogram's own reader.
func assertHlogReadable(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("#[StartTime: ")) || !bytes.Contains(data, []byte("#[BaseTime: ")) {
		t.Errorf("%s lacks StartTime or BaseTime:\n%s", path, data)
	}
	rd := hdrhistogram.NewHistogramLogReader(bytes.NewReader(data))
	n := 0
	for {
		h, err := rd.NextIntervalHistogram()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if h == nil {
			break
		}
		if h.TotalCount() == 0 {
			t.Errorf("%s: an empty interval", path)
		}
		n++
	}
	if n == 0 {
		t.Errorf("%s: no interval", path)
	}
}

// TestRunHlogAndSchema: run --hlog checks DIR before measuring (exit 2), then writes the logs of a real
// run; the result file it writes is valid under docs/result.schema.json and renders as CSV through show.
func TestRunHlogAndSchema(t *testing.T) {
	d := newRunDirs(t)
	long := []string{"--backend", "epoll", "--workload", "small-file", "--files", "1", "--file-size", "64k",
		"--warmup", "0", "--count", "1", "--duration", "1m", "-q", "--dir", d.data}
	assertUsageError(t, d.run(t, showTimeout, args([]string{"run", "--hlog", "/proc/x"}, long)...), "--hlog /proc/x")
	assertEmpty(t, d.data, "--dir")
	// load checks it before it connects (nothing listens on the target).
	assertUsageError(t, d.run(t, showTimeout, "load", "--target", "127.0.0.1:1", "--duration", "1m", "--hlog", "/proc/x"), "--hlog /proc/x")

	logs := filepath.Join(d.tmp, "logs")
	out := filepath.Join(d.cwd, "r.json")
	r := d.run(t, 60*time.Second, args([]string{"run", "--dir", d.data, "--backend", "epoll", "--workload", "small-file",
		"--files", "1", "--file-size", "64k", "--samples", "timed", "--format", "csv", "--hlog", logs, "--out", out}, fast)...)
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, strings.Join(export.CSVHeader, ",")+"\n") {
		t.Fatalf("run --format csv --hlog: exit %d, stderr %q, stdout %q", r.Code, r.Stderr, r.Stdout)
	}
	got, _ := filepath.Glob(filepath.Join(logs, "*.hlog"))
	if len(got) != 1 || !strings.HasPrefix(filepath.Base(got[0]), "small-file_epoll_") {
		t.Fatalf("hlog files %v", got)
	}
	assertHlogReadable(t, got[0])

	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(repoPath(t, "docs/result.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	inst, err := jsonschema.UnmarshalJSON(fh)
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("a result run just wrote is not valid under the schema: %v", err)
	}
	s := runRingbench(t, "", showTimeout, "show", "--format", "csv", out)
	if s.Code != 0 || s.Stdout != r.Stdout {
		t.Errorf("show of the file differs from what run printed:\n%s\n%s", s.Stdout, r.Stdout)
	}
}
