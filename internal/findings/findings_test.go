package findings

import (
	"bytes"
	"strings"
	"testing"

	ft "github.com/ringbench/ringbench/internal/findings/findingstest"
	"github.com/ringbench/ringbench/internal/result"
)

type claimCase struct {
	name  string
	files []*result.File
	want  Verdict
	// in are texts the figure or why must hold.
	in []string
}

func runClaim(t *testing.T, claim int, cases []claimCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := Evaluate(c.files...)
			if len(fs) != len(Claims) {
				t.Fatalf("%d findings, want %d", len(fs), len(Claims))
			}
			f := fs[claim-1]
			if f.Claim != Claims[claim-1] {
				t.Errorf("claim %q, want %q", f.Claim, Claims[claim-1])
			}
			if f.Verdict != c.want {
				t.Errorf("verdict %q, want %q (figure %q, why %q)", f.Verdict, c.want, f.Figure, f.Why)
			}
			if f.Why == "" {
				t.Errorf("no why")
			}
			if (f.Verdict == NotMeasured) != (f.Figure == "") {
				t.Errorf("verdict %q with figure %q", f.Verdict, f.Figure)
			}
			if f.Verdict != NotMeasured && f.Anchor == "" {
				t.Errorf("measured but no anchor")
			}
			for _, s := range c.in {
				if !strings.Contains(f.Figure+" | "+f.Why, s) {
					t.Errorf("%q not in figure %q / why %q", s, f.Figure, f.Why)
				}
			}
		})
	}
}

func TestSyscallCost(t *testing.T) {
	runClaim(t, 1, []claimCase{
		{"mitigated near 700", []*result.File{ft.WithEnv(ft.File(""), 800, ft.MitigationsOn)}, Holds, []string{"800ns", "meltdown", "mitigations=off"}},
		// A busy machine only adds to a probe: the lowest is the figure.
		{"lowest of several", []*result.File{ft.WithEnv(ft.File("a"), 3000, ft.MitigationsOn), ft.WithEnv(ft.File("b"), 800, ft.MitigationsOn)},
			Holds, []string{"800ns (lowest of 2 runs)"}},
		{"mitigated but cheap", []*result.File{ft.WithEnv(ft.File(""), 150, ft.MitigationsOn)}, DoesNotHold, []string{"150ns", "not within"}},
		{"plain near 230 and mitigated far from 700", []*result.File{ft.WithEnv(ft.File("a"), 2000, ft.MitigationsOn), ft.WithEnv(ft.File("b"), 250, ft.MitigationsOff)},
			Partly, []string{"2.0µs", "250ns"}},
		{"no syscall cost", []*result.File{ft.WithEnv(ft.File(""), 0, ft.MitigationsOn)}, NotMeasured, []string{"env.syscall_ns"}},
		{"no mitigations recorded", []*result.File{ft.WithEnv(ft.File(""), 500, nil)}, NotMeasured, []string{"env.mitigations"}},
	})
}

func TestEpollSyscalls(t *testing.T) {
	// 4 syscalls × 750 ns × 100k/s = 30% of a CPU.
	runClaim(t, 2, []claimCase{
		{"2 and 4", []*result.File{ft.WithEnv(ft.File("", ft.Echo("16", "", 2.07, 0, 0.07), ft.Echo("16", "oneshot", 4.0, 1, 1)), 750, nil)},
			Holds, []string{"level 2.07", "oneshot 4.00", "30% of a CPU"}},
		// Judged at the most connections both modes ran at: conns=16, where oneshot pays 3.1.
		{"oneshot 3 under load", []*result.File{
			ft.WithEnv(ft.File("level", ft.Echo("1", "", 3.04, 0, 1), ft.Echo("16", "", 2.07, 0, 0.07)), 750, nil),
			ft.File("oneshot", ft.Echo("1", "oneshot", 4.02, 1, 1), ft.Echo("16", "oneshot", 3.1, 1, 0.1)),
		}, Partly, []string{"conns=16: level 2.07", "oneshot 3.10 (epoll_ctl 1.00", "conns=1: 3.04 and 4.02", "oneshot outside"}},
		{"neither", []*result.File{ft.WithEnv(ft.File("", ft.Echo("4", "", 3, 0, 1), ft.Echo("4", "oneshot", 3, 0, 1)), 100, nil)},
			DoesNotHold, []string{"3% of a CPU"}},
		{"no oneshot", []*result.File{ft.File("", ft.Echo("16", "", 2.07, 0, 0.07))}, NotMeasured, []string{"no echo-proxy epoll oneshot series"}},
	})
}

