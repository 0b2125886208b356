// Package sqpoll is io_uring with IORING_SETUP_SQPOLL: a kernel thread (iou-sqp-PID) polls the submission
// queue, so submitting needs no syscall while it is awake; waiting for completions still does, unless the
// submitter spins (--cq-spin). The poll thread burns a core: its CPU is charged to every op, and a run
// warns when it has no core of its own.
package sqpoll

import (
	"fmt"
	"slices"
	"unsafe"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/backends/uring"
	"github.com/ringbench/ringbench/internal/cpuset"
	"github.com/ringbench/ringbench/internal/ring"
	"github.com/ringbench/ringbench/internal/ring/caps"
	"golang.org/x/sys/unix"
)

// Backend builds the SQPOLL backend's engines and servers.
type Backend struct{}

func init() {
	backend.Register(backend.Description{
		Name:    "sqpoll",
		Summary: "io_uring with SQPOLL: a kernel thread polls the SQ (near-zero submit syscalls, burns a core; --sq-cpu, --sq-idle, --cq-spin)",
		// SQPOLL needs 5.11+ for unprivileged users, and may be refused by policy where plain io_uring is
		// allowed (probed once).
		Available: func() error { return caps.SetupFlag(caps.FlagSQPoll) },
	}, Backend{})
}

// NewFileEngine implements backend.Builder.
func (Backend) NewFileEngine(cfg backend.FileConfig) (backend.FileEngine, error) {
	p := ring.Params{SQPoll: true, SQThreadIdle: cfg.SQIdle, SQThreadCPU: cfg.SQCPU, SingleIssuer: true, NoSQArray: true, RegisterRingFD: true}
	var shared *uring.FileEngine
	if cfg.ShareSQPoll != nil {
		if len(cfg.FDs) == 0 && 3*cfg.Depth > sharedPollCap {
			return nil, fmt.Errorf("%w: a poll thread shared by several rings takes at most %d SQEs of a ring per round, "+
				"which splits the 3-SQE open-read-close chains of --depth %d (their CLOSE then runs early: EBADF); "+
				"one poll thread per ring, or --depth %d at most", backend.ErrNotSupported, sharedPollCap, cfg.Depth, sharedPollCap/3)
		}
		var ok bool
		if shared, ok = cfg.ShareSQPoll.(*uring.FileEngine); !ok {
			return nil, fmt.Errorf("sqpoll: cannot share the poll thread of a %T", cfg.ShareSQPoll)
		}
		p.AttachWQ = shared.Ring()
	}
	e, err := uring.NewFileEngine(cfg, p, "sqpoll")
	if err != nil {
		return nil, placementError(cfg.SQCPU, err)
	}
	if shared != nil {
		e.SharePollThread(shared.Counters().PollThreadTID)
	}
	if w := CoreWarning(cfg.SQCPU); w != "" {
		e.AddWarning(backend.Warning{Kind: backend.WarnSQPollSharedCPU, Text: w})
	}
	return e, nil
}

// sharedPollCap is the kernel's IORING_SQPOLL_CAP_ENTRIES_VALUE: a poll thread serving several rings submits
// at most this many SQEs of each per round, and a linked chain cut at the cap is submitted broken.
const sharedPollCap = 8

// placementError explains a setup the kernel refused for the poll thread's CPU (--sq-cpu).
func placementError(cpu int, err error) error {
	if cpu < 0 || caps.ErrnoOf(err) != unix.EINVAL {
		return err
	}
	return fmt.Errorf("sqpoll: --sq-cpu %d: %w", cpu, caps.SQPollCPUError(cpu, err))
}

// CoreWarning says when the poll thread cannot have a core of its own: pinned to a CPU this process's
// threads may also run on (its affinity mask), or unpinned with fewer than three CPUs to share. The kernel
// lets the poll thread run on any CPU of the process's cpuset, also outside the affinity mask: --cpus
// (or taskset) keeps ringbench's own threads off it.
func CoreWarning(sqCPU int) string {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return ""
	}
	// An unpinned poll thread may run on any CPU of the process's cpuset, whatever the affinity of this
	// thread (a --jobs thread or a server thread is pinned to one CPU): count those.
	n := set.Count()
	if all := cpuset.Cpuset(); len(all) > 0 {
		n = len(all)
	}
	switch {
	case sqCPU >= 0 && sqCPU < 8*int(unsafe.Sizeof(set)) && set.IsSet(sqCPU):
		others := cpuset.Cpuset()
		others = slices.DeleteFunc(others, func(c int) bool { return c == sqCPU })
		hint := "keep ringbench's threads off it with --cpus LIST (LIST without " + fmt.Sprint(sqCPU) + ")"
		if len(others) > 0 {
			hint = fmt.Sprintf("keep ringbench's threads off it, e.g. --cpus %s", cpuset.Format(others))
		}
		return fmt.Sprintf("SQPOLL SHARES A CORE: the poll thread is pinned to CPU %d, which this process's threads also run on; "+
			"%s for a fair figure", sqCPU, hint)
	case sqCPU < 0 && n < 3:
		return fmt.Sprintf("SQPOLL SHARES A CORE: %d CPU(s) allowed: the poll thread competes with the submitter and the rest of "+
			"the process; its CPU time is charged to every op (give it a core of its own: --sq-cpu N --cpus LIST without N)", n)
	}
	return ""
}
