package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunJobsBadValuesExit2: --jobs out of 1..256, or more buffers than half the machine's memory, is refused
// with exit 2 and one line naming --jobs, before anything is created.
func TestRunJobsBadValuesExit2(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--jobs", "0"}, "--jobs 0"},
		{[]string{"--jobs", "-2"}, "--jobs -2"},
		{[]string{"--jobs", "257"}, "--jobs 257: want 1 to 256"},
		{[]string{"--workload", "small-file", "--jobs", "256", "--depth", "4096", "--block-size", "16M", "--file-size", "16M"}, "--jobs 256: 256 threads x --depth 4096"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			d := newRunDirs(t)
			r := d.run(t, 30*time.Second, args([]string{"run", "--dir", d.data, "--warmup", "0", "--count", "1", "--duration", "1m", "-q"}, c.args)...)
			assertUsageError(t, r, c.want)
			assertEmpty(t, d.data, "--dir")
		})
	}
}

// TestRunJobs: `run --jobs 2` records the series as jobs=2 with two threads' figures, and its table shows
// the spread between them.
func TestRunJobs(t *testing.T) {
	d := newRunDirs(t)
	r := d.run(t, 2*time.Minute, "run", "--workload", "small-file", "--backend", "epoll", "--jobs", "2", "--file-size", "1M",
		"--warmup", "0", "--count", "1", "--duration", "200ms", "--samples", "timed", "--dir", d.data, "--out", "r.json")
	if r.Code != 0 {
		t.Fatalf("run: %+v", r)
	}
	if !strings.Contains(r.Stdout, "jobs=2") || !strings.Contains(r.Stdout, "2 I/O threads: ") {
		t.Errorf("table:\n%s", r.Stdout)
	}
	f := loadResult(t, filepath.Join(d.cwd, "r.json"))
	for _, s := range f.Samples {
		var ops int64
		for _, th := range s.Threads {
			ops += th.Ops
		}
		if s.Params["jobs"] != "2" || len(s.Threads) != 2 || ops != s.Ops {
			t.Errorf("sample %s: params %v, %d threads with %d ops of %d", s.Backend, s.Params, len(s.Threads), ops, s.Ops)
		}
	}
}
