package filedrive

import (
	"context"
	"os"
	"testing"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/workloads"
	"golang.org/x/sys/unix"
)

// TestSampleBelowTheResidencyFloorIsInvalid: a sample of a file the page cache has dropped (fsync, then
// POSIX_FADV_DONTNEED) read from disk and is marked invalid with the reason; the same file fully cached
// gives a valid sample.
func TestSampleBelowTheResidencyFloorIsInvalid(t *testing.T) {
	path, fd := openData(t, 1<<20)
	b, err := backend.Lookup("epoll")
	if err != nil {
		t.Fatal(err)
	}
	sample := func() result.Sample {
		t.Helper()
		s, err := RunSample(context.Background(), SampleInput{
			Workload: "small-file", Spec: workloads.SampleSpec{Backend: b, Duration: 20 * time.Millisecond, Warmup: true},
			Config:    backend.FileConfig{Options: backend.Options{Depth: 4, Batch: 2, SQCPU: -1}, FDs: []int{fd}, BufSize: 4096},
			NewSource: func(int) Source { return &fileSource{blocks: 256} },
			Residency: ResidencyOf([]string{path}),
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	if err := unix.Fsync(fd); err != nil {
		t.Fatal(err)
	}
	if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
	s := sample()
	if s.Invalid == nil || s.Invalid.Kind != result.WarnLowResidency || s.Residency == nil || s.Residency.Before >= ResidencyFloor {
		t.Fatalf("evicted data set: invalid %+v, residency %+v: want invalid, low-residency", s.Invalid, s.Residency)
	}

	if _, err := os.ReadFile(path); err != nil { // the whole file into the page cache
		t.Fatal(err)
	}
	if s := sample(); s.Invalid != nil {
		t.Fatalf("cached data set: invalid %+v (residency %+v)", s.Invalid, s.Residency)
	}
}
