package sqpoll

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/cpuset"
	"github.com/ringbench/ringbench/internal/ring"
	"github.com/ringbench/ringbench/internal/ring/caps"
	"github.com/ringbench/ringbench/internal/testsupport"
)

func fileConfig(t *testing.T, cpu int) backend.FileConfig {
	f, err := os.CreateTemp(t.TempDir(), "data")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(1 << 16); err != nil {
		t.Fatal(err)
	}
	return backend.FileConfig{Options: backend.Options{Depth: 4, Batch: 1, SQCPU: cpu}, FDs: []int{int(f.Fd())}, BufSize: 4096}
}

// TestPollThreadOutsideAffinity: with this thread's affinity on one CPU, a poll thread pinned to another
// CPU of the cpuset is accepted (the kernel checks the cpuset, not the affinity mask) and not warned about;
// pinned to the thread's own CPU it is, with a hint naming --cpus.
func TestPollThreadOutsideAffinity(t *testing.T) {
	if err := testsupport.Lookup(t, backend.Lookup, "sqpoll").Available(); err != nil {
		t.Skip(err)
	}
	set := cpuset.Cpuset()
	if len(set) < 2 {
		t.Skipf("one CPU in the cpuset (%v)", set)
	}
	app, poll := set[0], set[len(set)-1]
	cfg := fileConfig(t, poll)
	testsupport.OnThread(func() {
		if err := cpuset.PinThread(0, []int{app}); err != nil {
			t.Error(err)
			return
		}
		e, err := Backend{}.NewFileEngine(cfg)
		if err != nil {
			t.Errorf("--sq-cpu %d outside the affinity mask [%d]: %v", poll, app, err)
			return
		}
		defer e.Close()
		if w := e.(backend.Warner).Warnings(); len(w) != 0 {
			t.Errorf("poll thread on its own CPU warned: %v", w)
		}
		if w := CoreWarning(app); !strings.Contains(w, "SHARES A CORE") || !strings.Contains(w, "--cpus") {
			t.Errorf("CoreWarning(%d) on a thread pinned to %d = %q, want a shared-core warning naming --cpus", app, app, w)
		}
	})
}

// TestPollThreadCPURefused: a CPU the kernel refuses (one that does not exist) comes back as its EINVAL,
// explained as the CPU's fault rather than as SQPOLL missing.
func TestPollThreadCPURefused(t *testing.T) {
	if err := testsupport.Lookup(t, backend.Lookup, "sqpoll").Available(); err != nil {
		t.Skip(err)
	}
	cfg := fileConfig(t, 1000)
	testsupport.OnThread(func() {
		e, err := Backend{}.NewFileEngine(cfg)
		if err == nil {
			e.Close()
			t.Error("SQPOLL thread on CPU 1000 accepted")
			return
		}
		if !errors.Is(err, caps.ErrSQPollCPU) || !errors.Is(err, unix.EINVAL) || errors.Is(err, backend.ErrNotSupported) {
			t.Errorf("error %v: want ErrSQPollCPU and EINVAL, not ErrNotSupported", err)
		}
		if !strings.Contains(err.Error(), "--sq-cpu 1000") {
			t.Errorf("error %q does not name --sq-cpu 1000", err)
		}
	})
}

// TestRingSetup: the sqpoll engine's ring has no SQ array and enters through a registered ring fd.
func TestRingSetup(t *testing.T) {
	if err := testsupport.Lookup(t, backend.Lookup, "sqpoll").Available(); err != nil {
		t.Skip(err)
	}
	cfg := fileConfig(t, -1)
	testsupport.OnThread(func() {
		e, err := Backend{}.NewFileEngine(cfg)
		if err != nil {
			t.Error(err)
			return
		}
		defer e.Close()
		r := e.(interface{ Ring() *ring.Ring }).Ring()
		if caps.SetupFlag(caps.FlagNoSQArray) == nil && r.SetupFlags()&ring.SetupNoSQArray == 0 {
			t.Errorf("flags %v: NO_SQARRAY accepted here but not used", ring.SetupFlagNames(r.SetupFlags()))
		}
		if !r.RingFDRegistered() {
			t.Error("ring fd not registered")
		}
	})
}

// TestCoreWarningCountsTheProcessCPUs: an unpinned poll thread may run on every CPU of the process's
// cpuset, so a submitter pinned to one CPU (a --jobs or server thread) is warned with the cpuset's count,
// not its own one CPU.
func TestCoreWarningCountsTheProcessCPUs(t *testing.T) {
	set := cpuset.Cpuset()
	if len(set) < 2 {
		t.Skipf("one CPU here (%v)", set)
	}
	testsupport.OnThread(func() {
		if err := cpuset.PinThread(0, []int{set[0]}); err != nil {
			t.Error(err)
			return
		}
		w := CoreWarning(-1)
		if len(set) >= 3 {
			if w != "" {
				t.Errorf("%d CPUs in the cpuset, unpinned poll thread warned: %q", len(set), w)
			}
			return
		}
		if want := fmt.Sprintf("%d CPU(s) allowed", len(set)); !strings.Contains(w, want) {
			t.Errorf("CoreWarning(-1) on a thread pinned to one CPU = %q, want %q", w, want)
		}
	})
}
