package runner

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ringbench/ringbench/internal/result"
	_ "github.com/ringbench/ringbench/workloads/echoproxy"
)

// counts counts 1..n, for long axes.
func counts(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// TestPlanGivesEachWorkloadItsAxes: --jobs 1,2 --threads 1,2,4 --gen-threads threads over small-file,
// many-file and echo-proxy gives each file workload the two jobs points and echo-proxy the three threads
// points, its load generator as many threads as its server at each: 7 points, not 3 × 6 copies.
func TestPlanGivesEachWorkloadItsAxes(t *testing.T) {
	r := request(t)
	r.Workloads = []string{"small-file", "many-file", "echo-proxy"}
	r.Sweep = []Axis{{Flag: "jobs", Values: []int{1, 2}}, {Flag: "threads", Values: []int{1, 2, 4}}}
	r.GenThreadsSame = true
	p := mustPlan(t, r)
	var got []string
	for i, ws := range p.Sweeps {
		var pts []string
		for j, pt := range ws.Points {
			pts = append(pts, ws.PointString(j))
			if pt.GenThreads != pt.Threads {
				t.Errorf("%s point %s: gen-threads %d, threads %d", p.Workloads[i].Name(), ws.PointString(j), pt.GenThreads, pt.Threads)
			}
		}
		got = append(got, p.Workloads[i].Name()+": "+strings.Join(pts, " "))
	}
	want := []string{"small-file: jobs=1 jobs=2", "many-file: jobs=1 jobs=2", "echo-proxy: threads=1 threads=2 threads=4"}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Fatalf("points\n got %q\nwant %q", got, want)
	}
	if p.Points() != 7 || p.Samples() != 7*2*2*2 {
		t.Errorf("%d points, %d samples; want 7 and 7 × 2 backends × 2 rounds × 2 kinds", p.Points(), p.Samples())
	}
	if cfg := p.Sweeps[2].prepareConfig(); cfg.Threads != 4 || cfg.GenThreads != 4 {
		t.Errorf("echo-proxy prepared with threads %d, gen-threads %d; want 4 and 4", cfg.Threads, cfg.GenThreads)
	}
	if !p.Sweeps[2].GenThreadsSame || p.Sweeps[0].GenThreadsSame {
		t.Errorf("gen-threads follows threads on echo-proxy only: %v %v", p.Sweeps[2].GenThreadsSame, p.Sweeps[0].GenThreadsSame)
	}
	wantSweep := []result.SweepAxis{
		{Flag: "jobs", Param: "jobs", Values: []string{"1", "2"}, Workloads: []string{"small-file", "many-file"}},
		{Flag: "threads", Param: "threads", Values: []string{"1", "2", "4"}, Workloads: []string{"echo-proxy"}, Same: []string{"gen-threads"}},
	}
	if fmt.Sprint(p.resultSweep()) != fmt.Sprint(wantSweep) {
		t.Errorf("config.sweep\n got %+v\nwant %+v", p.resultSweep(), wantSweep)
	}
	s := result.Sample{Params: map[string]string{"threads": "4", "gen-threads": "4"}}
	if err := p.Sweeps[2].addPointParams(2, &s); err != nil || s.Params["gen-threads"] != "4" {
		t.Errorf("params at threads=4: %v %v", s.Params, err)
	}
	s = result.Sample{}
	if err := p.Sweeps[2].addPointParams(0, &s); err != nil || s.Params["threads"] != "1" || s.Params["gen-threads"] != "1" {
		t.Errorf("params at threads=1: %v %v, want threads=1 and gen-threads=1", s.Params, err)
	}
}

// TestPlanCountsEachWorkloadsPoints: the 64-point limit counts each workload's own points: 32 jobs points
// and 32 threads points run without --force, 33 and 32 do not, and the refusal says whose points they are.
func TestPlanCountsEachWorkloadsPoints(t *testing.T) {
	r := request(t)
	r.Workloads = []string{"small-file", "echo-proxy"}
	r.Config.Conns = 64
	r.Sweep = []Axis{{Flag: "jobs", Values: counts(32)}, {Flag: "threads", Values: counts(32)}}
	p, err := NewPlan(r)
	if err != nil || p.Points() != 64 {
		t.Fatalf("32 + 32 points: %v", err)
	}
	r.Sweep[0].Values = counts(33)
	_, err = NewPlan(r)
	if err == nil || !strings.HasPrefix(err.Error(), "--jobs 1,2,3,") || !strings.HasSuffix(err.Error(),
		",32 (echo-proxy): 65 points: more than 64, give --force to run them") || !strings.Contains(err.Error(), ",33 (small-file); --threads 1,2,") {
		t.Errorf("33 + 32 points: %v", err)
	}
	r.Workloads = []string{"small-file", "many-file"}
	r.Sweep = []Axis{{Flag: "jobs", Values: counts(33)}}
	if _, err = NewPlan(r); err == nil || !strings.HasSuffix(err.Error(), ",33 (small-file, many-file: 33 points each): 66 points: more than 64, give --force to run them") {
		t.Errorf("33 points of two workloads: %v", err)
	}
}

// TestPlanRefusesAnAxisNoWorkloadReads: a list of a flag that none of the run's workloads reads would only
// repeat series; it is refused naming the flag and the workloads it is for.
func TestPlanRefusesAnAxisNoWorkloadReads(t *testing.T) {
	r := request(t)
	r.Workloads = []string{"echo-proxy"}
	r.Sweep = []Axis{{Flag: "jobs", Values: []int{1, 2}}}
	if _, err := NewPlan(r); err == nil || err.Error() != "--jobs 1,2: not read by echo-proxy (it is for small-file, many-file)" {
		t.Errorf("echo-proxy --jobs 1,2: %v", err)
	}
	r.Workloads = []string{"small-file"}
	r.Sweep = []Axis{{Flag: "threads", Values: []int{1, 2}}, {Flag: "batch", Values: []int{1, 2}}}
	if _, err := NewPlan(r); err == nil || err.Error() != "--threads 1,2: not read by small-file (it is for echo-proxy)" {
		t.Errorf("small-file --threads 1,2: %v", err)
	}
}

// TestPlanCountsPointsBeforeMakingThem: a product too large to hold (400³ points) is refused by its count,
// before any point is made.
func TestPlanCountsPointsBeforeMakingThem(t *testing.T) {
	r := request(t)
	r.Sweep = []Axis{{Flag: "batch", Values: counts(400)}, {Flag: "depth", Values: counts(400)}, {Flag: "jobs", Values: counts(400)}}
	if _, err := NewPlan(r); err == nil || !strings.HasSuffix(err.Error(), " (small-file): 64000000 points: more than 64, give --force to run them") {
		t.Errorf("400³ points: %v", err)
	}
}
