package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ringbench/ringbench/internal/result"
)

// TestSweepRunInterleavesPoints: a sweep of --batch 1,4 on two backends is four series, every round
// taking each point on each backend in turn (point-major, backends within), each sample carrying its
// point's batch, the file recording the sweep, and one data set made for both points.
func TestSweepRunInterleavesPoints(t *testing.T) {
	r := request(t)
	r.Sweep = []Axis{{Flag: "batch", Values: []int{1, 4}}}
	p := mustPlan(t, r)
	if pts := p.Sweeps[0].Points; len(pts) != 2 || pts[0].Options.Batch != 1 || pts[1].Options.Batch != 4 {
		t.Fatalf("points %+v", pts)
	}
	if got, want := p.Samples(), 2*2*2*2; got != want {
		t.Errorf("Samples() = %d, want %d", got, want)
	}
	var statuses []string
	f, err := Run(context.Background(), p, Meta{}, statusRecorder{&statuses})
	if err != nil {
		t.Fatal(err)
	}
	want := []result.SweepAxis{{Flag: "batch", Param: "batch", Values: []string{"1", "4"}, Workloads: []string{"small-file"}}}
	if fmt.Sprint(f.Config.Sweep) != fmt.Sprint(want) {
		t.Errorf("Config.Sweep = %+v, want %+v", f.Config.Sweep, want)
	}
	var order []string
	for _, s := range f.Samples {
		order = append(order, s.Kind+":"+s.Params["batch"]+":"+s.Backend)
		if s.Params["depth"] != "8" {
			t.Errorf("sample %s: depth %q", order[len(order)-1], s.Params["depth"])
		}
	}
	var wantOrder []string
	for range 2 {
		for _, k := range []string{result.KindTimed, result.KindCounted} {
			for _, b := range []string{"1", "4"} {
				for _, be := range []string{"epoll", "gostd"} {
					wantOrder = append(wantOrder, k+":"+b+":"+be)
				}
			}
		}
	}
	if strings.Join(order, " ") != strings.Join(wantOrder, " ") {
		t.Errorf("sample order\n got %v\nwant %v", order, wantOrder)
	}
	warmups := 0
	for _, s := range statuses {
		if strings.HasSuffix(s, "warm-up") {
			warmups++
		}
	}
	if warmups != 4 {
		t.Errorf("%d warm-ups, want 4 (2 points × 2 backends): %q", warmups, statuses)
	}
	sets, _ := filepath.Glob(filepath.Join(r.Config.Dir, "ringbench-small-file-*"))
	if len(sets) != 0 {
		t.Errorf("data sets left: %v", sets)
	}
}

// TestSweepPreparesOnce: with --keep, a sweep leaves exactly one data set, and the workload was prepared
// once ("preparing" said once) for its two points.
func TestSweepPreparesOnce(t *testing.T) {
	r := request(t)
	r.Config.Keep = true
	r.Count, r.Warmup = 1, 0
	r.Sweep = []Axis{{Flag: "depth", Values: []int{8, 16}}, {Flag: "jobs", Values: []int{1, 2}}}
	p := mustPlan(t, r)
	var statuses []string
	f, err := Run(context.Background(), p, Meta{}, statusRecorder{&statuses})
	if err != nil {
		t.Fatal(err)
	}
	if n := slices.IndexFunc(statuses, func(s string) bool { return s == "small-file: preparing" }); n < 0 ||
		slices.ContainsFunc(statuses[n+1:], func(s string) bool { return s == "small-file: preparing" }) {
		t.Errorf("preparing said other than once: %q", statuses)
	}
	entries, err := os.ReadDir(r.Config.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("--dir holds %d entries, want the one kept data set", len(entries))
	}
	seen := map[string]bool{}
	for _, s := range f.Samples {
		if s.Params["jobs"] == "" {
			t.Errorf("sample without jobs: %v", s.Params)
		}
		seen[s.Params["depth"]+"/"+s.Params["jobs"]] = true
	}
	if len(seen) != 4 {
		t.Errorf("points seen %v, want 4", seen)
	}
	// depth varies slowest: the axis given first.
	if got := p.Sweeps[0].PointString(1); got != "depth=8,jobs=2" {
		t.Errorf("PointString(1) = %q", got)
	}
}

func TestSweepPlanErrors(t *testing.T) {
	cases := map[string][]Axis{
		"--batch 16 (point batch=16): --batch 16 is larger than --depth 8":   {{Flag: "batch", Values: []int{4, 16}}},
		"--pipeline: not a flag that takes a list":                           {{Flag: "pipeline", Values: []int{1, 2}}},
		"--batch 1,4,1: 1 given twice":                                       {{Flag: "batch", Values: []int{1, 4, 1}}},
		"--depth 9999 (point jobs=1,depth=9999): --depth 9999: at most 4096": {{Flag: "jobs", Values: []int{1, 2}}, {Flag: "depth", Values: []int{8, 9999}}},
	}
	for want, axes := range cases {
		r := request(t)
		r.Sweep = axes
		if _, err := NewPlan(r); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%v: got %v, want %q", axes, err, want)
		}
	}
	r := request(t)
	r.Sweep = []Axis{{Flag: "batch", Values: []int{1, 2, 4, 8}}, {Flag: "jobs", Values: []int{1, 2, 3, 4}}, {Flag: "depth", Values: []int{8, 16, 32, 64, 128}}}
	_, err := NewPlan(r)
	if err == nil || err.Error() != "--batch 1,2,4,8 × --jobs 1,2,3,4 × --depth 8,16,32,64,128 (small-file): 80 points: more than 64, give --force to run them" {
		t.Errorf("80 points: %v", err)
	}
	r.Force = true
	if p, err := NewPlan(r); err != nil || p.Points() != 80 {
		t.Errorf("80 points with Force: %v", err)
	}
	// One value is no sweep: it sets the config, and nothing is recorded.
	r = request(t)
	r.Sweep = []Axis{{Flag: "batch", Values: []int{2}}}
	p, err := NewPlan(r)
	if err != nil || len(p.Sweep) != 0 || p.Points() != 1 || p.Config.Options.Batch != 2 {
		t.Errorf("one value: %v %+v", err, p)
	}
}

// statusRecorder records Status lines.
type statusRecorder struct{ s *[]string }

func (r statusRecorder) Status(s string) { *r.s = append(*r.s, s) }
func (r statusRecorder) Step()           {}
