package report

import (
	"strings"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/result"
)

// TestSummaryShowsRingEvents: the summary table has io_uring's own events per op as columns when some
// series has them, with worker CPU/op beside the punts, and "—" for series without (epoll); files without
// ring events have no such columns.
func TestSummaryShowsRingEvents(t *testing.T) {
	page := func(withEvents bool) string {
		in, err := LoadFiles(writeFixtures(t, "kernel-6.12-kvm.json"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range in[0].File.Samples {
			s := &in[0].File.Samples[i]
			if withEvents && s.Workload == "small-file" && s.Backend == "uring" && s.Ops > 0 {
				ops := uint64(s.Ops)
				s.RingEvents = &result.RingEvents{Available: true, Submitted: ops, AsyncPunts: ops / 4, TaskWork: ops / 2, CQOverflows: 2}
			}
		}
		r, err := Build(in)
		if err != nil {
			t.Fatal(err)
		}
		b, err := HTML(r, nil, "test", time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	with, without := page(true), page(false)
	for _, col := range []string{"submitted/op", "async punts/op", "worker CPU/op", "task work/op", "poll arms/op", "cq overflows"} {
		if !strings.Contains(with, "<th>"+col+"</th>") && !strings.Contains(with, ">"+col+"<") {
			t.Errorf("no %q column with ring events", col)
		}
		if strings.Contains(without, ">"+col+"<") {
			t.Errorf("%q column without any ring events", col)
		}
	}
	if !strings.Contains(with, ">1.000<") && !strings.Contains(with, ">1<") {
		t.Errorf("submitted/op of 1 not shown")
	}
	if !strings.Contains(with, ">0.250<") && !strings.Contains(with, ">0.25<") {
		t.Errorf("async punts/op of 0.25 not shown")
	}
}
