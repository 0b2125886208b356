package summary

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ringbench/ringbench/internal/result"
)

func TestRowsMediansAndWarnings(t *testing.T) {
	mk := func(backend string, ops float64, warn ...result.Warning) result.Sample {
		return result.Sample{Workload: "small-file", Backend: backend, Params: map[string]string{"depth": "32"}, Seconds: 1,
			Ops: int64(ops), OpsPerSec: ops, EntersPerOp: -1, Syscalls: result.Syscalls{Available: true, PerOp: ops / 1e6},
			Warnings: warn}
	}
	low := result.Warning{Kind: result.WarnLowResidency, Text: "PAGE CACHE NOT RESIDENT"}
	rows := Rows([]result.Sample{mk("uring", 300), mk("epoll", 100, low), mk("uring", 100, low), mk("uring", 200), mk("epoll", 300, low)})
	if len(rows) != 2 || rows[0].Backend != "uring" || rows[1].Backend != "epoll" {
		t.Fatalf("rows %+v: want one per series, in order of first appearance", rows)
	}
	u, e := rows[0], rows[1]
	if u.N != 3 || u.OpsPerSec != 200 || u.MinOps != 100 || u.MaxOps != 300 || e.OpsPerSec != 200 || u.EntersPerOp != -1 {
		t.Errorf("uring %+v epoll %+v", u, e)
	}
	// Each series' own warning once, then the spread (CV 41% and 50%, above 10%).
	if len(e.Warnings) != 2 || e.Warnings[0] != low.Text || len(u.Warnings) != 2 || !strings.HasPrefix(e.Warnings[1], "ops/s varies by 50% (CV)") {
		t.Errorf("warnings once per series: uring %q epoll %q", u.Warnings, e.Warnings)
	}
	var b bytes.Buffer
	WriteTable(&b, rows)
	if out := b.String(); !strings.Contains(out, "vs epoll: uring 1.00x ops/s") || !strings.Contains(out, "WARNING epoll: PAGE CACHE NOT RESIDENT") {
		t.Errorf("table:\n%s", out)
	}
}

func TestRowsLeaveOutInvalidSamples(t *testing.T) {
	low := &result.Warning{Kind: result.WarnLowResidency, Text: "page cache below 99% resident (lowest 50.0%): reads went to disk"}
	ss := []result.Sample{
		{Workload: "small-file", Backend: "uring", OpsPerSec: 100},
		{Workload: "small-file", Backend: "uring", OpsPerSec: 110},
		{Workload: "small-file", Backend: "uring", OpsPerSec: 1, Invalid: low},
	}
	rows := Rows(ss)
	if len(rows) != 1 || rows[0].N != 2 || rows[0].MinOps != 100 {
		t.Fatalf("rows %+v: want the two valid samples only", rows)
	}
	if n := Notice(ss); !strings.HasPrefix(n, "left out 1 of 3 samples as invalid: 1 low-residency") {
		t.Fatalf("notice %q", n)
	}
	if n := Notice(ss[:2]); n != "" {
		t.Fatalf("notice %q with nothing left out", n)
	}
}

