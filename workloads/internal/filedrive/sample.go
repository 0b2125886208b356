package filedrive

import (
	"context"
	"fmt"
	"strconv"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/measure"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/workloads"
	"github.com/ringbench/ringbench/workloads/dataset"
)

// ResidencyFloor is the page-cache residency below which a buffered run is reported as having read from
// disk: its figures then measure the disk, not the kernel's I/O path.
const ResidencyFloor = 0.99

// SampleInput describes one file-workload sample.
type SampleInput struct {
	Workload string
	Spec     workloads.SampleSpec
	Config   backend.FileConfig
	// NewSource returns a fresh request source for the sample.
	NewSource func() Source
	Params    map[string]string
	// Residency returns the page-cache residency of the data set (0..1); nil for O_DIRECT runs.
	Residency func() (float64, error)
	Locked    bool
}

// RunSample runs one sample (or a warm-up) on a fresh engine on its own locked thread, bracketed by the
// kernel counters, and returns it with every figure filled in.
func RunSample(ctx context.Context, in SampleInput) (result.Sample, error) {
	b := in.Spec.Backend
	if !in.Spec.Warmup && in.Spec.Meter == nil {
		return result.Sample{}, workloads.ErrNoMeter
	}
	s := result.Sample{Backend: b.Name(), Workload: in.Workload, Params: in.Params, Repeat: in.Spec.Repeat, EntersPerOp: -1}
	var res *result.Residency
	if in.Residency != nil {
		before, err := in.Residency()
		if err != nil {
			return s, fmt.Errorf("page-cache residency: %w", err)
		}
		res = &result.Residency{Before: before, Locked: in.Locked}
	}
	var tot Totals
	var counters backend.EngineCounters
	var warnings []backend.Warning
	err := OnLockedThread(func(tid int) error {
		eng, err := b.NewFileEngine(in.Config)
		if err != nil {
			return fmt.Errorf("%s: %w", b.Name(), err)
		}
		var span *measure.Span
		if !in.Spec.Warmup {
			if span, err = in.Spec.Meter.Begin(measure.Scope{BackendTIDs: []int{tid}}); err != nil {
				eng.Close()
				return err
			}
			defer span.Close()
		}
		before := eng.Counters()
		every := in.Spec.Interval
		if in.Spec.Warmup {
			every = 0
		}
		tot, err = DriveEvery(ctx, eng, in.Config.Options, in.Spec.Duration, every, in.NewSource())
		after := eng.Counters()
		if span != nil {
			if merr := span.End(tot.Ops, &s); merr != nil && err == nil {
				err = merr
			}
		}
		if w, ok := eng.(backend.Warner); ok {
			warnings = w.Warnings()
		}
		counters = backend.EngineCounters{Enters: after.Enters - before.Enters,
			SubmitEnters: after.SubmitEnters - before.SubmitEnters, WaitEnters: after.WaitEnters - before.WaitEnters}
		if after.Enters < 0 {
			counters.Enters = -1
		}
		if cerr := eng.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: close: %w", b.Name(), cerr)
		}
		return err
	})
	if err != nil {
		return s, err
	}
	s.Seconds, s.Ops, s.Bytes = tot.Seconds, tot.Ops, tot.Bytes
	if tot.Seconds > 0 {
		s.OpsPerSec = float64(tot.Ops) / tot.Seconds
		s.BytesPerSec = float64(tot.Bytes) / tot.Seconds
	}
	s.Latency = result.LatencyFrom(tot.Hist)
	s.Intervals = tot.Intervals
	if counters.Enters >= 0 && tot.Ops > 0 {
		s.EntersPerOp = float64(counters.Enters) / float64(tot.Ops)
	}
	for _, w := range warnings {
		s.Warnings = append(s.Warnings, result.Warning(w))
	}
	if res != nil {
		after, err := in.Residency()
		if err != nil {
			return s, fmt.Errorf("page-cache residency: %w", err)
		}
		res.After = after
		s.Residency = res
		if low := min(res.Before, res.After); low < ResidencyFloor {
			s.Warnings = append(s.Warnings, result.Warn(result.WarnLowResidency,
				"PAGE CACHE NOT RESIDENT: only %.1f%% of the data set was cached (before %.1f%%, after %.1f%%): reads went to disk; use --mlock",
				100*low, 100*res.Before, 100*res.After))
			s.Invalid = &result.Warning{Kind: result.WarnLowResidency, Text: fmt.Sprintf(
				"page cache below %.0f%% resident (lowest %.1f%%): reads went to disk", 100*ResidencyFloor, 100*low)}
		}
	}
	if tot.Ops == 0 {
		return s, fmt.Errorf("%s: no operation completed in %v", b.Name(), in.Spec.Duration)
	}
	return s, nil
}

// CommonParams are the parameters every file sample carries, so that series line up across backends.
func CommonParams(cfg workloads.Config) map[string]string {
	return map[string]string{
		"depth": strconv.Itoa(cfg.Options.Depth),
		"batch": strconv.Itoa(cfg.Options.Batch),
	}
}

// Rand is xorshift64*: a few instructions per number, no allocation, no lock.
type Rand struct{ s uint64 }

// NewRand seeds the generator (0 is replaced: xorshift never leaves zero).
func NewRand(seed uint64) Rand {
	if seed == 0 {
		seed = 0x9e3779b97f4a7c15
	}
	return Rand{s: seed}
}

// Next returns the next 64-bit number.
func (r *Rand) Next() uint64 {
	r.s ^= r.s >> 12
	r.s ^= r.s << 25
	r.s ^= r.s >> 27
	return r.s * 2685821657736338717
}

// ResidencyOf returns a SampleInput.Residency for the files at paths: the fraction of their pages in the
// page cache (0 for an empty set).
func ResidencyOf(paths []string) func() (float64, error) {
	return func() (float64, error) {
		r, t, err := dataset.Residency(paths)
		if err != nil || t == 0 {
			return 0, err
		}
		return float64(r) / float64(t), nil
	}
}
