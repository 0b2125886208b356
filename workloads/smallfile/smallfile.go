// Package smallfile is the small-file workload: --block-size reads, random or sequential, at --depth
// over --files files of --file-size opened once, from the page cache (or the disk with --direct).
// It answers "what does io_uring buy a storage engine that reads blocks of hot files".
package smallfile

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/units"
	"github.com/ringbench/ringbench/workloads"
	"github.com/ringbench/ringbench/workloads/dataset"
	"github.com/ringbench/ringbench/workloads/internal/filedrive"
	"golang.org/x/sys/unix"
)

// Defaults: one 256 MiB file read in 4 KiB blocks at random, fio's classic page-cache job.
const (
	DefaultFiles     = 1
	DefaultFileSize  = 256 << 20
	DefaultBlockSize = 4096
)

// Limits of --block-size: O_DIRECT needs blocks aligned to the logical sector (512 B everywhere), and one
// block is one buffer slot of the engine, --depth of them allocated (or registered) at once.
const (
	BlockAlign   = 512
	MaxBlockSize = 16 << 20
)

type workload struct{}

func init() { workloads.Register(workload{}) }

func (workload) Name() string { return "small-file" }

func (workload) Summary() string {
	return "random or sequential block reads of files opened once (default: 4 KiB random reads of one 256 MiB file in page cache)"
}

// withDefaults fills the settings left at zero with the workload's defaults.
func withDefaults(cfg workloads.Config) workloads.Config {
	cfg = filedrive.WithFileDefaults(cfg, DefaultFiles, DefaultFileSize)
	if cfg.BlockSize == 0 {
		cfg.BlockSize = DefaultBlockSize
	}
	return cfg
}

// UsesFlag implements workloads.Workload.
func (workload) UsesFlag(flag string) bool { return filedrive.UsesFlag(flag) }

// Validate implements workloads.Workload. Prepare checks the flags again.
func (workload) Validate(cfg workloads.Config) error { return validate(withDefaults(cfg)) }

