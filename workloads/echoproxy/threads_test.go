package echoproxy

import (
	"strings"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/loadgen"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/workloads"
)

// TestGeneratorCheckPerThread: a generator thread that spent more CPU per request it carried than the
// server did is flagged even when the threads' average is below the server's.
func TestGeneratorCheckPerThread(t *testing.T) {
	r := loadgen.Result{Ops: 2000, Seconds: 1, ThreadCPUNs: 2_000_000 + 2_000_000, Engine: "epoll",
		Threads: []loadgen.ThreadResult{
			{Conns: 2, Ops: 1000, Seconds: 1, ThreadCPUNs: 2_000_000}, // 2 µs a request
			{Conns: 2, Ops: 1000, Seconds: 1, ThreadCPUNs: 2_000_000},
		}}
	sm := result.Sample{CPU: result.CPU{PerOpNs: 3000}}
	line := GeneratorCheck(&sm, r)
	if !strings.Contains(line, "busiest of its 2 threads") {
		t.Errorf("line %q does not speak of the threads", line)
	}
	if len(sm.Warnings) != 0 {
		t.Errorf("warned at 2 µs per request against the server's 3: %v", sm.Warnings)
	}
	r.Threads[1] = loadgen.ThreadResult{Conns: 2, Ops: 500, Seconds: 1, ThreadCPUNs: 2_000_000} // 4 µs a request
	r.Ops = 1500
	sm = result.Sample{CPU: result.CPU{PerOpNs: 3000}}
	GeneratorCheck(&sm, r)
	if len(sm.Warnings) != 1 || sm.Warnings[0].Kind != result.WarnGeneratorBottleneck {
		t.Errorf("warnings %v, want the generator bottleneck (one thread at 4 µs per request)", sm.Warnings)
	}
}

func TestThreadsFlags(t *testing.T) {
	for _, cfg := range []workloads.Config{{Threads: -1}, {Threads: 257}, {GenThreads: 257}, {Conns: 2, GenThreads: 3}} {
		if _, err := Check(cfg); err == nil || !strings.Contains(err.Error(), "threads") {
			t.Errorf("%+v: %v, want an error naming the flag", cfg, err)
		}
	}
	s, err := Check(workloads.Config{Threads: 2, GenThreads: 2})
	if err != nil {
		t.Fatal(err)
	}
	p := s.Params()
	if p["threads"] != "2" || p["gen-threads"] != "2" {
		t.Errorf("params %v lack the thread counts", p)
	}
	s, _ = Check(workloads.Config{})
	if _, ok := s.Params()["threads"]; ok {
		t.Errorf("one thread changes the series' parameters: %v", s.Params())
	}
}

// TestThreadsOnEveryBackend: a sample with two server loops and two generator threads, on every backend:
// every request in the histogram, the thread counts in the series, and (where syscalls are counted) the
// I/O threads' syscalls counted over both loops.
func TestThreadsOnEveryBackend(t *testing.T) {
	for _, v := range variants(t) {
		t.Run(v.String(), func(t *testing.T) {
			base := takeBaseline()
			s, err := sampleAtLeast(t, v, workloads.Config{Conns: 16, Threads: 2, GenThreads: 2, Verify: true}, 300*time.Millisecond, 100)
			if err != nil {
				t.Fatal(err)
			}
			if s.Ops < 100 || s.Latency.Count != s.Ops {
				t.Fatalf("implausible sample: ops %d, latency count %d", s.Ops, s.Latency.Count)
			}
			if s.Params["threads"] != "2" || s.Params["gen-threads"] != "2" {
				t.Errorf("params %v", s.Params)
			}
			if s.Syscalls.Available && v.name != "gostd" && (s.Syscalls.Backend == nil || s.Syscalls.Backend.Total == 0) {
				t.Errorf("no syscalls counted on the loop threads: %+v", s.Syscalls.Backend)
			}
			base.check(t)
		})
	}
}
