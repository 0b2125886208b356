// Package manyfile is the many-file workload: a tree of --files small files; one operation opens a file,
// reads it whole and closes it. epoll and gostd make three syscalls per file; io_uring links
// OPENAT→READ→CLOSE on a fixed-file slot and submits --batch such chains per io_uring_enter.
package manyfile

import (
	"errors"
	"fmt"
	"strconv"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/workloads"
	"github.com/ringbench/ringbench/workloads/dataset"
	"github.com/ringbench/ringbench/workloads/internal/filedrive"
)

// Defaults: 10,000 files of 4 KiB, the shape of a source tree or a maildir.
const (
	DefaultFiles    = 10000
	DefaultFileSize = 4096
	// MaxFileSize bounds one read: a file is read whole into one buffer.
	MaxFileSize = 1 << 20
)

func init() {
	workloads.Register(filedrive.NewWorkload(filedrive.Spec{
		Name:        "many-file",
		Summary:     "open + read whole + close of many small files (default: 10,000 x 4 KiB)",
		Files:       DefaultFiles,
		FileSize:    DefaultFileSize,
		FilesPerDir: 1000,
		Validate:    validate,
		Open: func(_ workloads.Config, files *filedrive.Files) (filedrive.Sampler, error) {
			return sampler{files}, nil
		},
	}))
}

func validate(cfg workloads.Config) error {
	if err := filedrive.CheckFileCounts(cfg); err != nil {
		return err
	}
	if cfg.FileSize > MaxFileSize {
		return fmt.Errorf("--file-size %d: many-file reads each file whole, at most %d bytes", cfg.FileSize, MaxFileSize)
	}
	if err := filedrive.CheckPattern(cfg); err != nil {
		return err
	}
	if err := filedrive.CheckCache(cfg); err != nil {
		return err
	}
	if cfg.Direct {
		return errors.New("--direct: many-file reads through the page cache only")
	}
	if cfg.NoAtime {
		return errors.New("--noatime: small-file only (many-file opens its files on every read, through each backend)")
	}
	return filedrive.ValidateJobs(cfg, cfg.FileSize)
}

// sampler opens each file as it reads it, so it has nothing of its own to open or close.
type sampler struct{ *filedrive.Files }

func (p sampler) Input(cfg workloads.Config, spec workloads.SampleSpec, in *filedrive.SampleInput) {
	in.Params["files"] = strconv.Itoa(cfg.Files)
	in.Params["size"] = strconv.FormatInt(cfg.FileSize, 10)
	in.Params["pattern"] = cfg.Pattern
	in.Config = backend.FileConfig{Options: cfg.Options, BufSize: int(cfg.FileSize)}
	in.NewSource = func(job int) filedrive.Source {
		s := &source{rng: filedrive.NewRand(filedrive.StreamSeed(cfg.Seed^uint64(spec.Repeat+1)*0x9e3779b97f4a7c15, job)),
			paths: p.Set.PathsZ, size: int32(cfg.FileSize), seq: cfg.Pattern == "seq", verify: cfg.Verify, seed: cfg.Seed}
		first, n := filedrive.Share(uint64(len(s.paths)), job, max(cfg.Jobs, 1))
		s.first, s.n = int(first), int(n)
		return s
	}
}

func (sampler) Close() error { return nil }

// source generates open-read-close requests. With several I/O threads (--jobs), each has its own: random
// files from an independent stream over the whole set, or sequentially through a range of files of its
// own (thread i of n: files [i*total/n, (i+1)*total/n)), wrapping round in it.
type source struct {
	rng      filedrive.Rand
	paths    [][]byte
	size     int32
	seq      bool
	first, n int // seq: the thread's range of files
	next     int
	verify   bool
	seed     uint64
}

func (s *source) Fill(reqs []backend.Request) {
	for i := range reqs {
		var idx int
		if s.seq {
			idx = s.first + s.next
			s.next = (s.next + 1) % s.n
		} else {
			idx = int(s.rng.Next() % uint64(len(s.paths)))
		}
		reqs[i] = backend.Request{Kind: backend.OpOpenReadClose, File: int32(idx), Path: s.paths[idx], Len: s.size}
	}
}

func (s *source) Check(req *backend.Request, c *backend.Completion, buf []byte) error {
	if c.Res < 0 {
		return filedrive.ResError(fmt.Sprintf("open+read+close of %s", req.Path[:len(req.Path)-1]), c.Res)
	}
	if c.Res != s.size {
		return fmt.Errorf("short read of %s: %d of %d bytes", req.Path[:len(req.Path)-1], c.Res, s.size)
	}
	if s.verify {
		if err := dataset.Verify(buf[:c.Res], int(req.File), 0, s.seed); err != nil {
			return fmt.Errorf("%s: %w", req.Path[:len(req.Path)-1], err)
		}
	}
	return nil
}
