package dataset

import (
	"errors"
	"fmt"
	"io/fs"
	"math/bits"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// CheckDir checks that dir exists, is a directory and is writable (by creating and removing a temporary
// file in it, which also catches read-only mounts and, for root, what mode bits do not say). Errors are one
// line and name --dir.
func CheckDir(dir string) error {
	if dir == "" {
		return fmt.Errorf("%s is empty: give the directory where data sets live", FlagDir)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		var errno syscall.Errno
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%s %s: does not exist", FlagDir, dir)
		case errors.As(err, &errno) && errno == syscall.ENOTDIR:
			return fmt.Errorf("%s %s: not a directory (a part of the path is a file)", FlagDir, dir)
		case errors.As(err, &errno):
			return fmt.Errorf("%s %s: %v", FlagDir, dir, errno)
		}
		return fmt.Errorf("%s %s: %v", FlagDir, dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s %s: not a directory", FlagDir, dir)
	}
	f, err := os.CreateTemp(dir, ".ringbench-check-*")
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return fmt.Errorf("%s %s: not writable: %v", FlagDir, dir, errno)
		}
		return fmt.Errorf("%s %s: not writable: %v", FlagDir, dir, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("%s %s: cannot remove a file created there: %v", FlagDir, dir, err)
	}
	return nil
}

// spaceNeeded is the disk space a layout needs on a file system of block size bsize: every file rounded
// up to whole blocks, a block per directory and some directory entry space, plus 5% and spaceMargin.
// ok is false when the figure overflows.
func spaceNeeded(l layout, bsize int64) (need int64, ok bool) {
	if bsize <= 0 {
		bsize = 4096
	}
	per := (l.fileSize + bsize - 1) / bsize * bsize
	hi, lo := bits.Mul64(uint64(per), uint64(l.files))
	if hi != 0 || lo > 1<<62 {
		return 0, false
	}
	n := int64(lo) + int64(l.dirs()+1)*bsize + int64(l.files)*64
	return n + n/20 + spaceMargin, true
}

// checkSpace refuses a set that does not fit in the free space (or inodes) of the file system of pfd.
func checkSpace(pfd int, parent string, l layout) error {
	var st unix.Statfs_t
	if err := unix.Fstatfs(pfd, &st); err != nil {
		return fmt.Errorf("%s %s: statfs: %v", FlagDir, parent, err)
	}
	bsize := st.Bsize
	free := int64(st.Bavail) * bsize
	if st.Bavail > 1<<62/uint64(max(bsize, 1)) {
		free = 1 << 62
	}
	need, ok := spaceNeeded(l, bsize)
	if !ok || need > free {
		needS := "more than 4 EiB"
		if ok {
			needS = fmtBytes(need)
		}
		return fmt.Errorf("%s %s: not enough free space for the %s data set: it needs %s (%d files x %s, plus 5%% and %s), %s is free",
			FlagDir, parent, l.name, needS, l.files, fmtBytes(l.fileSize), fmtBytes(spaceMargin), fmtBytes(free))
	}
	if st.Files > 0 { // file systems that report inodes at all
		inodes := uint64(l.files + l.dirs() + 16)
		if st.Ffree < inodes {
			return fmt.Errorf("%s %s: not enough free inodes for the %s data set: it needs %d, %d are free",
				FlagDir, parent, l.name, inodes, st.Ffree)
		}
	}
	return nil
}
