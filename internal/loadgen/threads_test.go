package loadgen

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/result"
)

// TestThreadsClosedLoop: two generator threads split 5 connections 3 + 2, and the merged histogram holds
// exactly the requests the threads completed.
func TestThreadsClosedLoop(t *testing.T) {
	addr := echoServer(t)
	g, err := Dial(Config{Target: addr, Conns: 5, Pipeline: 2, Verify: true, Threads: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if got := g.ThreadConns(); !slices.Equal(got, []int{3, 2}) {
		t.Errorf("connections per thread %v, want [3 2]", got)
	}
	if tids := g.ThreadIDs(); len(tids) != 2 || tids[0] == tids[1] {
		t.Errorf("threads %v, want two", tids)
	}
	if err := g.Start(time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := g.Mark(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	r, err := g.Stop()
	if err != nil {
		t.Fatal(err)
	}
	checkMerged(t, r, []int{3, 2})
	if r.Unfinished != 0 {
		t.Errorf("closed loop: %d unfinished", r.Unfinished)
	}
}

// TestThreadsOpenLoop: with two threads the open loop still runs, and the merged histogram holds every
// completed and every unfinished request.
func TestThreadsOpenLoop(t *testing.T) {
	addr := echoServer(t)
	r := run(t, Config{Target: addr, Conns: 4, Rate: 2000, Threads: 2}, 300*time.Millisecond)
	checkMerged(t, r, []int{2, 2})
	if !r.Corrected {
		t.Error("open loop result not marked corrected")
	}
}

func checkMerged(t *testing.T, r Result, conns []int) {
	t.Helper()
	if r.Ops == 0 {
		t.Fatal("no requests")
	}
	if len(r.Threads) != len(conns) {
		t.Fatalf("%d thread results, want %d", len(r.Threads), len(conns))
	}
	var ops int64
	var cpu uint64
	for i, th := range r.Threads {
		if th.Conns != conns[i] {
			t.Errorf("thread %d: %d connections, want %d", i, th.Conns, conns[i])
		}
		if th.Ops == 0 {
			t.Errorf("thread %d completed nothing", i)
		}
		ops += th.Ops
		cpu += th.ThreadCPUNs
	}
	if ops != r.Ops || cpu != r.ThreadCPUNs {
		t.Errorf("threads' ops %d, CPU %d; merged %d, %d", ops, cpu, r.Ops, r.ThreadCPUNs)
	}
	h, err := result.DecodeHistogram(r.Histogram)
	if err != nil {
		t.Fatal(err)
	}
	if h.TotalCount() != r.Ops+r.Unfinished {
		t.Errorf("merged histogram holds %d latencies, want %d completed + %d unfinished", h.TotalCount(), r.Ops, r.Unfinished)
	}
}

// TestThreadsSplitTheSchedule: over any number of threads, the open-loop schedule (counted from the due
// times, not from a run) holds exactly rate x duration requests in a window from the start, each thread
// its connections' share, and every request time of the one-thread schedule exactly once.
func TestThreadsSplitTheSchedule(t *testing.T) {
	const t0 = int64(1e12)
	for _, tc := range []struct {
		conns, threads int
		rate           float64
		d              time.Duration
	}{{5, 2, 1000, time.Second}, {7, 3, 3500, 2 * time.Second}, {16, 4, 100000, 100 * time.Millisecond}, {3, 3, 30, time.Second}} {
		cfg := Config{Target: "127.0.0.1:1", Conns: tc.conns, Rate: tc.rate, Threads: tc.threads}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		subs, scheds := split(cfg)
		one := schedule{}.orAll(tc.conns)
		want := map[int64]int{}
		for idx := 0; idx < tc.conns; idx++ {
			for seq := int64(0); ; seq++ {
				at := one.due(t0, tc.rate, int32(idx), seq)
				if at >= t0+int64(tc.d) {
					break
				}
				want[at]++
			}
		}
		total, conns := 0, 0
		for i, sub := range subs {
			n := 0
			for idx := 0; idx < sub.Conns; idx++ {
				for seq := int64(0); ; seq++ {
					at := scheds[i].due(t0, tc.rate, int32(idx), seq)
					if at >= t0+int64(tc.d) {
						break
					}
					want[at]--
					n++
				}
			}
			// A thread's share is its connections' share of the rate, to within one request a connection.
			exp := tc.rate * tc.d.Seconds() * float64(sub.Conns) / float64(tc.conns)
			if math.Abs(float64(n)-exp) > float64(sub.Conns) {
				t.Errorf("%+v: thread %d scheduled %d, want about %.0f", tc, i, n, exp)
			}
			total += n
			conns += sub.Conns
		}
		if exp := int(tc.rate * tc.d.Seconds()); total != exp || conns != tc.conns {
			t.Errorf("%+v: %d requests scheduled on %d connections, want exactly %d on %d", tc, total, conns, exp, tc.conns)
		}
		for at, n := range want {
			if n != 0 {
				t.Errorf("%+v: due time %d scheduled %d times too few", tc, at-t0, n)
				break
			}
		}
	}
}

// TestThreadsFlag: --threads 1 to 256, and no more threads than connections.
func TestThreadsFlag(t *testing.T) {
	for _, cfg := range []Config{{Threads: -1}, {Threads: 257}, {Conns: 2, Threads: 3}} {
		cfg.Target = "127.0.0.1:1"
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--threads") {
			t.Errorf("%+v: %v, want an error naming --threads", cfg, err)
		}
	}
	cfg := Config{Target: "127.0.0.1:1", Conns: 3, Threads: 3}
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
}