func TestBatching(t *testing.T) {
	runClaim(t, 3, []claimCase{
		{"w + c/n", []*result.File{ft.BatchSweep(func(n float64) float64 { return 500 + 2000/n }, 10)}, Holds,
			[]string{"c 2.0µs", "w 500ns", "null syscall 1.0µs", "below epoll's from batch 2"}},
		// Falls from n=1 to n=8, but so noisily that c's interval reaches 0.
		{"falls, c uncertain", []*result.File{ft.BatchSweep(func(n float64) float64 { return 1000 + 100/n }, 900)}, Partly,
			[]string{"reaches 0", "falls"}},
		{"rises", []*result.File{ft.BatchSweep(func(n float64) float64 { return 1000 - 500/n }, 10)}, DoesNotHold, []string{"does not fall"}},
		{"two batch sizes", []*result.File{ft.File("", ft.CPUAt("uring", "1", 2000), ft.CPUAt("uring", "1", 2000), ft.CPUAt("uring", "4", 1000), ft.CPUAt("uring", "4", 1000))},
			NotMeasured, []string{"too short"}},
		{"no sweep", []*result.File{ft.File("", ft.CPUAt("uring", "1", 2000))}, NotMeasured, []string{"no io_uring batch sweep"}},
	})
}

func TestSQPoll(t *testing.T) {
	p1 := ft.Params("batch", "1", "depth", "32")
	pair := func(sqE, uE, cores float64) *result.File {
		return ft.File("", ft.Enters("uring", "small-file", p1, uE), ft.Enters("sqpoll", "small-file", p1, sqE), ft.Polling("small-file", p1, cores))
	}
	runClaim(t, 4, []claimCase{
		{"removed and burning", []*result.File{pair(0.03, 1, 0.9)}, Holds, []string{"sqpoll 0.03 io_uring_enter/op vs uring 1.00", "0.90 of a CPU"}},
		{"removed, idle thread", []*result.File{pair(0.03, 1, 0.1)}, Partly, []string{"under 0.5 of a CPU"}},
		{"kept, idle thread", []*result.File{pair(1.0, 1, 0.1)}, DoesNotHold, []string{"kept 100%"}},
		{"no uring beside", []*result.File{ft.File("", ft.Enters("sqpoll", "small-file", p1, 0.03))}, NotMeasured, []string{"no sqpoll series beside"}},
	})
}

func TestIdleMemory(t *testing.T) {
	runClaim(t, 5, []claimCase{
		{"buffer and multishot", []*result.File{ft.File("", ft.Idle("epoll", false, 100), ft.Idle("uring", false, 4196)), ft.File("ms", ft.Idle("uring", true, 80))},
			Holds, []string{"uring 4.1 KiB", "multishot 80 B", "epoll 100 B"}},
		{"multishot keeps it", []*result.File{ft.File("", ft.Idle("epoll", false, 100), ft.Idle("uring", false, 4196)), ft.File("ms", ft.Idle("uring", true, 4100))},
			Partly, []string{"multishot saves"}},
		{"no buffer cost", []*result.File{ft.File("", ft.Idle("epoll", false, 100), ft.Idle("uring", false, 200)), ft.File("ms", ft.Idle("uring", true, 150))},
			DoesNotHold, []string{"under 1.0 KiB"}},
		{"no multishot", []*result.File{ft.File("", ft.Idle("epoll", false, 100), ft.Idle("uring", false, 4196))}, NotMeasured, []string{"--multishot"}},
	})
}

