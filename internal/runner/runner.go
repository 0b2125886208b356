package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/fingerprint"
	"github.com/ringbench/ringbench/internal/measure"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/workloads"
	"github.com/ringbench/ringbench/workloads/dataset"
)

// Meta is what the result file records about the invocation besides the plan.
type Meta struct {
	Label   string
	Command []string
	// Options are the flags as given (result.Config.Options).
	Options         map[string]string
	Version, Commit string
}

// Progress hears how a run goes.
type Progress interface {
	// Status says what is being done now, in a short line.
	Status(string)
	// Step says one measured sample is done (or failed).
	Step()
}

type noProgress struct{}

func (noProgress) Status(string) {}
func (noProgress) Step()         {}

// Run carries out plan and returns the result file, never nil: its samples, the backends skipped and why,
// the environment and the run's warnings. When ctx ends, Run stops at the next sample boundary (a sample
// in flight is cut short and says so), closes what it prepared and returns what was measured with
// Interrupted set; the file may then hold no sample. The error joins every failure: each backend that
// failed on a workload fails alone, the others still measured; an error matching ErrBadInput is the
// user's flags' doing. A backend that this kernel or its limits turn out not to support on a workload
// (ErrNotSupported) is recorded in Skipped; when the plan's backends were named, that is also an error,
// matching ErrUnavailable only when nothing else failed (see unavailable).
func Run(ctx context.Context, plan *Plan, meta Meta, prog Progress) (*result.File, error) {
	if prog == nil {
		prog = noProgress{}
	}
	if len(plan.Sweeps) != len(plan.Workloads) { // a Plan not made by NewPlan: its one point is its Config
		plan.Sweeps = make([]WorkloadSweep, len(plan.Workloads))
		for i := range plan.Sweeps {
			plan.Sweeps[i].Points = []workloads.Config{plan.Config}
		}
	}
	f := &result.File{
		Schema: result.Schema, Version: result.Version, Started: time.Now().UTC(), Label: meta.Label,
		Command: meta.Command, Skipped: slices.Clone(plan.Skipped), Display: workloads.Display(),
		Config: result.Config{Count: plan.Count, Duration: result.Duration(plan.Duration), Warmup: result.Duration(plan.Warmup),
			Options: meta.Options, Sweep: plan.resultSweep()},
	}
	for _, b := range plan.Backends {
		f.Config.Backends = append(f.Config.Backends, b.Name())
	}
	for _, w := range plan.Workloads {
		f.Config.Workloads = append(f.Config.Workloads, w.Name())
	}
	f.Env = fingerprint.Collect(fingerprint.Options{Version: meta.Version, Commit: meta.Commit, DataDir: plan.Config.Dir})
	// Conditions of one backend (SQPOLL without a core of its own) are the engine's to report, per sample.
	if f.Env.Virt.Emulated {
		f.Warnings = append(f.Warnings, result.Warning{Kind: result.WarnEmulated, Text: "emulated CPU: performance figures are not comparable with native runs"})
	}

	r := &run{plan: plan, f: f, prog: prog}
	err := r.all(ctx)
	f.Finished = time.Now().UTC()
	if ctx.Err() != nil {
		f.Interrupted = true
		f.Warnings = append(f.Warnings, result.Warning{Kind: result.WarnInterrupted, Text: "interrupted: fewer samples than asked for"})
	}
	return f, err
}

// run is one Run in progress.
type run struct {
	plan *Plan
	f    *result.File
	prog Progress
	// timed measures the timed samples: no syscall counter open (see samplePhases).
	timed *measure.Meter
	// held measures every counted sample when the run takes no timed ones: its counters stay open.
	held *measure.Meter
	// notRun are the named backends skipped as unsupported on a workload (Plan.Named).
	notRun []error
}

