package workloads_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ringbench/ringbench/internal/leakcheck"
	"github.com/ringbench/ringbench/workloads"
	"golang.org/x/sys/unix"
)

// openFlags returns the open flags (from /proc/self/fdinfo) of this process's descriptors of regular
// files under dir.
func openFlags(t *testing.T, dir string) map[string]int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil || !strings.HasPrefix(target, dir+"/") {
			continue
		}
		if st, err := os.Stat(target); err != nil || !st.Mode().IsRegular() {
			continue // the data set's directory, held for its lock
		}
		info, err := os.ReadFile(filepath.Join("/proc/self/fdinfo", e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		for _, line := range strings.Split(string(info), "\n") {
			if v, ok := strings.CutPrefix(line, "flags:"); ok {
				flags, err := strconv.ParseInt(strings.TrimSpace(v), 8, 64)
				if err != nil {
					t.Fatalf("fdinfo of %s: %q: %v", target, line, err)
				}
				out[target] = int(flags)
			}
		}
	}
	return out
}

// TestNoAtimeOpensTheFilesWithONoatime: small-file --noatime reads through descriptors opened with
// O_NOATIME (and records it in the sample's params); without it they have no O_NOATIME.
func TestNoAtimeOpensTheFilesWithONoatime(t *testing.T) {
	for _, noatime := range []bool{false, true} {
		cfg := fileConfig()
		cfg.Dir, cfg.Files, cfg.NoAtime = t.TempDir(), 3, noatime
		checkedPrepare(t, "small-file", cfg, func(p workloads.Prepared) {
			fds := openFlags(t, cfg.Dir)
			if len(fds) != cfg.Files {
				t.Fatalf("noatime %v: %d descriptors of files under --dir, want %d: %v", noatime, len(fds), cfg.Files, fds)
			}
			for path, flags := range fds {
				if got := flags&unix.O_NOATIME != 0; got != noatime {
					t.Errorf("noatime %v: %s open with flags %#o: O_NOATIME %v", noatime, path, flags, got)
				}
			}
			s, err := sampleSome(context.Background(), t, p, workloads.SampleSpec{Backend: epollBackend(t), Duration: sampleDuration, Warmup: true})
			if err != nil {
				t.Fatalf("sample: %v", err)
			}
			if got, want := s.Params["noatime"], map[bool]string{true: "1"}[noatime]; got != want {
				t.Errorf("noatime %v: params[noatime] = %q, want %q", noatime, got, want)
			}
		}, cfg.Dir)
	}
}

// TestNoAtimeIsSmallFileOnly: many-file opens its files per request in each backend; it refuses
// --noatime before making anything.
func TestNoAtimeIsSmallFileOnly(t *testing.T) {
	cfg := fileConfig()
	cfg.Dir, cfg.NoAtime = t.TempDir(), true
	before := snapshot(t, cfg.Dir)
	p, err := lookup(t, "many-file").Prepare(context.Background(), cfg)
	if err == nil {
		p.Close()
		t.Fatal("many-file --noatime prepared, want a refusal")
	}
	if !strings.HasPrefix(err.Error(), "--noatime: ") {
		t.Errorf("error %q does not start with the flag", err)
	}
	leakcheck.Check(t, before)
}
