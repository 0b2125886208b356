package workloads_test

import (
	"context"
	"errors"
	"testing"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/leakcheck"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/workloads"
)

// TestJobs: --jobs 2 on each file workload and backend (and sqpoll with --sq-share) runs two I/O threads
// whose figures add up exactly: per-thread ops sum to the total, the merged histogram counts every op, the
// threads are distinct, and the series is marked jobs=2. It leaves nothing behind.
func TestJobs(t *testing.T) {
	ctx := context.Background()
	for _, wname := range fileWorkloads {
		t.Run(wname, func(t *testing.T) {
			before := snapshot(t)
			type variant struct {
				name  string
				share bool
			}
			for _, b := range runnable(t) {
				variants := []variant{{b.Name(), false}}
				if b.Name() == "sqpoll" {
					variants = append(variants, variant{"sqpoll --sq-share", true})
				}
				for _, v := range variants {
					cfg := fileConfig()
					cfg.Jobs, cfg.SQShare = 2, v.share
					p, err := lookup(t, wname).Prepare(ctx, cfg)
					if err != nil {
						t.Fatalf("prepare: %v", err)
					}
					s, err := sampleSome(ctx, t, p, workloads.SampleSpec{Meter: meter, Backend: b, Duration: sampleDuration, Repeat: 1})
					if cerr := p.Close(); cerr != nil {
						t.Errorf("close: %v", cerr)
					}
					if v.share && wname == "many-file" {
						// A shared poll thread cuts chains of more than 8 SQEs in flight (see sqpoll.sharedPollCap).
						if !errors.Is(err, backend.ErrNotSupported) {
							t.Errorf("%s: got %v, want ErrNotSupported", v.name, err)
						}
						continue
					}
					if err != nil {
						t.Errorf("%s: %v", v.name, err)
						continue
					}
					checkJobs(t, v.name, s, 2)
					if got := s.Params["sqshare"]; (got == "1") != v.share {
						t.Errorf("%s: params %v: sqshare wrong", v.name, s.Params)
					}
				}
			}
			leakcheck.Check(t, before)
		})
	}
}

func checkJobs(t *testing.T, name string, s result.Sample, jobs int) {
	t.Helper()
	if s.Params["jobs"] != "2" {
		t.Errorf("%s: params %v, want jobs=2", name, s.Params)
	}
	if len(s.Threads) != jobs {
		t.Fatalf("%s: %d per-thread figures, want %d", name, len(s.Threads), jobs)
	}
	var ops int64
	tids := map[int]bool{}
	for i, th := range s.Threads {
		ops += th.Ops
		tids[th.TID] = true
		if th.Ops == 0 || th.OpsPerSec <= 0 || th.P99 <= 0 || th.Seconds <= 0 {
			t.Errorf("%s: thread %d did nothing: %+v", name, i, th)
		}
	}
	if ops != s.Ops {
		t.Errorf("%s: threads' ops sum to %d, total %d", name, ops, s.Ops)
	}
	if len(tids) != jobs {
		t.Errorf("%s: %d distinct I/O thread ids (%v), want %d", name, len(tids), tids, jobs)
	}
	if s.Latency.Count != s.Ops {
		t.Errorf("%s: merged histogram counts %d, ops %d", name, s.Latency.Count, s.Ops)
	}
	h, err := result.DecodeHistogram(s.Latency.Histogram)
	if err != nil || h.TotalCount() != s.Ops {
		t.Errorf("%s: stored histogram: %v, count %v, ops %d", name, err, h, s.Ops)
	}
	// epoll and uring make their syscalls on the I/O threads (gostd's go to its goroutines' threads, sqpoll's
	// to the poll thread): counted over both threads, there must be some.
	if s.Syscalls.Backend != nil && s.Syscalls.Backend.Total == 0 && (name == "epoll" || name == "uring") {
		t.Errorf("%s: no syscall counted on the I/O threads", name)
	}
}
