package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/result"
)

// TestRunSweepPerWorkloadAxes: small-file and echo-proxy with --jobs 1,2 --threads 1,2 --gen-threads
// threads is one run of exactly 2 points per workload per backend: small-file at jobs 1 and 2, echo-proxy
// at threads 1 and 2 with as many generator threads, never a copy differing in a flag the workload ignores.
// The file records whose axes they are, and its report draws one scaling chart per workload.
func TestRunSweepPerWorkloadAxes(t *testing.T) {
	d := newRunDirs(t)
	out := filepath.Join(d.cwd, "axes.json")
	backends := []string{"epoll", "gostd"}
	r := d.run(t, 3*time.Minute, "run", "--backend", strings.Join(backends, ","), "--workload", "small-file,echo-proxy",
		"--files", "1", "--file-size", "1M", "--dir", d.data, "--jobs", "1,2", "--threads", "1,2", "--gen-threads", "threads",
		"--duration", "50ms", "--warmup", "0", "--count", "2", "--out", out)
	if r.Code != 0 {
		t.Fatalf("exit %d\nstderr:\n%s", r.Code, r.Stderr)
	}
	if !strings.Contains(r.Stderr, "ringbench: 32 samples of 50ms (4 points [small-file 2, echo-proxy 2] × 2 backends × 2 rounds × 2 kinds)") {
		t.Errorf("estimate line does not count each workload's points:\n%s", r.Stderr)
	}
	f := loadResult(t, out)
	want := []result.SweepAxis{
		{Flag: "jobs", Param: "jobs", Values: []string{"1", "2"}, Workloads: []string{"small-file"}},
		{Flag: "threads", Param: "threads", Values: []string{"1", "2"}, Workloads: []string{"echo-proxy"}, Same: []string{"gen-threads"}},
	}
	if fmt.Sprint(f.Config.Sweep) != fmt.Sprint(want) {
		t.Errorf("config.sweep = %+v, want %+v", f.Config.Sweep, want)
	}
	// Per workload and backend: the points (params) seen and the samples of each.
	points := map[string]map[string]int{}
	for _, s := range f.Samples {
		key := s.Workload + " on " + s.Backend
		if points[key] == nil {
			points[key] = map[string]int{}
		}
		var at string
		switch s.Workload {
		case "small-file":
			at = "jobs=" + s.Params["jobs"]
			if _, ok := s.Params["threads"]; ok {
				t.Errorf("%s: params %v carry threads", key, s.Params)
			}
		case "echo-proxy":
			at = "threads=" + s.Params["threads"]
			if s.Params["gen-threads"] != s.Params["threads"] {
				t.Errorf("%s: params %v, want gen-threads = threads", key, s.Params)
			}
			if _, ok := s.Params["jobs"]; ok {
				t.Errorf("%s: params %v carry jobs", key, s.Params)
			}
		}
		points[key][at+" "+result.ParamsString(s.Params)]++
	}
	for _, w := range []string{"small-file", "echo-proxy"} {
		axis := map[string]string{"small-file": "jobs", "echo-proxy": "threads"}[w]
		for _, b := range backends {
			key := w + " on " + b
			var got []string
			for p, n := range points[key] {
				if n != 4 {
					t.Errorf("%s %s: %d samples, want 2 rounds × 2 kinds", key, p, n)
				}
				got = append(got, strings.Fields(p)[0])
			}
			slices.Sort(got)
			if want := []string{axis + "=1", axis + "=2"}; !slices.Equal(got, want) {
				t.Errorf("%s: points %v, want %v", key, got, want)
			}
		}
	}
	if len(f.Samples) != 2*2*len(backends)*2*2 {
		t.Errorf("%d samples, want 2 workloads × 2 points × %d backends × 2 rounds × 2 kinds", len(f.Samples), len(backends))
	}
	if entries, _ := os.ReadDir(d.data); len(entries) != 0 {
		t.Errorf("--dir not cleaned: %d entries", len(entries))
	}

	rep := filepath.Join(d.cwd, "report")
	if r := d.run(t, time.Minute, "report", out, "--out", rep); r.Code != 0 {
		t.Fatalf("report: exit %d\n%s", r.Code, r.Stderr)
	}
	page, err := os.ReadFile(filepath.Join(rep, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(page), `data-kind="scaling"`); n != 2 {
		t.Errorf("report draws %d scaling charts, want 2 (small-file against jobs, echo-proxy against threads)", n)
	}
}
