package filedrive

import (
	"context"

	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/workloads"
	"github.com/ringbench/ringbench/workloads/dataset"
)

// Spec is what a file workload says of itself; NewWorkload makes a workloads.Workload of it, doing what
// every file workload does the same way.
type Spec struct {
	Name, Summary string
	// Files and FileSize are the defaults of --files and --file-size.
	Files    int
	FileSize int64
	// FilesPerDir lays the data set out (dataset.Spec.FilesPerDir).
	FilesPerDir int
	// Defaults, when set, fills the workload's own settings left at zero, after WithFileDefaults.
	Defaults func(workloads.Config) workloads.Config
	// Validate checks a config with its defaults filled in (workloads.Workload.Validate).
	Validate func(workloads.Config) error
	// Open readies the workload on its data set, for a validated config; --mlock locks the files after it.
	Open func(cfg workloads.Config, files *Files) (Sampler, error)
}

// Sampler is a file workload ready to sample its data set.
type Sampler interface {
	// Input fills in the workload's own part of a sample's input (Config, NewSource, its own Params) for
	// cfg, the sample's config; Files.SampleInput filled in the rest.
	Input(cfg workloads.Config, spec workloads.SampleSpec, in *SampleInput)
	// Close releases what Open opened; the data set is released after it.
	Close() error
}

// Workload is a file workload: a workloads.Workload made by NewWorkload.
type Workload struct{ s Spec }

// NewWorkload returns the file workload s describes.
func NewWorkload(s Spec) Workload { return Workload{s} }

// Name implements workloads.Workload.
func (w Workload) Name() string { return w.s.Name }

// Summary implements workloads.Workload.
func (w Workload) Summary() string { return w.s.Summary }

// UsesFlag implements workloads.Workload.
func (Workload) UsesFlag(flag string) bool { return UsesFlag(flag) }

// Validate implements workloads.Workload. Prepare checks the flags again.
func (w Workload) Validate(cfg workloads.Config) error { return w.s.Validate(w.withDefaults(cfg)) }

// withDefaults fills the settings left at zero with the workload's defaults.
func (w Workload) withDefaults(cfg workloads.Config) workloads.Config {
	cfg = WithFileDefaults(cfg, w.s.Files, w.s.FileSize)
	if w.s.Defaults != nil {
		cfg = w.s.Defaults(cfg)
	}
	return cfg
}

// Prepare implements workloads.Workload: it opens the data set (creating what is missing), the workload on
// it, and locks the files in memory with --mlock.
func (w Workload) Prepare(ctx context.Context, cfg workloads.Config) (workloads.Prepared, error) {
	cfg = w.withDefaults(cfg)
	if err := w.s.Validate(cfg); err != nil {
		return nil, err
	}
	files, err := OpenFiles(ctx, cfg, dataset.Spec{Dir: cfg.Dir, Name: w.s.Name, Files: cfg.Files,
		FileSize: cfg.FileSize, FilesPerDir: w.s.FilesPerDir, Seed: cfg.Seed})
	if err != nil {
		return nil, err
	}
	s, err := w.s.Open(cfg, files)
	if err != nil {
		_ = files.Release()
		return nil, err
	}
	p := &prepared{w: w, cfg: cfg, files: files, s: s}
	if cfg.Mlock {
		if files.Lock, err = dataset.LockInMemory(files.Set.Paths); err != nil {
			p.Close()
			return nil, err // LockInMemory names --mlock
		}
	}
	return p, nil
}

type prepared struct {
	w     Workload
	cfg   workloads.Config
	files *Files
	s     Sampler
}

func (p *prepared) Sample(ctx context.Context, spec workloads.SampleSpec) (result.Sample, error) {
	if err := p.files.Warm(ctx); err != nil {
		return result.Sample{}, err
	}
	cfg := p.cfg
	if spec.Config != nil {
		cfg = p.w.withDefaults(*spec.Config)
	}
	in := p.files.SampleInput(p.w.s.Name, cfg, spec)
	p.s.Input(cfg, spec, &in)
	return RunSample(ctx, in)
}

func (p *prepared) Close() error { return p.files.Release(p.s.Close()) }
