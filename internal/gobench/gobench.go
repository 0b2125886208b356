// Package gobench writes ringbench results in the Go benchmark text format
// (https://golang.org/design/14313-benchmark-format), so that benchstat and the other golang.org/x/perf tools
// read them directly:
//
//	ringbench run --format gobench > new.txt
//	benchstat -col /backend new.txt
//
// Each result file becomes a block of configuration lines taken from its fingerprint (goos, goarch, pkg, cpu,
// kernel, go, ringbench, label) followed by one benchmark line per sample:
//
//	BenchmarkSmallFile/backend=uring/depth=32-2  81234  12310 ns/op  81234 ops/s  0.0331 syscalls/op ...
//
// The name is the workload in CamelCase, then backend and the sample's params as sub-benchmark keys, then
// GOMAXPROCS. The iteration count is the number of operations in the sample. "Unit" lines at the end say which
// direction is better for every unit written.
package gobench

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/perf/benchfmt"

	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/series"
)

// Pkg is the value of the "pkg:" configuration line.
const Pkg = "github.com/ringbench/ringbench/workloads"

// Write writes every sample of files to w in Go benchmark text format. Files are written in order; a
// configuration line is repeated only where it changes, as the format allows. Samples with no measurement
// at all are left out.
func Write(w io.Writer, files ...*result.File) error {
	bw := benchfmt.NewWriter(w)
	type unitInfo struct{ better string }
	units := map[string]unitInfo{}
	var unitOrder []string
	addUnit := func(unit string, higher bool) {
		if _, ok := units[unit]; ok {
			return
		}
		b := "lower"
		if higher {
			b = "higher"
		}
		units[unit] = unitInfo{b}
		unitOrder = append(unitOrder, unit)
	}
	for _, f := range files {
		if f == nil {
			continue
		}
		cfg := configOf(f)
		procs := f.Env.Go.GOMAXPROCS
		for i := range f.Samples {
			s := &f.Samples[i]
			res := &benchfmt.Result{Config: cfg, Name: benchfmt.Name(Name(s, procs)), Iters: int(s.Ops)}
			// A timed sample gives the timing units, a counted one the syscall units (series.Measures).
			if s.Ops > 0 && s.Seconds > 0 && s.Timed() {
				res.Values = append(res.Values, benchfmt.Value{Value: s.Seconds * 1e9 / float64(s.Ops), Unit: "ns/op"})
				addUnit("ns/op", false)
			}
			for _, m := range result.Metrics {
				v, ok := series.Of(m)(s)
				if !ok || !finite(v) {
					continue
				}
				res.Values = append(res.Values, benchfmt.Value{Value: v, Unit: m.Unit})
				addUnit(m.Unit, m.HigherIsBetter)
			}
			if len(res.Values) == 0 {
				continue
			}
			if err := bw.Write(res); err != nil {
				return err
			}
		}
	}
	for _, u := range unitOrder {
		md := &benchfmt.UnitMetadata{
			UnitMetadataKey: benchfmt.UnitMetadataKey{Unit: u, Key: "better"},
			OrigUnit:        u,
			Value:           units[u].better,
		}
		if err := bw.Write(md); err != nil {
			return err
		}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// configOf returns the file configuration lines for f, in a fixed order; unknown fields are left out.
func configOf(f *result.File) []benchfmt.Config {
	var cfg []benchfmt.Config
	add := func(k, v string) {
		v = oneLine(v)
		if v != "" {
			cfg = append(cfg, benchfmt.Config{Key: k, Value: []byte(v), File: true})
		}
	}
	env := &f.Env
	add("goos", "linux")
	add("goarch", goarch(env.Kernel.Arch))
	add("pkg", Pkg)
	add("cpu", env.CPU.Model)
	add("kernel", env.Kernel.Release)
	add("go", env.Go.Version)
	v := env.Tool.Version
	if v != "" && env.Tool.Commit != "" {
		v += " (" + env.Tool.Commit + ")"
	}
	add("ringbench", v)
	add("label", f.Label)
	return cfg
}

// goarch maps a uname machine name to Go's GOARCH spelling.
func goarch(machine string) string {
	switch machine {
	case "x86_64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	case "i386", "i686":
		return "386"
	case "riscv64":
		return "riscv64"
	case "ppc64le":
		return "ppc64le"
	case "s390x":
		return "s390x"
	}
	return machine
}

func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// Name is the benchmark name of a sample, without the "Benchmark" prefix:
// SmallFile/backend=uring/depth=32-2 (the "-2" is GOMAXPROCS, left out when unknown).
func Name(s *result.Sample, gomaxprocs int) string {
	var b strings.Builder
	b.WriteString(CamelCase(s.Workload))
	b.WriteString("/backend=")
	b.WriteString(nameSafe(s.Backend))
	keys := make([]string, 0, len(s.Params))
	for k := range s.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString("/")
		b.WriteString(nameSafe(k))
		b.WriteString("=")
		b.WriteString(nameSafe(s.Params[k]))
	}
	if gomaxprocs > 0 {
		b.WriteString("-")
		b.WriteString(strconv.Itoa(gomaxprocs))
	}
	return b.String()
}

// CamelCase turns a workload name such as "small-file" into a benchmark base name such as "SmallFile".
func CamelCase(workload string) string {
	var b strings.Builder
	up := true
	for _, r := range workload {
		switch {
		case r == '-' || r == '_' || r == '.' || r == '/' || unicode.IsSpace(r):
			up = true
		case up:
			b.WriteRune(unicode.ToUpper(r))
			up = false
		default:
			b.WriteRune(r)
		}
	}
	if b.Len() == 0 {
		return "Unnamed"
	}
	return b.String()
}

// nameSafe keeps a name part to one field of one sub-benchmark: no spaces, no slashes.
func nameSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '/' {
			return '_'
		}
		return r
	}, s)
}

// String is Write into a string, for tests and small outputs.
func String(files ...*result.File) (string, error) {
	var b strings.Builder
	if err := Write(&b, files...); err != nil {
		return "", fmt.Errorf("gobench: %w", err)
	}
	return b.String(), nil
}
