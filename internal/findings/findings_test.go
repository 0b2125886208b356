package findings

import (
	"bytes"
	"strings"
	"testing"

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
		{"mitigated near 700", []*result.File{withEnv(file(""), 800, mitigationsOn)}, Holds, []string{"800ns", "meltdown", "mitigations=off"}},
		{"mitigated but cheap", []*result.File{withEnv(file(""), 150, mitigationsOn)}, DoesNotHold, []string{"150ns", "not within"}},
		{"plain near 230 and mitigated far from 700", []*result.File{withEnv(file("a"), 2000, mitigationsOn), withEnv(file("b"), 250, mitigationsOff)},
			Partly, []string{"2.0µs", "250ns"}},
		{"no syscall cost", []*result.File{withEnv(file(""), 0, mitigationsOn)}, NotMeasured, []string{"env.syscall_ns"}},
		{"no mitigations recorded", []*result.File{withEnv(file(""), 500, nil)}, NotMeasured, []string{"env.mitigations"}},
	})
}

func TestEpollSyscalls(t *testing.T) {
	// 4 syscalls × 750 ns × 100k/s = 30% of a CPU.
	runClaim(t, 2, []claimCase{
		{"2 and 4", []*result.File{withEnv(file("", echo("16", "", 2.07, 0, 0.07), echo("16", "oneshot", 4.0, 1, 1)), 750, nil)},
			Holds, []string{"edge 2.07", "oneshot 4.00", "30% of a CPU"}},
		// Judged at the most connections both modes ran at: conns=16, where oneshot pays 3.1.
		{"oneshot 3 under load", []*result.File{
			withEnv(file("edge", echo("1", "", 3.04, 0, 1), echo("16", "", 2.07, 0, 0.07)), 750, nil),
			file("oneshot", echo("1", "oneshot", 4.02, 1, 1), echo("16", "oneshot", 3.1, 1, 0.1)),
		}, Partly, []string{"conns=16: edge 2.07", "oneshot 3.10 (epoll_ctl 1.00", "conns=1: 3.04 and 4.02", "oneshot outside"}},
		{"neither", []*result.File{withEnv(file("", echo("4", "", 3, 0, 1), echo("4", "oneshot", 3, 0, 1)), 100, nil)},
			DoesNotHold, []string{"3% of a CPU"}},
		{"no oneshot", []*result.File{file("", echo("16", "", 2.07, 0, 0.07))}, NotMeasured, []string{"no echo-proxy epoll oneshot series"}},
	})
}

// sweep is a batch sweep of small-file: epoll flat at 2 µs, uring at cpu(n) with a ±d spread.
func sweep(cpu func(n float64) float64, d float64) *result.File {
	f := file("batch")
	for _, n := range []string{"1", "2", "4", "8"} {
		var x float64
		switch n {
		case "1":
			x = 1
		case "2":
			x = 2
		case "4":
			x = 4
		default:
			x = 8
		}
		f.Samples = append(f.Samples, cpuAt("uring", n, cpu(x)-d), cpuAt("uring", n, cpu(x)+d),
			cpuAt("epoll", n, 1990), cpuAt("epoll", n, 2010))
	}
	return withEnv(f, 1000, mitigationsOn)
}

func TestBatching(t *testing.T) {
	runClaim(t, 3, []claimCase{
		{"w + c/n", []*result.File{sweep(func(n float64) float64 { return 500 + 2000/n }, 10)}, Holds,
			[]string{"c 2.0µs", "w 500ns", "null syscall 1.0µs", "below epoll's from batch 2"}},
		// Falls from n=1 to n=8, but so noisily that c's interval reaches 0.
		{"falls, c uncertain", []*result.File{sweep(func(n float64) float64 { return 1000 + 100/n }, 900)}, Partly,
			[]string{"reaches 0", "falls"}},
		{"rises", []*result.File{sweep(func(n float64) float64 { return 1000 - 500/n }, 10)}, DoesNotHold, []string{"does not fall"}},
		{"two batch sizes", []*result.File{file("", cpuAt("uring", "1", 2000), cpuAt("uring", "1", 2000), cpuAt("uring", "4", 1000), cpuAt("uring", "4", 1000))},
			NotMeasured, []string{"too short"}},
		{"no sweep", []*result.File{file("", cpuAt("uring", "1", 2000))}, NotMeasured, []string{"no io_uring batch sweep"}},
	})
}

