// Package runner is the orchestrator of `ringbench run`: a Plan says which workloads run on which backends
// with which configuration, how many samples of each pair and how long each is, and Run carries it out —
// every workload prepared first, each backend warmed up once per workload, then the samples interleaved
// across backends (ABCABC...) so that drift on a shared machine hits every backend alike, each round a
// timed sample of every backend (no syscall counter open) and then a counted one — and builds the
// result file, stopping cleanly (what was measured kept, marked interrupted) when its context ends.
package runner

import (
	"errors"
	"fmt"
	"slices"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/workloads"
)

// Limits on the samples of a run, shared by every command that takes samples (run, load).
const (
	MaxCount    = 1000      // --count: samples per backend and workload
	MaxDuration = time.Hour // --duration, --warmup
)

// ErrUnavailable marks a plan that cannot run on this kernel: a backend asked for by name that cannot run
// here, or no backend that can. `run` exits 3 for it.
var ErrUnavailable = errors.New("cannot run here")

// ErrBadInput marks a failure the user's flags caused and can fix (a data set too large for --dir), as
// opposed to a measurement that failed. `run` exits 2 for it.
var ErrBadInput = errors.New("bad input")

// marked is err, also matching mark with errors.Is, with err's message alone.
type marked struct{ err, mark error }

func (e marked) Error() string   { return e.err.Error() }
func (e marked) Unwrap() []error { return []error{e.err, e.mark} }

// Request is a run as asked for: workloads and backends by name ("all" alone for every one), and the rest
// of the flags, parsed.
type Request struct {
	Backends  []string
	Workloads []string
	Config    workloads.Config
	Count     int
	Duration  time.Duration
	Warmup    time.Duration
	// CountSyscalls takes counted samples besides the timed ones: syscalls counted with kernel tracepoints
	// (measure.Options.CountSyscalls).
	CountSyscalls bool
	// CountedOnly takes counted samples only (needs CountSyscalls): for gates on syscall counts alone.
	CountedOnly bool
	// Interval, when positive, records each timed sample as a series of this step (--interval).
	Interval time.Duration
	// Sweep are the flags given a list of values, in the order given: each workload's points are every
	// combination of the values of the flags it reads (Workload.UsesFlag), each point on each backend a
	// series. An axis of one value sets Config and is no sweep; an axis no workload reads is an error.
	Sweep []Axis
	// GenThreadsSame is `--gen-threads threads`: at each point the load generator gets as many threads as
	// the server's --threads (Config.GenThreads is set to Config.Threads).
	GenThreadsSame bool
	// Force allows more than MaxPoints points.
	Force bool
}

// Plan is a validated run.
type Plan struct {
	Backends []backend.Backend
	// Named is true when the backends were asked for by name rather than as "all": one of them that turns
	// out unable to run a workload here (ErrNotSupported at setup or while sampling) then fails the run
	// with ErrUnavailable instead of being skipped quietly.
	Named bool
	// Skipped are the backends of "all" that cannot run here, and why.
	Skipped       []result.Skip
	Workloads     []workloads.Workload
	Config        workloads.Config
	Count         int
	Duration      time.Duration
	Warmup        time.Duration
	CountSyscalls bool
	// Timed is whether rounds take timed samples; false only with Request.CountedOnly.
	Timed bool
	// Interval is Request.Interval.
	Interval time.Duration
	// Sweep are Request.Sweep's axes of two values or more, as the result file records them; Sweeps each
	// workload's share of them, in Workloads' order. Config is the first point of the whole product.
	Sweep  []Axis
	Sweeps []WorkloadSweep
}

// Points is the number of points of every workload together; the number of series is Points × backends.
func (p *Plan) Points() int {
	if len(p.Sweeps) == 0 {
		return len(p.Workloads)
	}
	n := 0
	for _, ws := range p.Sweeps {
		n += len(ws.Points)
	}
	return n
}

// Samples is the number of measured samples the plan takes (warm-ups not counted): per round one timed
// sample of each backend on each workload at each of its points, and as many counted ones when syscalls
// are counted.
func (p *Plan) Samples() int {
	kinds := 0
	if p.Timed {
		kinds++
	}
	if p.CountSyscalls {
		kinds++
	}
	return p.Points() * len(p.Backends) * p.Count * kinds
}

