package filedrive

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/clock"
	"github.com/ringbench/ringbench/internal/cpuset"
	"github.com/ringbench/ringbench/internal/interval"
	"github.com/ringbench/ringbench/internal/measure"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/units"
	"github.com/ringbench/ringbench/workloads"
	"github.com/ringbench/ringbench/workloads/dataset"
	"golang.org/x/sys/unix"
)

// ResidencyFloor is the page-cache residency below which a buffered run is reported as having read from
// disk: its figures then measure the disk, not the kernel's I/O path.
const ResidencyFloor = 0.99

// ColdCeiling is the page-cache residency above which a cold sample (--cache cold) is invalid: the
// eviction did not take, so part of its reads were served from memory.
const ColdCeiling = 0.01

// SampleInput describes one file-workload sample.
type SampleInput struct {
	Workload string
	Spec     workloads.SampleSpec
	Config   backend.FileConfig
	// NewSource returns a fresh request source for I/O thread job (0 <= job < Jobs) of the sample; each
	// thread has its own, so the loops share nothing.
	NewSource func(job int) Source
	// Jobs is the number of I/O threads (--jobs; 0 means 1), each with its own engine, buffers and source.
	Jobs int
	// ShareSQPoll gives the rings of every thread one SQPOLL thread, the first ring's (--sq-share; sqpoll
	// only), instead of one poll thread per ring.
	ShareSQPoll bool
	Params      map[string]string
	// Residency returns the page-cache residency of the data set (0..1); nil for O_DIRECT runs.
	Residency func() (float64, error)
	Locked    bool
	// Cold says the data set was evicted before the sample (--cache cold): its residency at the start must
	// be at most ColdCeiling, and ResidencyFloor does not apply.
	Cold bool
}

// job is one I/O thread of a sample.
type job struct {
	tid      int
	eng      backend.FileEngine
	src      Source
	tot      Totals
	counters backend.EngineCounters
	warnings []backend.Warning
}

