// Package fds is about this process's file descriptors: how many it may hold and how many it holds.
package fds

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// RaiseLimit makes sure this process may hold at least need descriptors, raising RLIMIT_NOFILE (the hard
// limit too, where privileged). The error says what the limit is and how to raise it.
func RaiseLimit(need int) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur >= uint64(need) {
		return nil
	}
	want := lim
	want.Cur = uint64(need)
	if want.Max < want.Cur {
		want.Max = want.Cur
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &want); err != nil {
		if lim.Max >= uint64(need) {
			return fmt.Errorf("cannot raise RLIMIT_NOFILE to %d (soft %d, hard %d): %w", need, lim.Cur, lim.Max, err)
		}
		return fmt.Errorf("%d descriptors needed but RLIMIT_NOFILE hard limit is %d and raising it failed (%v): "+
			"run as root, raise it with `ulimit -Hn %d` or limits.conf, or use fewer connections", need, lim.Max, err, need)
	}
	return nil
}

// Count counts this process's open descriptors (for leak checks).
func Count() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents) - 1 // the directory's own fd
}