func TestColdFiles(t *testing.T) {
	runClaim(t, 6, []claimCase{
		{"blocks and overlaps", []*result.File{ft.File("", ft.Cold("epoll", 15e3, 1.2), ft.Cold("uring", 900e3, 0.01))}, Holds,
			[]string{"uring 900.0k ops/s (32 in flight) vs epoll 15.0k", "60x", "1.20 context switches", "epoll 40%"}},
		{"blocks, no faster", []*result.File{ft.File("", ft.Cold("epoll", 15e3, 1.2), ft.Cold("uring", 18e3, 0.01))}, Partly, []string{"did not reach"}},
		{"hits", []*result.File{ft.File("", ft.Cold("epoll", 15e3, 0.01), ft.Cold("uring", 15e3, 0.01))}, DoesNotHold, []string{"seldom slept"}},
		{"warm only", []*result.File{ft.File("", ft.CPUAt("epoll", "1", 1000), ft.CPUAt("uring", "1", 1000))}, NotMeasured, []string{"--cache cold"}},
	})
}

func TestPolicy(t *testing.T) {
	ep := ft.Timed("epoll", "echo-proxy", ft.Params("conns", "16"), 1e5, 1000)
	runClaim(t, 7, []claimCase{
		{"refused, epoll left, sysctl there", []*result.File{ft.Denied("0", ep)}, Holds, []string{"EPERM", "sqpoll, uring not run", "epoll ran (100.0k ops/s)", "io_uring_disabled exists"}},
		{"refused, no sysctl", []*result.File{ft.Denied("absent", ep)}, Partly, []string{"no kernel.io_uring_disabled"}},
		{"epoll did not run", []*result.File{ft.Denied("absent")}, DoesNotHold, []string{"epoll did not run"}},
		{"io_uring allowed", []*result.File{ft.File("", ep)}, NotMeasured, []string{"sandbox --deny io_uring"}},
	})
}

func TestTracing(t *testing.T) {
	runClaim(t, 8, []claimCase{
		// The counts come from perf's io_uring tracepoints: perf sees the work that syscall tracing misses.
		{"batched", []*result.File{ft.File("", ft.Ring("uring", "1", 1, 1), ft.Ring("uring", "16", 1, 0.0625))}, Partly,
			[]string{"batch=16", "1.00 requests/op", "0.06 syscalls/op", "sees 6%", "io_uring tracepoints"}},
		{"one per syscall", []*result.File{ft.File("", ft.Ring("uring", "1", 1, 1))}, DoesNotHold, []string{"sees 100%"}},
		{"no ring events", []*result.File{ft.File("", ft.Enters("uring", "small-file", ft.Params("batch", "1"), 1))}, NotMeasured, []string{"io_uring's own events"}},
	})
}

func TestEvaluateNothing(t *testing.T) {
	fs := Evaluate()
	if len(fs) != 8 {
		t.Fatalf("%d findings, want 8", len(fs))
	}
	for i, f := range fs {
		if f.Verdict != NotMeasured || f.Why == "" || f.Claim != Claims[i] {
			t.Errorf("claim %d: %+v", i+1, f)
		}
	}
	if Measured(fs) {
		t.Error("Measured with nothing measured")
	}
}

func TestEvaluateAll(t *testing.T) {
	for i, f := range Evaluate(ft.All()...) {
		if f.Verdict == NotMeasured {
			t.Errorf("claim %d not measured: %s", i+1, f.Why)
		}
	}
}

func TestWriters(t *testing.T) {
	fs := Evaluate(ft.File("", ft.Cold("epoll", 15e3, 1.2), ft.Cold("uring", 900e3, 0.01)))
	fs[0].Figure = "a | b" // a pipe must not end a Markdown cell
	var tb, mb bytes.Buffer
	if err := WriteTable(&tb, fs); err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(tb.String(), "\n") {
		for _, v := range []Verdict{Holds, Partly, DoesNotHold, NotMeasured} {
			if strings.Contains(line, "  "+string(v)+"  ") {
				rows++
			}
		}
	}
	if rows != 8 {
		t.Errorf("%d verdict rows in the table, want 8:\n%s", rows, tb.String())
	}
	if err := WriteMarkdown(&mb, fs, "report/index.html"); err != nil {
		t.Fatal(err)
	}
	md := mb.String()
	if n := strings.Count(md, "\n"); n != 10 {
		t.Errorf("%d Markdown lines, want 10 (header, rule, 8 rows):\n%s", n, md)
	}
	for _, want := range []string{"[holds](report/index.html#wl-small-file)", `a \| b`, "| not measured |"} {
		if !strings.Contains(md, want) {
			t.Errorf("%q not in\n%s", want, md)
		}
	}
}
