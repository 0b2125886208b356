package dataset

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Remove releases the set and, when it was the last user of a transient set (one Open made for runs that
// did not ask to keep it), deletes it. While other Sets, in this process or other ringbench processes, have
// the set open it only releases it: the last of them deletes it (a failed try for the exclusive lock means
// someone else holds the lock, and that one runs this same test when it leaves; see the package doc). A
// kept set (Keep, or a set made by an older ringbench) is only released; RemoveDir deletes one.
//
// Deletion is refused, deleting nothing, when the set's path no longer names, without following
// symlinks, the very directory Open opened (it was moved, or swapped for a symlink or another directory),
// or its marker is missing or describes another layout. Otherwise it deletes, through descriptors relative
// to the set directory and never following a symlink, only the files of the layout that are the very
// inodes this process created (the creator) or whose content proves them the data set's (a set reused),
// then the marker and the then empty subdirectories and directory. Anything else found there (a foreign
// file, a symlink in place of a data file) is left, with the directory holding it and an "incomplete"
// marker, and named in the error. The set is closed in every case.
func (s *Set) Remove() error {
	return s.release("Remove after Close: left in place", s.removeLocked)
}

// release runs f under the lock, then closes the set; on a set closed already it fails with afterClose.
func (s *Set) release(afterClose string, f func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("data set %s: %s", s.Dir, afterClose)
	}
	defer s.closeLocked()
	return f()
}

func (s *Set) removeLocked() error {
	if _, err := retryEINTR(func() (int, error) { return 0, unix.Flock(s.fd, unix.LOCK_EX|unix.LOCK_NB) }); err != nil {
		return nil // in use by others: the last of them decides
	}
	m, err := readMarker(s.fd)
	if err == nil {
		var ml layout
		if ml, err = m.layout(); err == nil && ml != s.l {
			err = errors.New("its marker describes another data set")
		}
	}
	if err != nil {
		return fmt.Errorf("data set %s not removed: it %v; nothing was deleted", s.Dir, err)
	}
	if !m.Transient {
		return nil // kept
	}
	pfd, err := openDir(s.parent)
	if err != nil {
		return fmt.Errorf("data set %s not removed: open %s: %v", s.Dir, s.parent, err)
	}
	defer unix.Close(pfd)
	if !sameAt(pfd, s.base, s.fd) {
		return fmt.Errorf("data set %s not removed: the path no longer names the directory ringbench created "+
			"(moved, or replaced by a symlink or another directory); nothing was deleted", s.Dir)
	}
	return removeSet(pfd, s.base, s.fd, s.l, s.made, false, nil)
}

// Keep releases the set and marks it kept: no later Remove, of this or any other run, deletes it (RemoveDir
// does). A run asked to keep its data sets (--keep) calls Keep where others call Remove.
func (s *Set) Keep() error { return s.release("Keep after Close", s.keepLocked) }

func (s *Set) keepLocked() error {
	// The shared lock held since Open keeps the last-user test of Remove from running meanwhile.
	m, err := readMarker(s.fd)
	if err != nil {
		return fmt.Errorf("data set %s: mark it kept: it %v", s.Dir, err)
	}
	if !m.Transient {
		return nil
	}
	if err := writeMarker(s.fd, s.l, true, false); err != nil {
		return fmt.Errorf("data set %s: mark it kept: %w", s.Dir, err)
	}
	return nil
}

var dirNameRE = regexp.MustCompile(`^ringbench-([a-z0-9][a-z0-9-]*)-([0-9a-f]{12})(\.partial-[0-9a-f]+)?$`)

