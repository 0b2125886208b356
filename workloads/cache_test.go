package workloads_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/workloads"
	"github.com/ringbench/ringbench/workloads/dataset"
	"golang.org/x/sys/unix"
)

const tmpfsMagic = 0x01021994

// evictableDir returns a directory for data sets on a file system that can drop pages (not tmpfs), or
// skips the test.
func evictableDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if int64(st.Type) == tmpfsMagic {
		t.Skipf("TMPDIR %s is tmpfs: its pages cannot be evicted, so a cold cache cannot be tested there (set TMPDIR to a disk)", dir)
	}
	return dir
}

// cacheSample prepares wname with --cache cache on an evictable --dir and returns one warm-up sample on
// epoll (warm-ups go through the same eviction or warming as measured samples).
func cacheSample(t *testing.T, wname, cache string, prep func(dir string)) result.Sample {
	t.Helper()
	ctx := context.Background()
	cfg := fileConfig()
	cfg.Dir, cfg.Cache, cfg.FileSize = evictableDir(t), cache, 256<<10
	p, err := lookup(t, wname).Prepare(ctx, cfg)
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	defer func() {
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	if prep != nil {
		prep(cfg.Dir)
	}
	b := epollBackend(t)
	s, err := sampleSome(ctx, t, p, workloads.SampleSpec{Backend: b, Duration: sampleDuration, Warmup: true})
	if err != nil {
		t.Fatalf("sample: %v", err)
	}
	return s
}

// TestColdCacheSampleStartsEvicted: with --cache cold each file workload's sample starts with at most 1%
// of its data set in the page cache (the figure recorded in the sample), is valid (the 99% rule of warm
// samples does not apply) and carries cache=cold; warm, the same sample starts above 99% and carries no
// cache parameter.
func TestColdCacheSampleStartsEvicted(t *testing.T) {
	for _, wname := range fileWorkloads {
		t.Run(wname, func(t *testing.T) {
			s := cacheSample(t, wname, workloads.CacheCold, nil)
			if s.Residency == nil || s.Residency.Before > 0.01 {
				t.Errorf("cold: residency %+v, want at most 1%% at the start", s.Residency)
			}
			if s.Invalid != nil {
				t.Errorf("cold: sample marked invalid: %+v", s.Invalid)
			}
			if s.Params["cache"] != "cold" {
				t.Errorf("cold: params %v, want cache=cold", s.Params)
			}

			s = cacheSample(t, wname, workloads.CacheWarm, nil)
			if s.Residency == nil || s.Residency.Before < 0.99 {
				t.Errorf("warm: residency %+v, want above 99%% at the start", s.Residency)
			}
			if _, ok := s.Params["cache"]; ok || s.Invalid != nil {
				t.Errorf("warm: params %v, invalid %+v: want no cache parameter and a valid sample", s.Params, s.Invalid)
			}
		})
	}
}

// TestColdCacheKeptPagesMakeTheSampleInvalid: pages the eviction cannot drop (here locked by a mapping of
// the data set, as another process could hold them) leave the cold sample above 1% resident: it is marked
// invalid, kind not-cold, with a warning that says why.
func TestColdCacheKeptPagesMakeTheSampleInvalid(t *testing.T) {
	var lock *dataset.Lock
	defer func() {
		if lock != nil {
			lock.Unlock()
		}
	}()
	s := cacheSample(t, "small-file", workloads.CacheCold, func(dir string) {
		paths, err := filepath.Glob(filepath.Join(dir, "ringbench-small-file-*", "*", "f*"))
		if err != nil || len(paths) == 0 {
			t.Fatalf("data set files in %s: %v %v", dir, paths, err)
		}
		if lock, err = dataset.LockInMemory(paths); err != nil {
			t.Skipf("cannot lock the data set in memory here: %v", err)
		}
	})
	if s.Invalid == nil || s.Invalid.Kind != result.WarnNotCold || s.Residency == nil || s.Residency.Before <= 0.01 {
		t.Fatalf("locked pages: invalid %+v, residency %+v: want invalid, kind %s", s.Invalid, s.Residency, result.WarnNotCold)
	}
	warned := false
	for _, w := range s.Warnings {
		warned = warned || (w.Kind == result.WarnNotCold && strings.Contains(w.Text, "another ringbench run"))
	}
	if !warned {
		t.Errorf("warnings %+v: want a not-cold warning naming the likely causes", s.Warnings)
	}
}

// TestColdCacheRefusals: --cache cold is refused by each file workload's Validate with --mlock and on a
// --dir on tmpfs (naming --dir), and by CheckCache for echo-proxy alone; a bad value names the flag.
func TestColdCacheRefusals(t *testing.T) {
	for _, wname := range fileWorkloads {
		cfg := fileConfig()
		cfg.Cache, cfg.Mlock = workloads.CacheCold, true
		if err := lookup(t, wname).Validate(cfg); err == nil || !strings.Contains(err.Error(), "--mlock") {
			t.Errorf("%s: --cache cold --mlock: %v, want refused naming --mlock", wname, err)
		}
		cfg.Cache, cfg.Mlock = "tepid", false
		if err := lookup(t, wname).Validate(cfg); err == nil || !strings.Contains(err.Error(), "--cache") {
			t.Errorf("%s: --cache tepid: %v, want refused naming --cache", wname, err)
		}
	}
	echo := []workloads.Workload{lookup(t, "echo-proxy")}
	cold := workloads.Config{Cache: workloads.CacheCold}
	if err := workloads.CheckCache(cold, echo); err == nil || !strings.Contains(err.Error(), "--cache cold") {
		t.Errorf("echo-proxy alone: %v, want refused naming --cache cold", err)
	}
	if err := workloads.CheckCache(cold, append(echo, lookup(t, "small-file"))); err != nil {
		t.Errorf("echo-proxy and small-file: %v, want accepted (cold applies to small-file)", err)
	}

	t.Run("tmpfs", func(t *testing.T) {
		dir := t.TempDir()
		if os.Geteuid() != 0 {
			t.Skip("mounting a tmpfs needs root")
		}
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "ringbench-test", dir).CombinedOutput(); err != nil {
			t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
		}
		defer func() {
			if err := unix.Unmount(dir, 0); err != nil {
				t.Errorf("unmount %s: %v", dir, err)
			}
		}()
		for _, wname := range fileWorkloads {
			cfg := fileConfig()
			cfg.Dir, cfg.Cache = dir, workloads.CacheCold
			if err := lookup(t, wname).Validate(cfg); err == nil || !strings.Contains(err.Error(), "--dir "+dir) ||
				!strings.Contains(err.Error(), "tmpfs") {
				t.Errorf("%s: --cache cold on tmpfs: %v, want refused naming --dir and tmpfs", wname, err)
			}
			cfg.Cache = workloads.CacheWarm
			if err := lookup(t, wname).Validate(cfg); err != nil {
				t.Errorf("%s: --cache warm on tmpfs: %v, want accepted", wname, err)
			}
		}
	})
}
