package filedrive

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/ringbench/ringbench/workloads"
	"github.com/ringbench/ringbench/workloads/dataset"
)

// WithFileDefaults fills the settings every file workload shares and left at zero: --files, --file-size
// (the workload's defaults) and --pattern (rand).
func WithFileDefaults(cfg workloads.Config, files int, fileSize int64) workloads.Config {
	cfg.Files = cmp.Or(cfg.Files, files)
	cfg.FileSize = cmp.Or(cfg.FileSize, fileSize)
	cfg.Pattern = cmp.Or(cfg.Pattern, "rand")
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

// Magic numbers (statfs f_type) of file systems whose pages live only in memory: they cannot drop a
// file's pages, so --cache cold cannot empty them.
const (
	tmpfsMagic = 0x01021994
	ramfsMagic = 0x858458f6
)

// CheckCache checks what --cache cold needs of a file workload: not --mlock (which keeps the data set in
// memory), and a --dir whose file system can drop pages. --direct is accepted: O_DIRECT reads bypass the
// page cache anyway, so cold changes nothing there but the eviction before each sample. A --dir that
// cannot be looked at is left to the --dir checks.
func CheckCache(cfg workloads.Config) error {
	switch cfg.Cache {
	case "", workloads.CacheWarm:
		return nil
	case workloads.CacheCold:
	default:
		return fmt.Errorf("--cache %q: want warm or cold", cfg.Cache)
	}
	if cfg.Mlock {
		return errors.New("--cache cold and --mlock together make no sense: --mlock keeps the data set in the page cache")
	}
	var st unix.Statfs_t
	if cfg.Dir != "" && unix.Statfs(cfg.Dir, &st) == nil {
		switch int64(st.Type) {
		case tmpfsMagic:
			return fmt.Errorf("--dir %s is on tmpfs, whose files live in memory: --cache cold has no page cache to empty there; give a --dir on a disk", cfg.Dir)
		case ramfsMagic:
			return fmt.Errorf("--dir %s is on ramfs, whose files live in memory: --cache cold has no page cache to empty there; give a --dir on a disk", cfg.Dir)
		}
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

// Warm sets the page cache up for a sample as --cache asks. Warm (the default) brings the files into the
// page cache (the page cache here drops pages idle for about a minute), unless they are locked there or
// read with O_DIRECT. Cold evicts them (fdatasync, POSIX_FADV_DONTNEED), so that every read goes to the
// device; RunSample checks with mincore that it took (SampleInput.Cold).
func (f *Files) Warm(ctx context.Context) error {
	if f.cfg.Cache == workloads.CacheCold {
		if err := dataset.Evict(f.Set.Paths); err != nil {
			return fmt.Errorf("--cache cold: emptying the page cache: %w", err)
		}
		return ctx.Err()
	}
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

// SampleInput returns the input of a sample of these files for cfg, the sample's config, with what every
// file workload fills in the same way: the common and --jobs params, the jobs, --sq-share, whether the
// files are locked or evicted, and their residency (none for O_DIRECT reads). The workload adds the rest.
func (f *Files) SampleInput(workload string, cfg workloads.Config, spec workloads.SampleSpec) SampleInput {
	params := CommonParams(cfg)
	JobParams(params, cfg)
	in := SampleInput{
		Workload:    workload,
		Spec:        spec,
		Jobs:        cfg.Jobs,
		ShareSQPoll: cfg.SQShare,
		Params:      params,
		Locked:      f.Lock != nil,
		Cold:        f.cfg.Cache == workloads.CacheCold,
	}
	if !cfg.Direct {
		in.Residency = ResidencyOf(f.Set.Paths)
	}
	return in
}