// RunSample runs one sample (or a warm-up) on Jobs fresh engines, each on its own locked OS thread (pinned
// to allowed[i % len(allowed)] when there are several), bracketed by the kernel counters, and returns it
// with every figure filled in: ops summed, latency histograms merged, syscalls counted over every I/O
// thread. Engines are set up one after another (so that each SQPOLL engine finds its own poll thread), the
// loops start together once all are ready and stop at one deadline, the sample's duration after the start;
// the first loop to fail stops the others.
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
	n := max(in.Jobs, 1)
	jobs, err := runJobs(ctx, in, n, &s)
	if err != nil {
		return s, err
	}

	var tot Totals
	enters := int64(0)
	seen := map[string]bool{}
	for i := range jobs {
		j := &jobs[i]
		tot.Ops += j.tot.Ops
		tot.Bytes += j.tot.Bytes
		tot.Seconds = max(tot.Seconds, j.tot.Seconds)
		if i == 0 {
			tot.Hist = j.tot.Hist
		} else {
			tot.Hist.Merge(j.tot.Hist)
		}
		if enters >= 0 && j.counters.Enters >= 0 {
			enters += j.counters.Enters
		} else {
			enters = -1
		}
		for _, w := range j.warnings {
			if !seen[w.Text] { // every engine of a sample may say the same thing
				seen[w.Text] = true
				s.Warnings = append(s.Warnings, result.Warning(w))
			}
		}
		if n > 1 {
			t := result.Thread{TID: j.tid, Seconds: j.tot.Seconds, Ops: j.tot.Ops, P99: j.tot.Hist.ValueAtQuantile(99)}
			if j.tot.Seconds > 0 {
				t.OpsPerSec = float64(j.tot.Ops) / j.tot.Seconds
			}
			s.Threads = append(s.Threads, t)
		}
	}
	s.Seconds, s.Ops, s.Bytes = tot.Seconds, tot.Ops, tot.Bytes
	if n == 1 {
		s.Intervals = jobs[0].tot.Intervals
	} else {
		series := make([][]result.Interval, 0, n)
		for i := range jobs {
			series = append(series, jobs[i].tot.Intervals)
		}
		s.Intervals = interval.Merge(series)
	}
	if tot.Seconds > 0 {
		s.OpsPerSec = float64(tot.Ops) / tot.Seconds
		s.BytesPerSec = float64(tot.Bytes) / tot.Seconds
	}
	s.Latency = result.LatencyFrom(tot.Hist)
	if enters >= 0 && tot.Ops > 0 {
		s.EntersPerOp = float64(enters) / float64(tot.Ops)
	}
	if res != nil {
		after, err := in.Residency()
		if err != nil {
			return s, fmt.Errorf("page-cache residency: %w", err)
		}
		res.After = after
		s.Residency = res
		switch low := min(res.Before, res.After); {
		case in.Cold:
			if res.Before > ColdCeiling {
				s.Warnings = append(s.Warnings, result.Warn(result.WarnNotCold,
					"PAGE CACHE NOT COLD: %.1f%% of the data set was still cached at the start of the sample (after %.1f%%): "+
						"pages locked or mapped, or another ringbench run reading the same data set (same --dir and data set flags) kept them",
					100*res.Before, 100*res.After))
				s.Invalid = &result.Warning{Kind: result.WarnNotCold, Text: fmt.Sprintf(
					"--cache cold: %.1f%% of the data set was cached at the start, more than %.0f%%", 100*res.Before, 100*ColdCeiling)}
			}
		case low < ResidencyFloor:
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

// runJobs sets up n engines, runs their loops together inside one measured span (filling s's kernel
// figures), closes the engines and returns what each job did.
func runJobs(ctx context.Context, in SampleInput, n int, s *result.Sample) ([]job, error) {
	b := in.Spec.Backend
	var cpus []int
	if n > 1 {
		cpus = cpuset.Allowed()
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	jobs := make([]job, n)
	ready := make(chan error)  // each job, once its engine is set up (or failed to be)
	driven := make(chan error) // each job, once its loop is done
	start := make(chan struct{})
	measured := make(chan struct{}) // closed once the span has ended: engines may close
	var abort atomic.Bool           // set before start is closed when a job could not be set up
	var deadline int64              // clock.Now() when every loop stops, set before start is closed
	exited := make(chan error, n)

	launch := func(i int) {
		go func() {
			exited <- OnLockedThread(func(tid int) error {
				j := &jobs[i]
				j.tid = tid
				cfg := in.Config
				cfg.KeepP = n < runtime.GOMAXPROCS(0)
				if in.ShareSQPoll && i > 0 {
					cfg.ShareSQPoll = jobs[0].eng
				}
				var err error
				if len(cpus) > 0 {
					if err = cpuset.PinThread(0, []int{cpus[i%len(cpus)]}); err != nil {
						err = fmt.Errorf("%s: pin I/O thread %d to CPU %d: %w", b.Name(), i, cpus[i%len(cpus)], err)
					}
				}
				if err == nil {
					if j.eng, err = b.NewFileEngine(cfg); err != nil {
						err = fmt.Errorf("%s: %w", b.Name(), err)
					}
				}
				if err == nil {
					j.src = in.NewSource(i)
				}
				ready <- err
				if err != nil {
					return nil // reported through ready
				}
				<-start
				if abort.Load() {
					return j.eng.Close()
				}
				before := j.eng.Counters()
				// Several loops stop at one deadline, however late each was woken, and each is charged the
				// whole window from the common start; one loop times its own window, as a sample always has.
				d := in.Spec.Duration
				if n > 1 {
					d = time.Duration(deadline - clock.Now())
				}
				every := in.Spec.Interval
				if in.Spec.Warmup {
					every = 0
				}
				j.tot, err = DriveEvery(ctx, j.eng, in.Config.Options, max(d, 0), every, j.src)
				if n > 1 {
					j.tot.Seconds = float64(clock.Now()-(deadline-int64(in.Spec.Duration))) / 1e9
				}
				after := j.eng.Counters()
				if err != nil {
					stop()
				}
				driven <- err
				<-measured
				if w, ok := j.eng.(backend.Warner); ok {
					j.warnings = w.Warnings()
				}
				j.counters = backend.EngineCounters{Enters: after.Enters - before.Enters,
					SubmitEnters: after.SubmitEnters - before.SubmitEnters, WaitEnters: after.WaitEnters - before.WaitEnters}
				if after.Enters < 0 {
					j.counters.Enters = -1
				}
				if cerr := j.eng.Close(); cerr != nil {
					return fmt.Errorf("%s: close: %w", b.Name(), cerr)
				}
				return nil
			})
		}()
	}
	// closeAll waits for the k launched jobs to exit, after releasing them.
	wait := func(k int, first error) error {
		errs := []error{first}
		for range k {
			errs = append(errs, <-exited)
		}
		return errors.Join(errs...)
	}

	// One after another: an SQPOLL engine finds its poll thread as the one that appeared while it was set
	// up, and a shared one needs the first ring to exist.
	for i := range n {
		launch(i)
		if err := <-ready; err != nil {
			abort.Store(true)
			close(start)
			return nil, wait(i+1, err)
		}
	}
	var span *measure.Span
	if !in.Spec.Warmup {
		tids := make([]int, n)
		ring := true // every engine submits through io_uring (Enters -1: no ring)
		for i := range jobs {
			ring = ring && jobs[i].eng.Counters().Enters >= 0
		}
		for i := range jobs {
			tids[i] = jobs[i].tid
			if o, ok := jobs[i].eng.(backend.OffThreadIO); ok && o.IOOffThread() {
				tids = nil // the I/O is not on the loops' threads: count the whole process
				break
			}
		}
		var err error
		if span, err = in.Spec.Meter.Begin(measure.Scope{BackendTIDs: tids, Ring: ring}); err != nil {
			abort.Store(true)
			close(start)
			return nil, wait(n, err)
		}
		defer span.Close()
	}
	deadline = clock.Now() + int64(in.Spec.Duration)
	close(start)
	var errs []error
	for range n {
		errs = append(errs, <-driven)
	}
	if span != nil {
		var ops int64
		for i := range jobs {
			ops += jobs[i].tot.Ops
		}
		errs = append(errs, span.End(ops, s))
	}
	close(measured)
	if err := wait(n, errors.Join(errs...)); err != nil {
		return nil, err
	}
	return jobs, nil
}

// UsesFlag is Workload.UsesFlag of the file workloads: of the flags that take a list, they read --depth,
// --batch and --jobs.
func UsesFlag(flag string) bool {
	return flag == "depth" || flag == "batch" || flag == "jobs"
}

// CommonParams are the parameters every file sample carries, so that series line up across backends.
func CommonParams(cfg workloads.Config) map[string]string {
	p := map[string]string{
		"depth": strconv.Itoa(cfg.Options.Depth),
		"batch": strconv.Itoa(cfg.Options.Batch),
	}
	if cfg.Cache == workloads.CacheCold {
		p["cache"] = workloads.CacheCold // warm is left out, so that warm series are those recorded before --cache
	}
	return p
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

// StreamSeed returns the seed of I/O thread job's random stream from a sample's seed: seed itself for
// thread 0 (so one thread draws what it always did), a splitmix64 step away for the others, so that
// threads draw independent streams rather than the same offsets.
func StreamSeed(seed uint64, job int) uint64 {
	if job == 0 {
		return seed
	}
	z := seed + uint64(job)*0x9e3779b97f4a7c15
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// Share returns I/O thread job's range of total items, [first, first+n), of jobs threads: contiguous,
// disjoint, and covering all of them. A thread left with none (more threads than items) shares the last
// item rather than having an empty range.
func Share(total uint64, job, jobs int) (first, n uint64) {
	lo, hi := total*uint64(job)/uint64(jobs), total*uint64(job+1)/uint64(jobs)
	if hi == lo {
		return min(lo, total-1), 1
	}
	return lo, hi - lo
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

// MaxJobs bounds --jobs: one OS thread, engine and set of buffers each.
const MaxJobs = 256

// ValidateJobs checks --jobs (0 means 1) and that jobs x depth buffers of bufSize bytes fit in half of
// this machine's memory: every thread allocates its own.
func ValidateJobs(cfg workloads.Config, bufSize int64) error {
	if cfg.Jobs < 0 || cfg.Jobs > MaxJobs {
		return fmt.Errorf("--jobs %d: want 1 to %d", cfg.Jobs, MaxJobs)
	}
	jobs := int64(max(cfg.Jobs, 1))
	need := jobs * int64(max(cfg.Options.Depth, 1)) * bufSize
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err == nil {
		if limit := int64(si.Totalram) * int64(si.Unit) / 2; need > limit {
			return fmt.Errorf("--jobs %d: %d threads x --depth %d buffers of %s is %s, more than half of this machine's memory (%s)",
				cfg.Jobs, jobs, cfg.Options.Depth, units.FormatSize(bufSize), units.FormatSize(need), units.FormatSize(2*limit))
		}
	}
	return nil
}

// JobParams adds the parameters of --jobs to a sample's params: jobs (and sqshare with --sq-share) when
// there are several threads, nothing for one, so that one-thread series are those recorded before --jobs.
func JobParams(params map[string]string, cfg workloads.Config) {
	if cfg.Jobs > 1 {
		params["jobs"] = strconv.Itoa(cfg.Jobs)
		if cfg.SQShare {
			params["sqshare"] = "1"
		}
	}
}
