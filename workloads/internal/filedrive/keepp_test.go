package filedrive

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/workloads"
)

// recordingBackend is a real backend that also records the FileConfig.KeepP of every engine it makes.
type recordingBackend struct {
	backend.Backend
	mu    sync.Mutex
	keepP []bool
}

func (b *recordingBackend) NewFileEngine(cfg backend.FileConfig) (backend.FileEngine, error) {
	b.mu.Lock()
	b.keepP = append(b.keepP, cfg.KeepP)
	b.mu.Unlock()
	return b.Backend.NewFileEngine(cfg)
}

// TestIOThreadsKeepTheirPOnlyWithOneToSpare: the I/O threads may keep their P in syscalls (KeepP) only
// while the process has more Ps than I/O threads, so that the rest of the process always has one.
func TestIOThreadsKeepTheirPOnlyWithOneToSpare(t *testing.T) {
	_, fd := openData(t, 1<<20)
	epoll, err := backend.Lookup("epoll")
	if err != nil {
		t.Fatal(err)
	}
	procs := runtime.GOMAXPROCS(0)
	for _, jobs := range slices.Compact([]int{1, procs - 1, procs, procs + 1}) {
		if jobs < 1 {
			continue
		}
		b := &recordingBackend{Backend: epoll}
		_, err := RunSample(context.Background(), SampleInput{
			Workload: "small-file", Spec: workloads.SampleSpec{Backend: b, Duration: 20 * time.Millisecond, Warmup: true},
			Config:    backend.FileConfig{Options: backend.Options{Depth: 4, Batch: 2, SQCPU: -1}, FDs: []int{fd}, BufSize: 4096},
			NewSource: func(int) Source { return &fileSource{blocks: 256} },
			Jobs:      jobs,
		})
		if err != nil {
			t.Fatalf("%d jobs: %v", jobs, err)
		}
		want := jobs < procs
		if len(b.keepP) != jobs || slices.Contains(b.keepP, !want) {
			t.Errorf("%d jobs, GOMAXPROCS %d: engines made with KeepP %v, want %d times %v", jobs, procs, b.keepP, jobs, want)
		}
	}
}
