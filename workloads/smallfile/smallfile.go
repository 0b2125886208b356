// Package smallfile is the small-file workload: --block-size reads, random or sequential, at --depth
// over --files files of --file-size opened once, from the page cache (or the disk with --direct).
// It answers "what does io_uring buy a storage engine that reads blocks of hot files".
package smallfile

import (
	"errors"
	"fmt"
	"strconv"

	backend "github.com/ringbench/ringbench/backends"
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

func init() {
	workloads.Register(filedrive.NewWorkload(filedrive.Spec{
		Name:     "small-file",
		Summary:  "random or sequential block reads of files opened once (default: 4 KiB random reads of one 256 MiB file in page cache)",
		Files:    DefaultFiles,
		FileSize: DefaultFileSize,
		Defaults: func(cfg workloads.Config) workloads.Config {
			if cfg.BlockSize == 0 {
				cfg.BlockSize = DefaultBlockSize
			}
			return cfg
		},
		Validate: validate,
		Open:     open,
	}))
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

// sampler reads the data set through descriptors opened once, by Prepare.
type sampler struct {
	*filedrive.Files
	fds []int
}

func open(cfg workloads.Config, files *filedrive.Files) (filedrive.Sampler, error) {
	p := &sampler{Files: files}
	flags := unix.O_RDONLY | unix.O_CLOEXEC
	if cfg.Direct {
		flags |= unix.O_DIRECT
	}
	if cfg.NoAtime {
		flags |= unix.O_NOATIME
	}
	for _, path := range p.Set.Paths {
		fd, err := unix.Open(path, flags, 0)
		if err != nil {
			p.Close()
			if cfg.Direct && errors.Is(err, unix.EINVAL) {
				return nil, fmt.Errorf("--direct: %s does not support O_DIRECT: %w", path, err)
			}
			if cfg.NoAtime && errors.Is(err, unix.EPERM) {
				return nil, fmt.Errorf("--noatime: %s: O_NOATIME needs the file's owner (or CAP_FOWNER): %w", path, err)
			}
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		p.fds = append(p.fds, fd)
	}
	return p, nil
}

func (p *sampler) Input(cfg workloads.Config, spec workloads.SampleSpec, in *filedrive.SampleInput) {
	in.Params["bs"] = strconv.Itoa(cfg.BlockSize)
	in.Params["pattern"] = cfg.Pattern
	if cfg.Direct {
		in.Params["direct"] = "1"
	}
	if cfg.NoAtime {
		in.Params["noatime"] = "1"
	}
	in.Config = backend.FileConfig{Options: cfg.Options, FDs: p.fds, BufSize: cfg.BlockSize}
	in.NewSource = func(job int) filedrive.Source {
		return newSource(cfg, p.Set.Paths, uint64(spec.Repeat), job, max(cfg.Jobs, 1))
	}
}

func (p *sampler) Close() error {
	var errs []error
	for _, fd := range p.fds {
		errs = append(errs, unix.Close(fd))
	}
	p.fds = nil
	return errors.Join(errs...)
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
