package summary

import (
	"regexp"
	"strings"
	"testing"

	"github.com/ringbench/ringbench/internal/result"
)

// TestHostileResultFilesPrintSafely feeds names, warnings and figures a damaged or hostile result file
// could carry: no control character reaches the output raw, and no figure prints as hundreds of digits.
func TestHostileResultFilesPrintSafely(t *testing.T) {
	evil := "\x1b]0;owned\a\x1b[2J\u009b31m"
	s := result.Sample{Backend: "epoll" + evil, Workload: "small-file" + evil, Params: map[string]string{"depth" + evil: "1"},
		Seconds: 1, Ops: 1000, OpsPerSec: 1e308, BytesPerSec: 1e308, EntersPerOp: 1e308, PeakRSSBytes: 1 << 62,
		Syscalls:        result.Syscalls{Available: true, PerOp: 1e308, ByName: map[string]uint64{"read" + evil: 1 << 62}},
		CPU:             result.CPU{PerOpNs: 1e308, UserNs: 1, SysNs: 1},
		ContextSwitches: result.Counted{Available: true, PerOp: 1e308},
		Memory:          &result.ConnMemory{IdleConns: 1, RSSPerConnBytes: 1e308},
		Warnings:        []result.Warning{{Kind: "x", Text: "warning" + evil}}}
	base := s
	base.Backend, base.OpsPerSec = "epoll", 1e-300
	rows := Rows([]result.Sample{base, s})
	var table, md strings.Builder
	WriteTable(&table, rows)
	WriteMarkdown(&md, rows)
	for name, out := range map[string]string{"table": table.String(), "markdown": md.String()} {
		if strings.ContainsAny(out, "\x1b\a\u009b") {
			t.Errorf("%s: raw control characters:\n%q", name, out)
		}
		if regexp.MustCompile(`[0-9]{30}`).MatchString(out) {
			t.Errorf("%s: an unbounded number:\n%s", name, out)
		}
		if !strings.Contains(out, `warning\x1b]0;owned\a`) {
			t.Errorf("%s: the warning should show its escapes visibly:\n%s", name, out)
		}
	}
}
