// Package cpuset lists the CPUs this process may run on and pins threads to them.
package cpuset

import (
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// PinThread restricts OS thread tid (0: the calling thread) to cpus.
func PinThread(tid int, cpus []int) error {
	if len(cpus) == 0 {
		return nil
	}
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	return unix.SchedSetaffinity(tid, &set)
}

// PinProcess restricts every thread of this process to cpus; threads created later inherit the mask from
// the thread that creates them. Threads that cannot be moved (io_uring's kernel threads) are skipped.
func PinProcess(cpus []int) error {
	if len(cpus) == 0 {
		return nil
	}
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if err := PinThread(tid, cpus); err != nil && err != unix.ESRCH && err != unix.EINVAL {
			return fmt.Errorf("pin threads to CPUs %v: %w", cpus, err)
		}
	}
	return nil
}

// Allowed lists the CPUs this process may run on, lowest first.
func Allowed() []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		n := runtime.NumCPU()
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	var out []int
	for c := 0; c < len(set)*64 && len(out) < set.Count(); c++ {
		if set.IsSet(c) {
			out = append(out, c)
		}
	}
	return out
}