// RemoveDir deletes a data set directory that this process did not necessarily create (say, one left by
// --keep), by path. It must be named ringbench-<name>-<hash>[.partial-<random>] and hold ringbench's marker
// whose layout hashes to that name, and no ringbench process may have it open (ErrInUse). It then removes,
// never following symlinks, only the layout's files that are regular files of the layout's size (no larger,
// for an incomplete set) whose content proves them the data set's (see checkContent), the marker and the
// then empty directories; anything else is left and named in the error. A symlink given as path is refused.
func RemoveDir(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	parent, base := filepath.Split(abs)
	mm := dirNameRE.FindStringSubmatch(base)
	if mm == nil {
		return fmt.Errorf("%s: %w (the name is not ringbench-<name>-<hash>); nothing was deleted", abs, ErrNotDataSet)
	}
	pfd, err := openDir(parent)
	if err != nil {
		return fmt.Errorf("%s: %v", abs, err)
	}
	defer unix.Close(pfd)
	fd, err := openDirAt(pfd, base)
	if err == unix.ELOOP || err == unix.ENOTDIR {
		return fmt.Errorf("%s is not a directory (a symlink is never followed): %w; nothing was deleted", abs, ErrNotDataSet)
	}
	if err != nil {
		return fmt.Errorf("%s: %v", abs, err)
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("data set %s not removed: %w", abs, ErrInUse)
	}
	m, err := readMarker(fd)
	var l layout
	if err == nil {
		if l, err = m.layout(); err == nil && (l.name != mm[1] || l.hash() != mm[2]) {
			err = errors.New("its marker does not match its name")
		}
	}
	if err != nil {
		return fmt.Errorf("%s: it %v: %w; nothing was deleted", abs, err, ErrNotDataSet)
	}
	return removeSet(pfd, base, fd, l, nil, mm[3] != "" || !m.Complete, nil)
}

// removeSet removes the set directory name in pfd, open as fd (which the caller has locked exclusively and
// checked to be ringbench's). made, when known, lists the inodes this process created: only those are
// deleted. Without it, a layout file is deleted when it is a regular file of the layout's size (or smaller,
// with allowShort: a set whose creation was cut short) whose first and last sectors hold the data set's
// content: a file someone else put at a data file's path does not prove itself and is left.
//
// stop, when not nil, is asked as it goes: once it says true, removal stops, the directory is left (its
// marker says incomplete, so it is never reused, and a later Open removes it) and the error wraps
// errRemovalStopped.
func removeSet(pfd int, name string, fd int, l layout, made *madeFiles, allowShort bool, stop func() bool) error {
	// From here on the set is incomplete: an interrupted removal is never reused.
	if m, err := readMarker(fd); err == nil && m.Complete {
		_ = writeMarker(fd, l, false, false) // best effort: a full disk may refuse even this
	}
	left, stopped := removeContents(fd, l, made, allowShort, stop)
	if stopped {
		return fmt.Errorf("%s: %w", filepath.Join(dirOf(pfd), name), errRemovalStopped)
	}
	names, err := listDir(fd)
	if err != nil {
		left = append(left, fmt.Sprintf(". (cannot list: %v)", err))
	}
	for _, n := range names {
		if n != markerName && !isMarkerTmp(n) && !isLayoutSubdir(n, l) {
			left = append(left, n+" (not ringbench's)")
		}
	}
	if len(left) == 0 {
		for _, n := range names {
			if isMarkerTmp(n) { // a marker update cut short
				if err := unlinkRegular(fd, n); err != nil {
					left = append(left, fmt.Sprintf("%s (%v)", n, err))
				}
			}
		}
		if err := unlinkRegular(fd, markerName); err != nil {
			left = append(left, fmt.Sprintf("%s (%v)", markerName, err))
		}
	}
	if len(left) > 0 {
		_ = writeMarker(fd, l, false, false) // keep the proof that the directory is ringbench's
		return fmt.Errorf("left %s in place: it holds what ringbench did not create or could not remove: %s",
			filepath.Join(dirOf(pfd), name), summarize(left))
	}
	if !sameAt(pfd, name, fd) {
		return fmt.Errorf("emptied %s but left the directory: the name no longer points to it", name)
	}
	if err := unix.Unlinkat(pfd, name, unix.AT_REMOVEDIR); err != nil {
		return fmt.Errorf("remove directory %s: %v", filepath.Join(dirOf(pfd), name), err)
	}
	return nil
}

