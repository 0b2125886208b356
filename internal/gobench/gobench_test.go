package gobench

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"

	"github.com/ringbench/ringbench/internal/fingerprint"
	"github.com/ringbench/ringbench/internal/result"
)

func testFile(label, kernel string, opsPerSec float64) *result.File {
	var env fingerprint.Fingerprint
	env.Kernel.Release, env.Kernel.Arch = kernel, "x86_64"
	env.CPU.Model = "AMD EPYC 7B13\n(with a stray newline)"
	env.Go.GOMAXPROCS, env.Go.Version = 2, "go1.26.8"
	env.Tool.Version, env.Tool.Commit = "v0.1.0", "abc123"
	f := &result.File{Label: label, Env: env}
	for _, backend := range []string{"epoll", "uring", "sqpoll"} {
		for i := range 6 {
			v := opsPerSec * (1 + 0.01*float64(i))
			s := result.Sample{Workload: "small-file", Backend: backend, Repeat: i,
				Params:  map[string]string{"depth": "32", "batch": "8"},
				Seconds: 1, Ops: int64(v), OpsPerSec: v, Bytes: int64(v) * 4096, BytesPerSec: v * 4096,
				Latency:     result.Latency{Count: 100, P50: 12000, P99: 40000, P999: 90000},
				Syscalls:    result.Syscalls{Available: true, PerOp: 3.001},
				EntersPerOp: -1,
				CPU:         result.CPU{PerOpNs: 2100},
			}
			if backend != "epoll" {
				s.EntersPerOp = 0.0331
			}
			f.Samples = append(f.Samples, s)
		}
	}
	// A sample with nothing measured is left out rather than written as a line benchstat rejects.
	f.Samples = append(f.Samples, result.Sample{Workload: "small-file", Backend: "epoll", EntersPerOp: -1})
	return f
}

func TestNames(t *testing.T) {
	s := &result.Sample{Workload: "small-file", Backend: "uring", Params: map[string]string{"depth": "32", "msg size": "4 KiB", "a": "x/y"}}
	if got := Name(s, 2); got != "SmallFile/backend=uring/a=x_y/depth=32/msg_size=4_KiB-2" {
		t.Fatalf("Name = %q", got)
	}
	if got := Name(&result.Sample{Workload: "echo-proxy", Backend: "epoll"}, 0); got != "EchoProxy/backend=epoll" {
		t.Fatalf("Name = %q", got)
	}
	for in, want := range map[string]string{"many-file": "ManyFile", "echo_proxy.v2": "EchoProxyV2", "": "Unnamed", "x": "X"} {
		if got := CamelCase(in); got != want {
			t.Errorf("CamelCase(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOutputParsesWithBenchfmt reads the output back with golang.org/x/perf/benchfmt, the parser benchstat uses.
func TestOutputParsesWithBenchfmt(t *testing.T) {
	text, err := String(testFile("before", "6.1.0", 100_000), testFile("after", "6.12.0", 110_000))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, "goos: linux\ngoarch: amd64\npkg: "+Pkg+"\ncpu: AMD EPYC 7B13 (with a stray newline)\nkernel: 6.1.0\n") {
		t.Fatalf("config block:\n%s", text)
	}
	rd := benchfmt.NewReader(strings.NewReader(text), "out.txt")
	n := 0
	byLabel := map[string]int{}
	for rd.Scan() {
		switch rec := rd.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Fatalf("syntax error: %v\n%s", rec, text)
		case *benchfmt.Result:
			n++
			byLabel[rec.GetConfig("label")]++
			if !strings.HasPrefix(rec.Name.String(), "SmallFile/backend=") || !strings.HasSuffix(rec.Name.String(), "/batch=8/depth=32-2") {
				t.Fatalf("name %q", rec.Name)
			}
			base, parts := rec.Name.Parts()
			if string(base) != "SmallFile" || len(parts) != 4 || string(parts[3]) != "-2" {
				t.Fatalf("parts %q %q", base, parts)
			}
			ops, ok := rec.Value("ops/s")
			if !ok || rec.Iters != int(ops) {
				t.Fatalf("iters %d ops/s %v", rec.Iters, ops)
			}
			if v, ok := rec.Value("syscalls/op"); !ok || v != 3.001 {
				t.Fatalf("syscalls/op %v %v", v, ok)
			}
			if v, ok := rec.Value("sec/op"); !ok || v <= 0 { // ns/op, tidied by the reader
				t.Fatalf("sec/op %v %v", v, ok)
			}
			_, hasEnters := rec.Value("enters/op")
			if hasEnters != !strings.Contains(rec.Name.String(), "backend=epoll") {
				t.Fatalf("enters/op on %s: %v", rec.Name, hasEnters)
			}
			if rec.GetConfig("kernel") == "" || rec.GetConfig("cpu") == "" || rec.GetConfig("ringbench") != "v0.1.0 (abc123)" {
				t.Fatalf("config %+v", rec.Config)
			}
		}
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 36 || byLabel["before"] != 18 || byLabel["after"] != 18 {
		t.Fatalf("%d results, by label %v", n, byLabel)
	}
	u := rd.Units()
	for unit, want := range map[string]int{"ops/s": 1, "B/s": 1, "sec/op": -1, "syscalls/op": -1, "enters/op": -1, "sec/p99": -1} {
		if got := u.GetBetter(unit); got != want {
			t.Errorf("better for %s = %d, want %d", unit, got, want)
		}
	}
}

// benchstatBin finds the real benchstat (go install golang.org/x/perf/cmd/benchstat@latest); it is optional.
func benchstatBin(t *testing.T) string {
	if p, err := exec.LookPath("benchstat"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "benchstat")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("benchstat is not installed (go install golang.org/x/perf/cmd/benchstat@latest)")
	return ""
}

func TestRealBenchstatReadsIt(t *testing.T) {
	bin := benchstatBin(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "new.txt")
	text, err := String(testFile("", "6.18.0", 100_000))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, "-col", "/backend", p)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil || errb.Len() > 0 {
		t.Fatalf("benchstat: %v\n%s\n%s", err, errb.String(), out.String())
	}
	s := out.String()
	for _, want := range []string{"epoll", "uring", "sqpoll", "ops/s", "syscalls/op", "SmallFile/batch=8/depth=32-2", "kernel: 6.18.0"} {
		if !strings.Contains(s, want) {
			t.Errorf("benchstat output lacks %q:\n%s", want, s)
		}
	}
}
