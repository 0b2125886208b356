package main

import (
	"strings"
	"testing"
	"time"
)

// TestRunCacheColdRefusals: --cache cold is refused with exit 2 and one line naming the flags, before
// anything is created (no data set, no result file): with --mlock, and for echo-proxy alone.
func TestRunCacheColdRefusals(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"mlock", []string{"--workload", "small-file", "--mlock"}, "--cache cold and --mlock"},
		{"echo-proxy", []string{"--workload", "echo-proxy"}, "--cache cold: echo-proxy reads no files"},
		{"bad value", []string{"--workload", "many-file", "--cache", "tepid"}, `--cache "tepid"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newRunDirs(t)
			r := d.run(t, 60*time.Second, args([]string{"run", "--backend", "epoll", "--dir", d.data, "--cache", "cold"}, c.args, fast)...)
			if r.Code != 2 || !strings.Contains(r.Stderr, c.want) || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
				t.Fatalf("exit %d, stderr %q: want exit 2 and one line containing %q", r.Code, r.Stderr, c.want)
			}
			assertEmpty(t, d.data, "--dir")
			if files := d.resultFiles(t); len(files) != 0 {
				t.Errorf("result files %v written for a refused run", files)
			}
		})
	}
}