// TestTableShowsSpreadAndNamesSyscalls: the CV column, no CV warning under 10%, the syscalls/op line
// naming the calls with "other" last for the rest, and "not counted" said once for all rows.
func TestTableShowsSpreadAndNamesSyscalls(t *testing.T) {
	mk := func(backend, workload string, ops float64) result.Sample {
		return result.Sample{Workload: workload, Backend: backend, Seconds: 1, Ops: 1000, OpsPerSec: ops, EntersPerOp: -1,
			Syscalls: result.Syscalls{Available: true, Total: 4010, PerOp: 4.01, ByName: map[string]uint64{
				"openat": 1000, "read": 1000, "close": 1000, "epoll_ctl": 1000, "other": 8, "futex": 2}}}
	}
	rows := Rows([]result.Sample{mk("epoll", "many-file", 100), mk("epoll", "many-file", 104), mk("epoll", "many-file", 96)})
	if r := rows[0]; r.CVOps < 0.03 || r.CVOps > 0.04 || len(r.Warnings) != 0 {
		t.Fatalf("cv %v warnings %q", r.CVOps, r.Warnings)
	}
	if got, want := rows[0].TopSyscalls, "close 1.00, epoll_ctl 1.00, openat 1.00, read 1.00, other 0.01"; got != want {
		t.Errorf("syscalls line %q, want %q", got, want)
	}
	var b bytes.Buffer
	WriteTable(&b, rows)
	if out := b.String(); !strings.Contains(out, " CV  MB/s") || !strings.Contains(out, "3.3%") {
		t.Errorf("table without the CV column:\n%s", out)
	}

	un := func(backend, workload string) result.Sample {
		return result.Sample{Workload: workload, Backend: backend, Kind: result.KindCounted, Seconds: 1, Ops: 10, OpsPerSec: 10,
			Syscalls: result.Syscalls{Reason: "kernel syscall counting unavailable: perf_event_open: permission denied"}}
	}
	rows = Rows([]result.Sample{un("epoll", "small-file"), un("uring", "small-file"), un("epoll", "many-file"), un("uring", "many-file")})
	b.Reset()
	WriteTable(&b, rows)
	out := b.String()
	if strings.Count(out, "not counted") != 1 || strings.Contains(out, "unavailable: kernel syscall counting unavailable") ||
		!strings.Contains(out, "WARNING: syscalls not counted: perf_event_open: permission denied (counting needs root, or kernel.perf_event_paranoid <= 1") {
		t.Errorf("want one line saying why and how to enable:\n%s", out)
	}
}

// A --jobs series shows its totals in the table and the spread between its threads below it; a one-thread
// series shows no such line.
func TestRowsThreadSpread(t *testing.T) {
	mk := func(jobs string, lo, hi float64) result.Sample {
		s := result.Sample{Workload: "small-file", Backend: "epoll", Params: map[string]string{"jobs": jobs}, Seconds: 1,
			Ops: int64(lo + hi), OpsPerSec: lo + hi, EntersPerOp: -1}
		if jobs != "1" {
			s.Threads = []result.Thread{{TID: 1, Ops: int64(lo), OpsPerSec: lo}, {TID: 2, Ops: int64(hi), OpsPerSec: hi}}
		}
		return s
	}
	rows := Rows([]result.Sample{mk("2", 100e3, 300e3), mk("2", 200e3, 250e3), mk("2", 150e3, 400e3), mk("1", 50e3, 50e3)})
	if len(rows) != 2 {
		t.Fatalf("rows %+v: want one per jobs value", rows)
	}
	r := rows[0]
	if r.Threads != 2 || r.ThreadMin != 150e3 || r.ThreadMax != 300e3 || r.OpsPerSec != 450e3 {
		t.Errorf("row %+v: want 2 threads, median slowest 150k, fastest 300k, total 450k", r)
	}
	var b bytes.Buffer
	WriteTable(&b, rows)
	out := b.String()
	if strings.Count(out, "I/O threads") != 1 || !strings.Contains(out, "epoll   2 I/O threads: 150.0k–300.0k ops/s per thread") {
		t.Errorf("table:\n%s", out)
	}
	b.Reset()
	WriteMarkdown(&b, rows)
	if !strings.Contains(b.String(), "- epoll: 2 I/O threads: ") {
		t.Errorf("markdown:\n%s", b.String())
	}
}

