// Package findings turns result files into answers: for each of eight common claims about io_uring and
// epoll (what a syscall costs, how many an epoll server makes, what batching and SQPOLL buy, what idle
// connections and cold files cost, what policy and tracing tools see), what was measured here, and whether
// the claim holds on this machine. Evaluate works on any set of result files: a claim whose series are
// absent is "not measured", with why. `ringbench findings` runs the smallest set of runs that tests all
// eight, and the report opens with the table.
package findings

import (
	"strconv"
	"strings"

	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/series"
)

// Verdict is what the measurements say of a claim.
type Verdict string

// The verdicts.
const (
	Holds       Verdict = "holds"
	Partly      Verdict = "partly holds"
	DoesNotHold Verdict = "does not hold"
	NotMeasured Verdict = "not measured"
)

// Finding is one claim and what was measured of it.
type Finding struct {
	// Claim is the claim as it is commonly made.
	Claim string
	// Figure is what was measured here, in short, with numbers; "" when nothing was.
	Figure  string
	Verdict Verdict
	// Why says why the claim was not measured, or the reasoning behind the verdict.
	Why string
	// Anchor is the id of the report's section or chart that shows the figure (index.html#Anchor).
	Anchor string
}

// Claims are the claims, in the order Evaluate answers them.
var Claims = []string{
	"a syscall costs ~230 ns without CPU-vulnerability mitigations and ~700 ns with them",
	"an epoll server pays 2 syscalls per request, 4 with EPOLLONESHOT re-arming; at 100k req/s that is up to 30% of a CPU",
	"io_uring divides the per-operation cost from (s + w) to w + (s + t)/n for a batch of n",
	"SQPOLL removes submit syscalls but burns a core",
	"a pre-posted buffer per idle connection costs memory; multishot receive with a provided-buffer ring removes it",
	"epoll cannot make regular-file reads asynchronous (a page-cache miss blocks the loop); io_uring can",
	"io_uring can be disabled by policy (sysctl, seccomp), and then only epoll is left",
	"strace and perf miss io_uring's work",
}

// Report anchors the findings point at: report's section ids, and "wl-" + workload for a workload's
// section (report.slug of the plain workload names is the name itself).
const (
	AnchorEnvironment = "environment"
	AnchorCostModel   = "costmodel"
	AnchorWarnings    = "warnings"
	anchorWorkload    = "wl-"
)

// Evaluate answers every claim from the valid samples of files taken together, one Finding per claim in
// the order of Claims.
func Evaluate(files ...*result.File) []Finding {
	d := newData(files)
	out := []Finding{
		syscallCost(d), epollSyscalls(d), batching(d), sqpoll(d), idleMemory(d), coldFiles(d), policy(d), tracing(d),
	}
	for i := range out {
		out[i].Claim = Claims[i]
	}
	return out
}

// Measured reports whether any finding has a verdict other than not measured.
func Measured(fs []Finding) bool {
	for _, f := range fs {
		if f.Verdict != NotMeasured {
			return true
		}
	}
	return false
}

// data is the files' valid samples grouped into series, each file its own set (so that two runs of the
// same series, say edge and oneshot epoll, stay apart), in file order.
type data struct {
	files  []*result.File
	series []*series.Series
	// syscallNs is the lowest of the files' null-syscall costs: other work on the machine (a busy
	// neighbour, a hypervisor taking the CPU away) only ever adds to a probe's figure.
	syscallNs float64
}

func newData(files []*result.File) data {
	d := data{files: files}
	for _, f := range files {
		if v := f.Env.SyscallNs; v > 0 && (d.syscallNs == 0 || v < d.syscallNs) {
			d.syscallNs = v
		}
	}
	var srcs []series.Source
	for i, f := range files {
		valid, _ := series.Valid(f.Samples)
		srcs = append(srcs, series.Source{Set: strconv.Itoa(i), Samples: valid})
	}
	d.series = series.Group(srcs...)
	return d
}

// verdictOf is holds when every judged part holds, does not hold when none does, partly holds otherwise.
func verdictOf(parts ...bool) Verdict {
	n := 0
	for _, p := range parts {
		if p {
			n++
		}
	}
	switch n {
	case len(parts):
		return Holds
	case 0:
		return DoesNotHold
	}
	return Partly
}

// judged is f with its figure, the verdict of parts (see verdictOf) and the reasons whys.
func (f Finding) judged(figure string, parts []bool, whys []string) Finding {
	f.Figure, f.Verdict, f.Why = figure, verdictOf(parts...), strings.Join(whys, "; ")
	return f
}

// either is yes when ok holds, else no: the words a reason says a judged part with.
func either(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}
