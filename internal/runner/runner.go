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
	f := &result.File{
		Schema: result.Schema, Version: result.Version, Started: time.Now().UTC(), Label: meta.Label,
		Command: meta.Command, Skipped: slices.Clone(plan.Skipped), Display: workloads.Display(),
		Config: result.Config{Count: plan.Count, Duration: result.Duration(plan.Duration), Warmup: result.Duration(plan.Warmup),
			Options: meta.Options},
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

	r := &run{plan: plan, cfg: plan.Config, f: f, prog: prog}
	r.cfg.Progress = prog.Status
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
	plan  *Plan
	cfg   workloads.Config
	f     *result.File
	prog  Progress
	meter *measure.Meter
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
	for _, w := range r.plan.Workloads {
		if ctx.Err() != nil {
			return nil
		}
		r.prog.Status(fmt.Sprintf("%s: preparing", w.Name()))
		p, err := w.Prepare(ctx, r.cfg)
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
	// Counters stay open from the first sample to the last: opening and closing them per sample costs
	// the kernel about half a second each time.
	r.meter = measure.New(measure.Options{CountSyscalls: r.plan.CountSyscalls, Hold: true})
	defer r.meter.Close()
	var errs []error
	for i, w := range r.plan.Workloads {
		if ctx.Err() != nil {
			break
		}
		if err := r.workload(ctx, w, prepared[i]); err != nil {
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

// isFlagError reports whether a workload's Prepare complained about a flag value (its message names it).
func isFlagError(err error) bool {
	return strings.HasPrefix(err.Error(), "--")
}

// workload warms each backend once, then takes plan.Count rounds of samples, one per backend per round.
// A backend that fails (or turns out not to support the workload) is left out of the rounds after.
func (r *run) workload(ctx context.Context, w workloads.Workload, prepared workloads.Prepared) error {
	// failed holds each backend left out: nil error when it was skipped as unsupported.
	failed := map[string]error{}
	fail := func(b backend.Backend, err error) {
		if errors.Is(err, backend.ErrNotSupported) {
			r.f.Skipped = append(r.f.Skipped, result.Skip{Backend: b.Name(), Workload: w.Name(), Reason: err.Error()})
			if r.plan.Named {
				r.notRun = append(r.notRun, fmt.Errorf("--backend %s cannot run %s here: %w", b.Name(), w.Name(), err))
			}
			err = nil
		}
		failed[b.Name()] = err
	}
	if r.plan.Warmup > 0 {
		for _, b := range r.plan.Backends {
			if ctx.Err() != nil {
				return nil
			}
			r.prog.Status(fmt.Sprintf("%s on %s: warm-up", w.Name(), b.Name()))
			if _, err := prepared.Sample(ctx, workloads.SampleSpec{Backend: b, Duration: r.plan.Warmup, Warmup: true}); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				fail(b, err)
			}
		}
	}
	for round := 0; round < r.plan.Count; round++ {
		for _, b := range r.plan.Backends {
			if ctx.Err() != nil {
				return nil
			}
			if _, out := failed[b.Name()]; out {
				continue
			}
			r.prog.Status(fmt.Sprintf("%s on %s: sample %d/%d", w.Name(), b.Name(), round+1, r.plan.Count))
			s, err := prepared.Sample(ctx, workloads.SampleSpec{Backend: b, Duration: r.plan.Duration, Repeat: round, Meter: r.meter})
			r.prog.Step()
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				fail(b, err)
				continue
			}
			if ctx.Err() != nil && s.Seconds < r.plan.Duration.Seconds() {
				s.Warnings = append(s.Warnings, result.Warn(result.WarnInterrupted, "interrupted: cut short after %.3gs of %v", s.Seconds, r.plan.Duration))
			}
			r.f.Samples = append(r.f.Samples, s)
		}
	}
	var errs []error
	for _, b := range r.plan.Backends {
		if err := failed[b.Name()]; err != nil {
			errs = append(errs, fmt.Errorf("%s on %s: %w", w.Name(), b.Name(), err))
		}
	}
	return errors.Join(errs...)
}
