package filedrive

import (
	"context"
	"errors"
	"fmt"

	"github.com/ringbench/ringbench/workloads"
	"github.com/ringbench/ringbench/workloads/dataset"
)

// WithFileDefaults fills the settings every file workload shares and left at zero: --files, --file-size
// (the workload's defaults) and --pattern (rand).
func WithFileDefaults(cfg workloads.Config, files int, fileSize int64) workloads.Config {
	if cfg.Files == 0 {
		cfg.Files = files
	}
	if cfg.FileSize == 0 {
		cfg.FileSize = fileSize
	}
	if cfg.Pattern == "" {
		cfg.Pattern = "rand"
	}
	return cfg
}

// CheckFileCounts checks --files and --file-size, the first checks of every file workload.
func CheckFileCounts(cfg workloads.Config) error {
	switch {
	case cfg.Files < 0:
		return fmt.Errorf("--files %d: must be at least 1", cfg.Files)
	case cfg.FileSize < 0:
		return fmt.Errorf("--file-size %d: must be positive", cfg.FileSize)
	}
	return nil
}

// CheckPattern checks --pattern.
func CheckPattern(cfg workloads.Config) error {
	if cfg.Pattern != "rand" && cfg.Pattern != "seq" {
		return fmt.Errorf("--pattern %q: want rand or seq", cfg.Pattern)
	}
	return nil
}

// Files is the data set a file workload reads from Prepare to Close, and its memory lock (--mlock).
type Files struct {
	Set  *dataset.Set
	Lock *dataset.Lock // nil without --mlock
	cfg  workloads.Config
}

// OpenFiles opens the data set spec describes (creating what is missing), reporting progress through
// cfg.Progress.
func OpenFiles(ctx context.Context, cfg workloads.Config, spec dataset.Spec) (*Files, error) {
	var prog func(done, total int)
	if cfg.Progress != nil {
		prog = func(done, total int) { cfg.Progress(fmt.Sprintf("creating data set: %d/%d files", done, total)) }
	}
	set, err := dataset.Open(ctx, spec, prog)
	if err != nil {
		return nil, err
	}
	return &Files{Set: set, cfg: cfg}, nil
}

// Warm brings the files into the page cache before a sample (the page cache here drops pages idle for
// about a minute), unless they are locked there or read with O_DIRECT.
func (f *Files) Warm(ctx context.Context) error {
	if f.cfg.Direct || f.Lock != nil {
		return nil
	}
	if err := dataset.Warm(ctx, f.Set.Paths); err != nil {
		return fmt.Errorf("warming the page cache: %w", err)
	}
	return nil
}

// Release unlocks the files and keeps the data set for the next run (--keep) or removes it; errs, the
// workload's own errors from closing, are joined first.
func (f *Files) Release(errs ...error) error {
	if f.Lock != nil {
		errs = append(errs, f.Lock.Unlock())
	}
	if f.cfg.Keep {
		// Kept for the next run: mark it kept, release the set's descriptor and shared lock, delete nothing.
		errs = append(errs, f.Set.Keep())
	} else {
		errs = append(errs, f.Set.Remove())
	}
	return errors.Join(errs...)
}