// all prepares every workload first (data sets, servers), so that a data set that cannot be made (a full
// --dir, say) stops the run before anything is measured; then it samples each workload in turn. What was
// prepared is closed (data sets removed unless --keep) in every case, interruption included.
func (r *run) all(ctx context.Context) (err error) {
	prepared := make([]workloads.Prepared, 0, len(r.plan.Workloads))
	defer func() {
		for i, p := range prepared {
			if cerr := p.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("%s: cleaning up: %w", r.plan.Workloads[i].Name(), cerr)
			}
		}
	}()
	for i, w := range r.plan.Workloads {
		if ctx.Err() != nil {
			return nil
		}
		r.prog.Status(fmt.Sprintf("%s: preparing", w.Name()))
		// Prepared once for all the workload's points (WorkloadSweep.prepareConfig).
		cfg := r.plan.Sweeps[i].prepareConfig()
		cfg.Progress = r.prog.Status
		p, err := w.Prepare(ctx, cfg)
		if err != nil {
			if ctx.Err() != nil {
				if errors.Is(err, dataset.ErrPartialLeft) { // the user must hear what stays in --dir
					return fmt.Errorf("%s: %w", w.Name(), err)
				}
				return nil
			}
			if isFlagError(err) {
				return marked{fmt.Errorf("%s: %w", w.Name(), err), ErrBadInput}
			}
			return fmt.Errorf("%s: %w", w.Name(), err)
		}
		prepared = append(prepared, p)
	}
	notCounted := ""
	if r.plan.CountSyscalls {
		notCounted = "timed sample: syscalls are counted in the counted samples (tracepoints off while timing)"
	}
	r.timed = measure.New(measure.Options{NotCounted: notCounted})
	if r.plan.CountSyscalls && !r.plan.Timed {
		r.held = measure.New(measure.Options{CountSyscalls: true, Hold: true})
		defer r.held.Close()
	}
	var errs []error
	for i, w := range r.plan.Workloads {
		if ctx.Err() != nil {
			break
		}
		if err := r.workload(ctx, w, &r.plan.Sweeps[i], prepared[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return r.unavailable(errors.Join(errs...))
}

// unavailable adds to failed (the run's failures) the named backends that could not run a workload here:
// alone they make an error matching ErrUnavailable (`run` exits 3); beside a real failure they are only
// reported, and the failure decides (exit 1).
func (r *run) unavailable(failed error) error {
	if len(r.notRun) == 0 {
		return failed
	}
	notRun := errors.Join(r.notRun...)
	if failed != nil {
		return errors.Join(failed, notRun)
	}
	return marked{notRun, ErrUnavailable}
}

// phase is one kind of sample within a round: the Meter its samples use, made for the phase and released
// after it.
type phase struct {
	kind  string
	meter func() *measure.Meter
	done  func(*measure.Meter)
}

// samplePhases are the phases of one round: timed samples (unless the plan takes counted ones only), then
// counted ones when syscalls are counted.
//
// A syscall tracepoint costs every syscall on the machine as long as any perf event on it exists, even a
// disabled one (`ringbench probe` measures it): so the timed phase runs with no counter open at all, and
// the counted phase opens the process's counters once for all its samples (Meter Hold) and closes them
// after. Closing is the expensive part (an RCU grace period per tracepoint, about 35 ms each, half a second
// with the default breakdown), so it happens once per round, not once per sample.
func (r *run) samplePhases() []phase {
	var phases []phase
	if r.plan.Timed {
		phases = append(phases, phase{kind: result.KindTimed, meter: func() *measure.Meter { return r.timed }, done: func(*measure.Meter) {}})
	}
	switch {
	case r.held != nil:
		phases = append(phases, phase{kind: result.KindCounted, meter: func() *measure.Meter { return r.held }, done: func(*measure.Meter) {}})
	case r.plan.CountSyscalls:
		phases = append(phases, phase{kind: result.KindCounted,
			meter: func() *measure.Meter { return measure.New(measure.Options{CountSyscalls: true, Hold: true}) },
			done:  func(m *measure.Meter) { m.Close() }})
	}
	return phases
}

// isFlagError reports whether a workload's Prepare complained about a flag value (its message names it).
func isFlagError(err error) bool {
	return strings.HasPrefix(err.Error(), "--")
}

// series is one point on one backend.
type series struct {
	point int
	b     backend.Backend
}

// workload warms each backend once at each of the workload's points (ws), then takes plan.Count rounds of samples: in each round
// one timed sample per point and backend (ABCABC across them), then (when syscalls are counted) one
// counted sample per point and backend, with counters opened for the counted phase and closed again before
// the next round's timed phase (see samplePhases). A series that fails (or turns out not to support the
// workload) is left out of the rounds after.
func (r *run) workload(ctx context.Context, w workloads.Workload, ws *WorkloadSweep, prepared workloads.Prepared) error {
	var all []series
	for i := range ws.Points {
		for _, b := range r.plan.Backends {
			all = append(all, series{i, b})
		}
	}
	swept := len(ws.Axes) > 0
	// name is the series' workload and point, for messages: "small-file" or "small-file (batch=4)".
	name := func(sr series) string {
		if !swept {
			return w.Name()
		}
		return fmt.Sprintf("%s (%s)", w.Name(), ws.PointString(sr.point))
	}
	spec := func(sr series, s workloads.SampleSpec) workloads.SampleSpec {
		s.Backend = sr.b
		if swept {
			pt := ws.Points[sr.point]
			s.Config = &pt
		}
		return s
	}
	// failed holds each series left out: nil error when it was skipped as unsupported.
	failed := map[series]error{}
	fail := func(sr series, err error) {
		if errors.Is(err, backend.ErrNotSupported) {
			reason := err.Error()
			if swept {
				reason = fmt.Sprintf("%s: %s", ws.PointString(sr.point), reason)
			}
			r.f.Skipped = append(r.f.Skipped, result.Skip{Backend: sr.b.Name(), Workload: w.Name(), Reason: reason})
			if r.plan.Named {
				r.notRun = append(r.notRun, fmt.Errorf("--backend %s cannot run %s here: %w", sr.b.Name(), name(sr), err))
			}
			err = nil
		}
		failed[sr] = err
	}
	if r.plan.Warmup > 0 {
		for _, sr := range all {
			if ctx.Err() != nil {
				return nil
			}
			r.prog.Status(fmt.Sprintf("%s on %s: warm-up", name(sr), sr.b.Name()))
			if _, err := prepared.Sample(ctx, spec(sr, workloads.SampleSpec{Duration: r.plan.Warmup, Warmup: true})); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				fail(sr, err)
			}
		}
	}
	for round := 0; round < r.plan.Count; round++ {
		for _, ph := range r.samplePhases() {
			meter := ph.meter()
			for _, sr := range all {
				if ctx.Err() != nil {
					break
				}
				if _, out := failed[sr]; out {
					continue
				}
				r.prog.Status(fmt.Sprintf("%s on %s: %s sample %d/%d", name(sr), sr.b.Name(), ph.kind, round+1, r.plan.Count))
				// Only timed samples are series: ops/s and p99 are timing figures, untrue under counters.
				var every time.Duration
				if ph.kind == result.KindTimed {
					every = r.plan.Interval
				}
				s, err := prepared.Sample(ctx, spec(sr, workloads.SampleSpec{Duration: r.plan.Duration, Interval: every,
					Repeat: round, Meter: meter}))
				r.prog.Step()
				if err == nil {
					err = ws.addPointParams(sr.point, &s)
				}
				if err != nil {
					if ctx.Err() == nil {
						fail(sr, err)
					}
					continue
				}
				s.Kind = ph.kind
				if ctx.Err() != nil && s.Seconds < r.plan.Duration.Seconds() {
					s.Warnings = append(s.Warnings, result.Warn(result.WarnInterrupted, "interrupted: cut short after %.3gs of %v", s.Seconds, r.plan.Duration))
				}
				r.f.Samples = append(r.f.Samples, s)
			}
			ph.done(meter)
			if ctx.Err() != nil {
				return nil
			}
		}
	}
	var errs []error
	for _, sr := range all {
		if err := failed[sr]; err != nil {
			errs = append(errs, fmt.Errorf("%s on %s: %w", name(sr), sr.b.Name(), err))
		}
	}
	return errors.Join(errs...)
}
