package runner

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	_ "github.com/ringbench/ringbench/backends/epoll"
	_ "github.com/ringbench/ringbench/backends/gostd"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/workloads"
	_ "github.com/ringbench/ringbench/workloads/manyfile"
	_ "github.com/ringbench/ringbench/workloads/smallfile"
)

// request is a tiny run of small-file on epoll and gostd.
func request(t *testing.T) Request {
	return Request{
		Backends: []string{"epoll", "gostd"}, Workloads: []string{"small-file"},
		Config: workloads.Config{Dir: t.TempDir(), Seed: 3, Files: 2, FileSize: 64 << 10, BlockSize: 4096,
			Options: backend.Options{Depth: 8, Batch: 4, SQCPU: -1}},
		Count: 2, Duration: 30 * time.Millisecond, Warmup: 10 * time.Millisecond, CountSyscalls: true,
	}
}

// mustPlan is NewPlan(r), which must succeed.
func mustPlan(t *testing.T, r Request) *Plan {
	t.Helper()
	p, err := NewPlan(r)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewPlanNamesTheFlag(t *testing.T) {
	cases := map[string]func(r *Request){
		"--count 0":                     func(r *Request) { r.Count = 0 },
		"--count 1001":                  func(r *Request) { r.Count = MaxCount + 1 },
		"--duration 0s":                 func(r *Request) { r.Duration = 0 },
		"--warmup -1s":                  func(r *Request) { r.Warmup = -time.Second },
		`--workload: unknown`:           func(r *Request) { r.Workloads = []string{"nope"} },
		`--backend: unknown`:            func(r *Request) { r.Backends = []string{"nope"} },
		"small-file: --block-size 1000": func(r *Request) { r.Config.BlockSize = 1000 },
		"many-file: --file-size":        func(r *Request) { r.Workloads = []string{"many-file"}; r.Config.FileSize = 2 << 20 },
	}
	for want, change := range cases {
		r := request(t)
		change(&r)
		_, err := NewPlan(r)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: got %v", want, err)
		}
		if errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: %v matches ErrUnavailable", want, err)
		}
	}
	r := request(t)
	r.Backends = []string{"all"}
	p := mustPlan(t, r)
	if len(p.Backends) < 2 || len(p.Backends)+len(p.Skipped) != len(backend.Names()) {
		t.Errorf("all: %d runnable, %d skipped, of %v", len(p.Backends), len(p.Skipped), backend.Names())
	}
	for _, s := range p.Skipped {
		r.Backends = []string{s.Backend}
		if _, err := NewPlan(r); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "--backend "+s.Backend+" cannot run here") {
			t.Errorf("%s by name: %v, want ErrUnavailable", s.Backend, err)
		}
	}
}

// TestRunInterleavesBackends: samples come round by round, in each a timed sample of every backend then a
// counted one (ABAB), warm-ups unrecorded, each measured (syscalls or the reason they are not), and the file
// says what was asked for. No perf event is open while a timed sample starts.
func TestRunInterleavesBackends(t *testing.T) {
	p := mustPlan(t, request(t))
	var statuses []string
	steps := 0
	f, err := Run(context.Background(), p, Meta{Label: "x", Command: []string{"ringbench", "run"}}, progressFuncs{
		status: func(s string) {
			statuses = append(statuses, s)
			if strings.Contains(s, "timed sample") {
				if n := perfFDs(t); n > 0 {
					t.Errorf("%s: %d perf event fds open", s, n)
				}
			}
		}, step: func() { steps++ }})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, s := range f.Samples {
		order = append(order, s.Backend+" "+s.Kind)
		if s.Ops == 0 || (!s.Syscalls.Available && s.Syscalls.Reason == "") {
			t.Errorf("sample %+v: no ops, or syscalls neither counted nor explained", s)
		}
		if s.Kind == result.KindTimed && (s.Syscalls.Available || !strings.Contains(s.Syscalls.Reason, "timed sample")) {
			t.Errorf("timed sample's syscalls: %+v", s.Syscalls)
		}
	}
	want := "epoll timed,gostd timed,epoll counted,gostd counted,epoll timed,gostd timed,epoll counted,gostd counted"
	if got := strings.Join(order, ","); got != want {
		t.Errorf("sample order %s, want %s", got, want)
	}
	if steps != p.Samples() || steps != 8 {
		t.Errorf("%d steps, want %d", steps, p.Samples())
	}
	if f.Interrupted || f.Label != "x" || f.Config.Count != 2 || strings.Join(f.Config.Backends, ",") != "epoll,gostd" ||
		strings.Join(f.Config.Workloads, ",") != "small-file" || f.Finished.Before(f.Started) {
		t.Errorf("file header %+v", f)
	}
	if !strings.Contains(strings.Join(statuses, "\n"), "small-file on gostd: warm-up") {
		t.Errorf("no warm-up status in %q", statuses)
	}
}