func TestSQPoll(t *testing.T) {
	p1 := params("batch", "1", "depth", "32")
	pair := func(sqE, uE, cores float64) *result.File {
		return file("", enters("uring", "small-file", p1, uE), enters("sqpoll", "small-file", p1, sqE), polling("small-file", p1, cores))
	}
	runClaim(t, 4, []claimCase{
		{"removed and burning", []*result.File{pair(0.03, 1, 0.9)}, Holds, []string{"sqpoll 0.03 io_uring_enter/op vs uring 1.00", "0.90 of a CPU"}},
		{"removed, idle thread", []*result.File{pair(0.03, 1, 0.1)}, Partly, []string{"under 0.5 of a CPU"}},
		{"kept, idle thread", []*result.File{pair(1.0, 1, 0.1)}, DoesNotHold, []string{"kept 100%"}},
		{"no uring beside", []*result.File{file("", enters("sqpoll", "small-file", p1, 0.03))}, NotMeasured, []string{"no sqpoll series beside"}},
	})
}

func TestIdleMemory(t *testing.T) {
	runClaim(t, 5, []claimCase{
		{"buffer and multishot", []*result.File{file("", idle("epoll", false, 100), idle("uring", false, 4196)), file("ms", idle("uring", true, 80))},
			Holds, []string{"uring 4.1 KiB", "multishot 80 B", "epoll 100 B"}},
		{"multishot keeps it", []*result.File{file("", idle("epoll", false, 100), idle("uring", false, 4196)), file("ms", idle("uring", true, 4100))},
			Partly, []string{"multishot saves"}},
		{"no buffer cost", []*result.File{file("", idle("epoll", false, 100), idle("uring", false, 200)), file("ms", idle("uring", true, 150))},
			DoesNotHold, []string{"under 1.0 KiB"}},
		{"no multishot", []*result.File{file("", idle("epoll", false, 100), idle("uring", false, 4196))}, NotMeasured, []string{"--multishot"}},
	})
}

func TestColdFiles(t *testing.T) {
	runClaim(t, 6, []claimCase{
		{"blocks and overlaps", []*result.File{file("", cold("epoll", 15e3, 1.2), cold("uring", 900e3, 0.01))}, Holds,
			[]string{"uring 900.0k ops/s (32 in flight) vs epoll 15.0k", "60x", "1.20 context switches", "epoll 40%"}},
		{"blocks, no faster", []*result.File{file("", cold("epoll", 15e3, 1.2), cold("uring", 18e3, 0.01))}, Partly, []string{"did not reach"}},
		{"hits", []*result.File{file("", cold("epoll", 15e3, 0.01), cold("uring", 15e3, 0.01))}, DoesNotHold, []string{"seldom slept"}},
		{"warm only", []*result.File{file("", cpuAt("epoll", "1", 1000), cpuAt("uring", "1", 1000))}, NotMeasured, []string{"--cache cold"}},
	})
}

func TestPolicy(t *testing.T) {
	ep := timed("epoll", "echo-proxy", params("conns", "16"), 1e5, 1000)
	runClaim(t, 7, []claimCase{
		{"refused, epoll left, sysctl there", []*result.File{denied("0", ep)}, Holds, []string{"EPERM", "sqpoll, uring not run", "epoll ran (100.0k ops/s)", "io_uring_disabled exists"}},
		{"refused, no sysctl", []*result.File{denied("absent", ep)}, Partly, []string{"no kernel.io_uring_disabled"}},
		{"epoll did not run", []*result.File{denied("absent")}, DoesNotHold, []string{"epoll did not run"}},
		{"io_uring allowed", []*result.File{file("", ep)}, NotMeasured, []string{"sandbox --deny io_uring"}},
	})
}

func TestTracing(t *testing.T) {
	runClaim(t, 8, []claimCase{
		// The counts come from perf's io_uring tracepoints: perf sees the work that syscall tracing misses.
		{"batched", []*result.File{file("", ring("uring", "1", 1, 1), ring("uring", "16", 1, 0.0625))}, Partly,
			[]string{"batch=16", "1.00 requests/op", "0.06 syscalls/op", "sees 6%", "io_uring tracepoints"}},
		{"one per syscall", []*result.File{file("", ring("uring", "1", 1, 1))}, DoesNotHold, []string{"sees 100%"}},
		{"no ring events", []*result.File{file("", enters("uring", "small-file", params("batch", "1"), 1))}, NotMeasured, []string{"io_uring's own events"}},
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

func TestWriters(t *testing.T) {
	fs := Evaluate(file("", cold("epoll", 15e3, 1.2), cold("uring", 900e3, 0.01)))
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
