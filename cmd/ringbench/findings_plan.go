package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	backend "github.com/ringbench/ringbench/backends"
)

// findingsRun is one child run of `ringbench findings`: `ringbench run ARGS --out DIR/NAME.json`, under
// `ringbench sandbox --deny io_uring --` when sandboxed.
type findingsRun struct {
	name    string
	args    []string
	sandbox bool
	// claims are the claims (1-based) the run measures: when it cannot run here, they say why.
	claims []int
	// skip, when set, is why the run cannot happen here; it is not started.
	skip string
}

// findingsScale is how long and how often the runs measure.
type findingsScale struct {
	count, duration, warmup, batches, conns, idleConns, fileSize, coldSize string
}

var (
	// fullScale takes about 3 minutes on a 2-vCPU machine; enough samples for the cost model's intervals.
	// The cold data set is larger than io_uring reads in a sample at a few hundred thousand 4 KiB reads a
	// second, so its reads keep missing to the end of the sample instead of finding what it read earlier.
	fullScale = findingsScale{count: "4", duration: "500ms", warmup: "200ms", batches: "1,2,4,8,16", conns: "1,16",
		idleConns: "2k", fileSize: "32M", coldSize: "1G"}
	// quickScale is for CI: every run, the fewest samples each claim can be judged from (the batch sweep
	// needs 3 batch sizes and 4 samples to fit).
	quickScale = findingsScale{count: "2", duration: "100ms", warmup: "0", batches: "1,4,16", conns: "1,16",
		idleConns: "200", fileSize: "8M", coldSize: "8M"}
)

// findingsPlan is the smallest set of runs that tests every claim (internal/findings): the claims' numbers
// are those of findings.Claims. dir is --dir ("" = run's default); coldDir a directory on a block device
// for the cold-cache run, "" with coldWhy when there is none.
func findingsPlan(s findingsScale, dir, coldDir, coldWhy string) []findingsRun {
	common := []string{"--count", s.count, "--duration", s.duration, "--warmup", s.warmup, "--interval", "0", "--quiet"}
	with := func(args ...string) []string { return append(append([]string(nil), args...), common...) }
	fileDir := func(args []string) []string {
		if dir != "" {
			return append(args, "--dir", dir)
		}
		return args
	}
	cold := findingsRun{name: "cold", claims: []int{6}, skip: coldWhy,
		args: with("--workload", "small-file", "--backend", "epoll,uring", "--cache", "cold", "--file-size", s.coldSize,
			"--dir", coldDir, "--label", "cold cache")}
	return []findingsRun{
		{name: "echo", claims: []int{1, 2, 4, 8},
			args: with("--workload", "echo-proxy", "--backend", "epoll,uring,sqpoll", "--conns", s.conns, "--label", "echo")},
		{name: "oneshot", claims: []int{2},
			args: with("--workload", "echo-proxy", "--backend", "epoll", "--epoll-mode", "oneshot", "--conns", s.conns, "--label", "epoll oneshot")},
		{name: "batch", claims: []int{3, 4, 8},
			args: fileDir(with("--workload", "small-file", "--backend", "epoll,uring,sqpoll", "--batch", s.batches,
				"--file-size", s.fileSize, "--label", "batch sweep"))},
		{name: "idle", claims: []int{5},
			args: with("--workload", "echo-proxy", "--backend", "epoll,uring", "--idle-conns", s.idleConns, "--label", "idle connections")},
		{name: "idle-multishot", claims: []int{5},
			args: with("--workload", "echo-proxy", "--backend", "uring", "--multishot", "--idle-conns", s.idleConns,
				"--label", "idle connections, multishot")},
		cold,
		{name: "policy", claims: []int{7}, sandbox: true,
			args: with("--workload", "echo-proxy", "--backend", "all", "--label", "io_uring denied by seccomp")},
	}
}

// dropUnavailable takes the backends that cannot run here out of each run's --backend list (a run that
// names one would exit 3 and measure nothing), and skips the runs left with none, saying why.
func dropUnavailable(plan []findingsRun, available func(string) error) []findingsRun {
	for i := range plan {
		r := &plan[i]
		if r.skip != "" || r.sandbox {
			continue
		}
		for j := 0; j+1 < len(r.args); j++ {
			if r.args[j] != "--backend" || r.args[j+1] == "all" {
				continue
			}
			var keep, why []string
			for _, b := range strings.Split(r.args[j+1], ",") {
				if err := available(b); err != nil {
					why = append(why, b+": "+err.Error())
				} else {
					keep = append(keep, b)
				}
			}
			if len(keep) == 0 {
				r.skip = "cannot run here: " + strings.Join(why, "; ")
			}
			r.args[j+1] = strings.Join(keep, ",")
		}
	}
	return plan
}

// backendAvailable says why the named backend cannot run here; nil when it can.
func backendAvailable(name string) error {
	b, err := backend.Lookup(name)
	if err != nil {
		return err
	}
	return b.Available()
}

// blockDir is the first of dirs that is a writable directory on a filesystem whose pages can be evicted
// to a device (not tmpfs or ramfs), for --cache cold; "" and why when none is.
func blockDir(dirs ...string) (string, string) {
	for _, d := range dirs {
		if d == "" {
			continue
		}
		var st unix.Statfs_t
		if err := unix.Statfs(d, &st); err != nil {
			continue
		}
		if st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC {
			continue
		}
		if unix.Access(d, unix.W_OK) != nil {
			continue
		}
		return d, ""
	}
	return "", "no writable directory on a block device (tried " + joinNonEmpty(dirs) + "; tmpfs cannot be evicted): give one with --dir"
}

func joinNonEmpty(list []string) string {
	out := ""
	for _, s := range list {
		if s == "" {
			continue
		}
		if out != "" {
			out += ", "
		}
		out += s
	}
	return out
}

// nearestDir is path, or its nearest existing parent directory.
func nearestDir(path string) string {
	p, err := filepath.Abs(path)
	if err != nil {
		return ""
	}
	for {
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		} else if err != nil && !errors.Is(err, os.ErrNotExist) {
			return ""
		}
		parent := filepath.Dir(p)
		if parent == p {
			return ""
		}
		p = parent
	}
}