func (workload) Prepare(ctx context.Context, cfg workloads.Config) (workloads.Prepared, error) {
	cfg = withDefaults(cfg)
	if err := validate(cfg); err != nil {
		return nil, err
	}
	files, err := filedrive.OpenFiles(ctx, cfg, dataset.Spec{Dir: cfg.Dir, Name: "small-file", Files: cfg.Files,
		FileSize: cfg.FileSize, Seed: cfg.Seed})
	if err != nil {
		return nil, err
	}
	p := &prepared{cfg: cfg, Files: files}
	if err := p.open(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func validate(cfg workloads.Config) error {
	if err := filedrive.CheckFileCounts(cfg); err != nil {
		return err
	}
	switch {
	case cfg.BlockSize < 0:
		return fmt.Errorf("--block-size %d: must be positive", cfg.BlockSize)
	case cfg.BlockSize%BlockAlign != 0:
		return fmt.Errorf("--block-size %d: must be a multiple of %d", cfg.BlockSize, BlockAlign)
	case cfg.BlockSize > MaxBlockSize:
		return fmt.Errorf("--block-size %d: at most %s", cfg.BlockSize, units.FormatSize(MaxBlockSize))
	case int64(cfg.BlockSize) > cfg.FileSize:
		return fmt.Errorf("--block-size %d is larger than --file-size %d", cfg.BlockSize, cfg.FileSize)
	}
	if err := filedrive.CheckPattern(cfg); err != nil {
		return err
	}
	if err := filedrive.CheckCache(cfg); err != nil {
		return err
	}
	if cfg.Direct && cfg.Mlock {
		return errors.New("--direct and --mlock together make no sense: O_DIRECT bypasses the page cache")
	}
	return filedrive.ValidateJobs(cfg, int64(cfg.BlockSize))
}

type prepared struct {
	cfg workloads.Config
	*filedrive.Files
	fds []int
}

func (p *prepared) open(ctx context.Context) error {
	flags := unix.O_RDONLY | unix.O_CLOEXEC
	if p.cfg.Direct {
		flags |= unix.O_DIRECT
	}
	for _, path := range p.Set.Paths {
		fd, err := unix.Open(path, flags, 0)
		if err != nil {
			if p.cfg.Direct && errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("--direct: %s does not support O_DIRECT: %w", path, err)
			}
			return fmt.Errorf("open %s: %w", path, err)
		}
		p.fds = append(p.fds, fd)
	}
	if p.cfg.Mlock {
		l, err := dataset.LockInMemory(p.Set.Paths)
		if err != nil {
			return err // LockInMemory names --mlock
		}
		p.Lock = l
	}
	return nil
}

func (p *prepared) Sample(ctx context.Context, spec workloads.SampleSpec) (result.Sample, error) {
	if err := p.Warm(ctx); err != nil {
		return result.Sample{}, err
	}
	cfg := p.cfg
	if spec.Config != nil {
		cfg = withDefaults(*spec.Config)
	}
	params := filedrive.CommonParams(cfg)
	params["bs"] = strconv.Itoa(cfg.BlockSize)
	params["pattern"] = cfg.Pattern
	filedrive.JobParams(params, cfg)
	if cfg.Direct {
		params["direct"] = "1"
	}
	in := filedrive.SampleInput{
		Workload: "small-file",
		Spec:     spec,
		Config:   backend.FileConfig{Options: cfg.Options, FDs: p.fds, BufSize: cfg.BlockSize},
		NewSource: func(job int) filedrive.Source {
			return newSource(cfg, p.Set.Paths, uint64(spec.Repeat), job, max(cfg.Jobs, 1))
		},
		Jobs:        cfg.Jobs,
		ShareSQPoll: cfg.SQShare,
		Params:      params,
		Locked:      p.Lock != nil,
		Cold:        p.cfg.Cache == workloads.CacheCold,
	}
	if !cfg.Direct {
		in.Residency = filedrive.ResidencyOf(p.Set.Paths)
	}
	return filedrive.RunSample(ctx, in)
}

func (p *prepared) Close() error {
	var errs []error
	for _, fd := range p.fds {
		errs = append(errs, unix.Close(fd))
	}
	p.fds = nil
	return p.Release(errs...)
}

// source generates block reads. With several I/O threads (--jobs), each has its own: random reads from
// an independent stream over the whole data set, sequential reads through a range of blocks of its own
// (thread i of n: blocks [i*total/n, (i+1)*total/n) of the files laid end to end), wrapping round in it.
type source struct {
	rng           filedrive.Rand
	paths         []string // file i is paths[i], for errors
	files         int
	blocksPerFile uint64
	bs            int64
	seq           bool
	first, blocks uint64 // seq: the thread's range of blocks
	nextBlock     uint64
	verify        bool
	seed          uint64
}

func newSource(cfg workloads.Config, paths []string, salt uint64, job, jobs int) *source {
	s := &source{
		rng:           filedrive.NewRand(filedrive.StreamSeed(cfg.Seed^(salt+1)*0x9e3779b97f4a7c15, job)),
		paths:         paths,
		files:         len(paths),
		blocksPerFile: uint64(cfg.FileSize / int64(cfg.BlockSize)),
		bs:            int64(cfg.BlockSize),
		seq:           cfg.Pattern == "seq",
		verify:        cfg.Verify,
		seed:          cfg.Seed,
	}
	s.first, s.blocks = filedrive.Share(s.blocksPerFile*uint64(s.files), job, jobs)
	return s
}

func (s *source) Fill(reqs []backend.Request) {
	for i := range reqs {
		var file int
		var block uint64
		if s.seq {
			n := s.first + s.nextBlock%s.blocks
			s.nextBlock++
			file, block = int(n/s.blocksPerFile), n%s.blocksPerFile
		} else {
			r := s.rng.Next()
			file = int((r >> 40) % uint64(s.files))
			block = (r & (1<<40 - 1)) % s.blocksPerFile
		}
		reqs[i] = backend.Request{Kind: backend.OpRead, File: int32(file), Offset: int64(block) * s.bs, Len: int32(s.bs)}
	}
}

func (s *source) Check(req *backend.Request, c *backend.Completion, buf []byte) error {
	if c.Res < 0 {
		return filedrive.ResError(fmt.Sprintf("read %s at offset %d", s.paths[req.File], req.Offset), c.Res)
	}
	if c.Res != req.Len {
		return fmt.Errorf("short read of %s at offset %d: %d of %d bytes", s.paths[req.File], req.Offset, c.Res, req.Len)
	}
	if s.verify {
		if err := dataset.Verify(buf[:c.Res], int(req.File), req.Offset, s.seed); err != nil {
			return fmt.Errorf("%s: %w", s.paths[req.File], err)
		}
	}
	return nil
}
