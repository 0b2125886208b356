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
	if len(e.Warnings) != 1 || e.Warnings[0] != low.Text || len(u.Warnings) != 1 {
		t.Errorf("warnings once per series: uring %q epoll %q", u.Warnings, e.Warnings)
	}
	var b bytes.Buffer
	WriteTable(&b, rows)
	if out := b.String(); !strings.Contains(out, "vs epoll: uring 1.00x ops/s") || !strings.Contains(out, "WARNING epoll: PAGE CACHE NOT RESIDENT") {
		t.Errorf("table:\n%s", out)
	}
}