// TestRunUncountedIsTimedOnly: with syscall counting off, every sample is timed and no perf event is open.
func TestRunUncountedIsTimedOnly(t *testing.T) {
	r := request(t)
	r.CountSyscalls = false
	p := mustPlan(t, r)
	f, err := Run(context.Background(), p, Meta{}, progressFuncs{status: func(s string) {
		if n := perfFDs(t); n > 0 {
			t.Errorf("%s: %d perf event fds open", s, n)
		}
	}, step: func() {}})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Samples) != 4 || p.Samples() != 4 {
		t.Fatalf("%d samples (plan %d), want 4", len(f.Samples), p.Samples())
	}
	for _, s := range f.Samples {
		if s.Kind != result.KindTimed || s.Syscalls.Available || !strings.Contains(s.Syscalls.Reason, "--count-syscalls=false") {
			t.Errorf("sample %s %s: %+v", s.Backend, s.Kind, s.Syscalls)
		}
	}
}

// perfFDs counts this process's open perf event file descriptors.
func perfFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && l == "anon_inode:[perf_event]" {
			n++
		}
	}
	return n
}

// TestRunInterrupted: a context ended before the run measures nothing, prepares nothing and says so.
func TestRunInterrupted(t *testing.T) {
	r := request(t)
	p := mustPlan(t, r)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f, err := Run(ctx, p, Meta{}, nil)
	if err != nil || !f.Interrupted || len(f.Samples) != 0 {
		t.Errorf("err %v, interrupted %v, %d samples", err, f.Interrupted, len(f.Samples))
	}
}

// TestRunFlagErrorInPrepareIsBadInput: a data set that cannot fit --dir is the user's to fix.
func TestRunFlagErrorInPrepareIsBadInput(t *testing.T) {
	r := request(t)
	r.Config.FileSize = 1 << 50
	p := mustPlan(t, r)
	f, err := Run(context.Background(), p, Meta{}, nil)
	if !errors.Is(err, ErrBadInput) || !strings.HasPrefix(err.Error(), "small-file: --") || len(f.Samples) != 0 {
		t.Errorf("got %v (%d samples), want small-file: --...: matching ErrBadInput", err, len(f.Samples))
	}
}

type progressFuncs struct {
	status func(string)
	step   func()
}

func (p progressFuncs) Status(s string) { p.status(s) }
func (p progressFuncs) Step()           { p.step() }

// TestRunCountedOnly: --samples counted takes counted samples only, and needs syscall counting.
func TestRunCountedOnly(t *testing.T) {
	r := request(t)
	r.CountedOnly = true
	p := mustPlan(t, r)
	f, err := Run(context.Background(), p, Meta{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Samples) != 4 || p.Samples() != 4 {
		t.Fatalf("%d samples (plan %d), want 4", len(f.Samples), p.Samples())
	}
	for _, s := range f.Samples {
		if s.Kind != result.KindCounted || (!s.Syscalls.Available && s.Syscalls.Reason == "") {
			t.Errorf("sample %s %s: %+v", s.Backend, s.Kind, s.Syscalls)
		}
	}
	r.CountSyscalls = false
	if _, err := NewPlan(r); err == nil || !strings.HasPrefix(err.Error(), "--samples counted") {
		t.Errorf("counted only without counting: %v", err)
	}
}
