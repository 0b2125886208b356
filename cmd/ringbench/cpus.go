package main

// --cpus and --sq-cpu: where ringbench's own threads run, and where the SQPOLL kernel thread polls.

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/ringbench/ringbench/internal/cpuset"
)

// cpusFlag is --cpus, for run and serve.
func cpusFlag(category string) cli.Flag {
	return &cli.StringFlag{Name: "cpus", Category: category,
		Usage: "run ringbench's own threads only on these CPUs, e.g. 0-3,6 (like taskset -c; default: all this process may use). " +
			"With --sq-cpu N outside LIST, the SQPOLL thread has a core of its own"}
}

// applyCPUFlags checks --cpus and --sq-cpu, then restricts every thread of this process to --cpus (threads
// created later inherit the mask), so that the rest of the command runs there. --sq-cpu may name any CPU
// the kernel accepts for an SQPOLL thread: an online CPU of this process's cpuset, also one outside the
// affinity mask (taskset, --cpus), which is how the poll thread gets a core of its own.
func applyCPUFlags(c *cli.Context) error {
	avail := cpuset.Cpuset()
	var cpus []int
	if c.IsSet("cpus") {
		list := c.String("cpus")
		var err error
		if cpus, err = cpuset.Parse(list); err != nil {
			return usageError("--cpus %q: %v", list, errors.Unwrap(err))
		}
		var missing []int
		for _, cpu := range cpus {
			if !slices.Contains(avail, cpu) {
				missing = append(missing, cpu)
			}
		}
		if len(missing) > 0 {
			return usageError("--cpus %s: CPU %s not available to this process (its cpuset: %s)", list,
				cpuset.Format(missing), cpuset.Format(avail))
		}
	}
	if cpu := c.Int("sq-cpu"); cpu < -1 {
		return usageError("--sq-cpu %d: a CPU number, or -1", cpu)
	} else if cpu >= 0 && !slices.Contains(avail, cpu) {
		return usageError("--sq-cpu %d: not a CPU this process may use (its cpuset: %s)", cpu, cpuset.Format(avail))
	}
	if cpus == nil {
		return nil
	}
	if err := cpuset.PinProcess(cpus); err != nil {
		return exitError(exitFailure, fmt.Errorf("--cpus %s: %w", c.String("cpus"), err))
	}
	// As under taskset, where the runtime sizes GOMAXPROCS from the affinity mask at start.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(len(cpus))
	}
	return nil
}