// removeContents deletes the layout's files and subdirectories as removeSet says, returning what it left,
// or stopped when stop said so.
func removeContents(fd int, l layout, made *madeFiles, allowShort bool, stop func() bool) (left []string, stopped bool) {
	for d := 0; d < l.dirs(); d++ {
		dn := subdirName(d)
		sfd, err := openDirAt(fd, dn)
		if err == unix.ENOENT {
			continue
		}
		if err != nil {
			left = append(left, fmt.Sprintf("%s (%v)", dn, err))
			continue
		}
		lo, hi := l.filesIn(d)
		for i := lo; i < hi; i++ {
			if stop != nil && stop() {
				unix.Close(sfd)
				return left, true
			}
			fn := fileName(i)
			var stx unix.Statx_t
			if err := unix.Statx(sfd, fn, unix.AT_SYMLINK_NOFOLLOW, statxID, &stx); err != nil {
				if err != unix.ENOENT {
					left = append(left, fmt.Sprintf("%s/%s (%v)", dn, fn, err))
				}
				continue
			}
			size := int64(stx.Size)
			why := ""
			switch {
			case stx.Mode&unix.S_IFMT != unix.S_IFREG:
				why = "not a regular file"
			case made != nil && !made.is(i, &stx):
				why = "not the file ringbench created"
			case made == nil && (size > l.fileSize || (!allowShort && size != l.fileSize)):
				why = "not the layout's size"
			case made == nil:
				if err := checkContent(sfd, fn, i, l, &stx); err != nil {
					why = err.Error()
				}
			}
			if why != "" {
				left = append(left, dn+"/"+fn+" ("+why+")")
				continue
			}
			if err := unix.Unlinkat(sfd, fn, 0); err != nil && err != unix.ENOENT {
				left = append(left, fmt.Sprintf("%s/%s (%v)", dn, fn, err))
			}
		}
		if names, err := listDir(sfd); err == nil {
			for _, n := range names {
				if !isLayoutFile(n, d, l) {
					left = append(left, dn+"/"+n+" (not ringbench's)")
				}
			}
		}
		unix.Close(sfd)
		if err := unix.Unlinkat(fd, dn, unix.AT_REMOVEDIR); err != nil && err != unix.ENOENT &&
			err != unix.ENOTEMPTY && err != unix.EEXIST {
			left = append(left, fmt.Sprintf("%s (%v)", dn, err))
		}
	}
	return left, false
}