// TestTableSaysWhatAColdCacheMeasures: a --cache cold block says that reads went to the device (epoll
// blocking in pread, io_uring keeping --depth in flight) and how much each backend had cached by the end
// of its samples; a warm block says nothing of the kind.
func TestTableSaysWhatAColdCacheMeasures(t *testing.T) {
	mk := func(backend, cache string, after float64) result.Sample {
		p := map[string]string{"depth": "32"}
		if cache != "" {
			p["cache"] = cache
		}
		return result.Sample{Workload: "small-file", Backend: backend, Params: p, Seconds: 1, Ops: 1000, OpsPerSec: 1000,
			EntersPerOp: -1, Residency: &result.Residency{Before: 0, After: after}}
	}
	var b bytes.Buffer
	WriteTable(&b, Rows([]result.Sample{mk("epoll", "cold", 0.2), mk("uring", "cold", 1)}))
	out := b.String()
	if !strings.Contains(out, "epoll's loop blocks in each read that misses") || !strings.Contains(out, "epoll 20%, uring 100%") {
		t.Errorf("cold table:\n%s", out)
	}
	b.Reset()
	WriteTable(&b, Rows([]result.Sample{mk("epoll", "", 1), mk("uring", "", 1)}))
	if out := b.String(); strings.Contains(out, "cold cache") {
		t.Errorf("warm table:\n%s", out)
	}
}

// TestRingEventsTable: io_uring series get the extra table of their ring events per op (medians over counted
// samples) with the io-wq workers' CPU per op from timed ones; epoll has no row in it, a series whose events
// could not be counted says why, and a run without ring events prints no such table.
func TestRingEventsTable(t *testing.T) {
	mk := func(backend, kind string, re *result.RingEvents, workerNs uint64) result.Sample {
		return result.Sample{Workload: "small-file", Backend: backend, Kind: kind, Seconds: 1, Ops: 1000, OpsPerSec: 1000,
			EntersPerOp: -1, RingEvents: re, CPU: result.CPU{WorkerNs: workerNs, PerOpNs: 2000}}
	}
	ev := func(sub, punts uint64) *result.RingEvents {
		return &result.RingEvents{Available: true, Submitted: sub, AsyncPunts: punts, TaskWork: 250, PollArms: 0, CQOverflows: 3}
	}
	ss := []result.Sample{
		mk("uring", result.KindTimed, nil, 500_000), mk("uring", result.KindCounted, ev(1000, 100), 0),
		mk("uring", result.KindTimed, nil, 700_000), mk("uring", result.KindCounted, ev(1000, 300), 0),
		mk("sqpoll", result.KindTimed, nil, 0), mk("sqpoll", result.KindCounted, &result.RingEvents{Reason: "perf_event_open denied"}, 0),
		mk("epoll", result.KindTimed, nil, 0), mk("epoll", result.KindCounted, nil, 0),
	}
	rows := Rows(ss)
	u := rows[0].Ring
	if u == nil || u.SubmittedPerOp != 1 || u.PuntsPerOp != 0.2 || u.TaskWorkPerOp != 0.25 || u.CQOverflows != 3 || u.WorkerCPUPerOp != 600 {
		t.Fatalf("uring ring row %+v", u)
	}
	if rows[1].Ring == nil || rows[1].Ring.Reason != "perf_event_open denied" || rows[2].Ring != nil {
		t.Fatalf("sqpoll %+v epoll %+v", rows[1].Ring, rows[2].Ring)
	}
	var b bytes.Buffer
	WriteTable(&b, rows)
	out := b.String()
	words := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{"backend submitted/op async punts/op worker CPU/op task work/op poll arms/op cq overflows uring 1.000 0.200 600ns 0.250 0.000 3 " +
		"sqpoll io_uring events not counted: perf_event_open denied"} { // and no epoll row between
		if !strings.Contains(words, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	WriteMarkdown(&b, rows)
	if !strings.Contains(b.String(), "| uring | 1.000 | 0.200 | 600ns | 0.250 | 0.000 | 3 |") {
		t.Errorf("markdown:\n%s", b.String())
	}
	b.Reset()
	WriteTable(&b, Rows(ss[6:]))
	if strings.Contains(b.String(), "io_uring's own events") {
		t.Errorf("ring table without io_uring series:\n%s", b.String())
	}
}