// NewPlan checks r without touching the disk or starting anything: the sample counts and lengths, each
// workload's own flags (its Validate) and whether each backend can run here. "all" backends means every
// runnable one, the others recorded as skipped; a sweep (Request.Sweep) makes every point of each workload,
// each validated alike, an error naming the point; a backend named explicitly that cannot run here is an
// error matching ErrUnavailable. Errors name the flag the user typed.
func NewPlan(r Request) (*Plan, error) {
	if err := CheckSamples(r.Count, r.Duration, r.Warmup); err != nil {
		return nil, err
	}
	if r.CountedOnly && !r.CountSyscalls {
		return nil, errors.New("--samples counted: needs --count-syscalls")
	}
	p := &Plan{Config: r.Config, Count: r.Count, Duration: r.Duration, Warmup: r.Warmup, CountSyscalls: r.CountSyscalls,
		Interval: r.Interval,
		Timed:    !r.CountedOnly}

	if len(r.Workloads) == 1 && r.Workloads[0] == "all" {
		p.Workloads = workloads.All()
	} else {
		for _, n := range r.Workloads {
			w, err := workloads.Lookup(n)
			if err != nil {
				return nil, fmt.Errorf("--workload: %w", err)
			}
			p.Workloads = append(p.Workloads, w)
		}
	}
	if len(p.Workloads) == 0 {
		return nil, errors.New("--workload: no workload")
	}
	if err := checkSweep(r.Sweep); err != nil {
		return nil, err
	}
	if err := p.sweep(r); err != nil {
		return nil, err
	}

	names := r.Backends
	all := len(names) == 1 && names[0] == "all"
	if all {
		names = backend.Names()
	}
	p.Named = !all
	for _, n := range names {
		b, err := backend.Lookup(n)
		if err != nil {
			return nil, fmt.Errorf("--backend: %w", err)
		}
		if aerr := b.Available(); aerr != nil {
			if !all {
				return nil, marked{fmt.Errorf("--backend %s cannot run here: %w (see `ringbench probe`)", n, aerr), ErrUnavailable}
			}
			p.Skipped = append(p.Skipped, result.Skip{Backend: n, Reason: aerr.Error()})
			continue
		}
		p.Backends = append(p.Backends, b)
	}
	if len(p.Backends) == 0 {
		return nil, marked{errors.New("no backend can run here (see `ringbench probe`)"), ErrUnavailable}
	}
	return p, nil
}

// sweep makes each workload's points (Plan.Sweeps) from r's axes and validates every one.
func (p *Plan) sweep(r Request) error {
	base := r.Config
	p.Sweep = oneValueAxes(&base, r.Sweep)
	if r.GenThreadsSame {
		if slices.ContainsFunc(p.Sweep, func(a Axis) bool { return a.Flag == "gen-threads" }) {
			return errors.New("--gen-threads: a list, or threads, not both")
		}
		base.GenThreads = base.Threads
	}
	n := 0
	for _, w := range p.Workloads {
		ws := workloadAxes(w, p.Sweep, r.GenThreadsSame)
		p.Sweeps = append(p.Sweeps, ws)
		n += pointCount(ws.Axes)
	}
	for _, a := range p.Sweep {
		if !slices.ContainsFunc(p.Workloads, func(w workloads.Workload) bool { return w.UsesFlag(a.Flag) }) {
			return unreadAxis(a, p.Workloads)
		}
	}
	if n > MaxPoints && !r.Force {
		return tooMany(p.Workloads, p.Sweeps, n)
	}
	for i := range p.Sweeps {
		p.Sweeps[i].Points = sweepPoints(base, p.Sweeps[i].Axes, r.GenThreadsSame)
	}
	p.Config = base
	for _, a := range p.Sweep {
		setAxis(&p.Config, a.Flag, a.Values[0])
	}
	if r.GenThreadsSame {
		p.Config.GenThreads = p.Config.Threads
	}
	for wi, w := range p.Workloads {
		ws := &p.Sweeps[wi]
		for i, pt := range ws.Points {
			if len(ws.Axes) > 0 {
				if err := pt.Options.Validate(); err != nil {
					return ws.pointError(i, err)
				}
			}
			if err := w.Validate(pt); err != nil {
				if len(ws.Axes) > 0 {
					return ws.pointError(i, fmt.Errorf("%s: %w", w.Name(), err))
				}
				return fmt.Errorf("%s: %w", w.Name(), err)
			}
		}
	}
	return nil
}

// CheckSamples checks --count, --duration and --warmup against MaxCount and MaxDuration.
func CheckSamples(count int, duration, warmup time.Duration) error {
	switch {
	case count < 1:
		return fmt.Errorf("--count %d: must be at least 1", count)
	case count > MaxCount:
		return fmt.Errorf("--count %d: at most %d", count, MaxCount)
	case duration <= 0:
		return fmt.Errorf("--duration %v: must be positive", duration)
	case duration > MaxDuration:
		return fmt.Errorf("--duration %v: at most %s", duration, shortDuration(MaxDuration))
	case warmup < 0 || warmup > MaxDuration:
		return fmt.Errorf("--warmup %v: must be between 0 and %s", warmup, shortDuration(MaxDuration))
	}
	return nil
}

// shortDuration prints 1h, not 1h0m0s.
func shortDuration(d time.Duration) string {
	if d%time.Hour == 0 {
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}