// checkContent checks that the file fn in dfd, which statx described as stx, carries the content of file i
// of the layout in its first and last sectors (each sector has a header naming file and offset, then a
// stream seeded by them): without the list of inodes this process made, that is what proves a file at a
// data file's path to be ringbench's before it is deleted. An empty file holds nothing to lose (a creation
// killed between creating a file and writing it leaves one) and passes.
func checkContent(dfd int, fn string, i int, l layout, stx *unix.Statx_t) error {
	size := int64(stx.Size)
	if size == 0 {
		return nil
	}
	fd, err := retryEINTR(func() (int, error) {
		return unix.Openat(dfd, fn, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return fmt.Errorf("cannot read it to check its content: %v", err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Ino != stx.Ino || st.Size != size {
		return errors.New("changed while being checked")
	}
	var buf [SectorSize]byte
	for _, off := range []int64{0, (size - 1) &^ (SectorSize - 1)} {
		n := int(min(SectorSize, size-off))
		if err := preadFull(fd, buf[:n], off); err != nil {
			return fmt.Errorf("cannot read it to check its content: %v", err)
		}
		if Verify(buf[:n], i, off, l.seed) != nil {
			return fmt.Errorf("its content at offset %d is not the data set's", off)
		}
	}
	return nil
}

func preadFull(fd int, b []byte, off int64) error {
	return full(b, "file shorter than it was", func(rest []byte, done int64) (int, error) {
		return unix.Pread(fd, rest, off+done)
	})
}

// cleanPartials removes the partial directories in --dir that ringbench processes left when they died or
// gave up removing them (see cleanupBudget): named ringbench-<name>-<hash>.partial-<random>, holding
// ringbench's marker of the layout that hashes to that name, and nobody holding their lock (a creator holds
// it from before it writes the marker to the end). Removal stops when ctx is done, leaving the rest for the
// next Open. It reports whether a partial directory of the set base is being created by another process
// right now (locked, or so new that its creator has not locked it yet).
func cleanPartials(ctx context.Context, pfd int, base string) (live bool) {
	names, err := listDir(pfd)
	if err != nil {
		return false
	}
	for _, n := range names {
		mm := dirNameRE.FindStringSubmatch(n)
		if mm == nil || mm[3] == "" {
			continue
		}
		k := partialState(pfd, n, mm[1], mm[2], func(fd int, l layout) {
			_ = removeSet(pfd, n, fd, l, nil, true, func() bool { return ctx.Err() != nil })
		})
		if k == partialLive && strings.HasPrefix(n, base+partialInfix) {
			live = true
		}
	}
	return live
}

// olderCreator reports whether another process creates the set base in a partial directory older than
// ours (names sort by creation time): then ours gives way. Two processes that both passed cleanPartials
// thus make the set once, but for one that makes its directory in the moment after the other looked.
func olderCreator(pfd int, base, ours string) bool {
	names, err := listDir(pfd)
	if err != nil {
		return false
	}
	for _, n := range names {
		if n >= ours || !strings.HasPrefix(n, base+partialInfix) {
			continue
		}
		if mm := dirNameRE.FindStringSubmatch(n); mm != nil && partialState(pfd, n, mm[1], mm[2], nil) == partialLive {
			return true
		}
	}
	return false
}

type partialKind int

const (
	partialGone  partialKind = iota // gone, or not ringbench's: not waited for
	partialLive                     // its creator is at work
	partialStale                    // proven ringbench's and abandoned: handed to stale
)

// partialState looks at the partial directory n in pfd, of the given name and layout hash, and calls stale
// with it locked exclusively when it is abandoned.
func partialState(pfd int, n, name, hash string, stale func(fd int, l layout)) partialKind {
	fd, err := openDirAt(pfd, n)
	if err != nil {
		return partialGone
	}
	defer unix.Close(fd)
	if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) != nil {
		return partialLive
	}
	if !sameAt(pfd, n, fd) { // renamed into place (or removed) meanwhile
		return partialGone
	}
	m, err := readMarker(fd)
	if err != nil {
		// No marker yet: either created a moment ago by a process that has not locked it yet, or not
		// ringbench's; which one, a little time tells.
		var st unix.Stat_t
		if unix.Fstat(fd, &st) == nil && time.Since(time.Unix(st.Ctim.Unix())) < 10*time.Second {
			return partialLive
		}
		return partialGone
	}
	l, err := m.layout()
	if err != nil || l.name != name || l.hash() != hash {
		return partialGone
	}
	if stale != nil {
		stale(fd, l)
	}
	return partialStale
}

// isMarkerTmp reports whether n names a temporary marker file (see writeMarker); older versions used
// markerTmpName alone.
func isMarkerTmp(n string) bool {
	return n == markerTmpName || strings.HasPrefix(n, markerTmpName+"-")
}

func isLayoutSubdir(n string, l layout) bool {
	v, ok := parseIndex(n, 'd')
	return ok && v < l.dirs() && subdirName(v) == n
}

func isLayoutFile(n string, d int, l layout) bool {
	v, ok := parseIndex(n, 'f')
	lo, hi := l.filesIn(d)
	return ok && v >= lo && v < hi && fileName(v) == n
}

// parseIndex parses the number of a name like d00012 or f00000345.
func parseIndex(n string, prefix byte) (int, bool) {
	if len(n) < 2 || n[0] != prefix {
		return 0, false
	}
	v, err := strconv.Atoi(n[1:])
	return v, err == nil && v >= 0
}

// dirOf names the directory open as fd, for messages.
func dirOf(fd int) string {
	p, err := readlinkFD(fd)
	if err != nil {
		return "."
	}
	return p
}

func readlinkFD(fd int) (string, error) {
	buf := make([]byte, 4096)
	n, err := unix.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd), buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// summarize lists up to five things, then a count.
func summarize(items []string) string {
	if len(items) <= 5 {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:5], ", ") + fmt.Sprintf(" and %d more", len(items)-5)
}
