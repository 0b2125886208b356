package dataset

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringbench/ringbench/internal/testsupport"
)

// names lists a directory, sorted.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// requireEmpty fails the test, with msg and what dir holds, when dir is not empty.
func requireEmpty(t *testing.T, dir, msg string) {
	t.Helper()
	if got := names(t, dir); len(got) != 0 {
		t.Fatalf("%s %v", msg, got)
	}
}

// mustCreate opens spec and fails the test, with msg, unless that Open created the set.
func mustCreate(t *testing.T, spec Spec, msg string) *Set {
	t.Helper()
	s := mustOpen(t, spec)
	if !s.Created {
		t.Fatal(msg)
	}
	return s
}

// openAtOnce calls Open(spec) from n goroutines at once and returns what each got.
func openAtOnce(spec Spec, n int) ([]*Set, []error) {
	sets := make([]*Set, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { sets[i], errs[i] = Open(context.Background(), spec, nil) })
	}
	wg.Wait()
	return sets, errs
}

func mustOpen(t *testing.T, spec Spec) *Set {
	t.Helper()
	s, err := Open(context.Background(), spec, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func readAll(t *testing.T, s *Set) {
	t.Helper()
	for i, p := range s.Paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) != s.FileSize {
			t.Fatalf("%s: %d bytes, want %d", p, len(b), s.FileSize)
		}
		if err := s.Verify(b, i, 0); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
}

func TestSpecValidation(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		spec Spec
		want string
	}{
		{Spec{Dir: dir, Name: "x", Files: 0, FileSize: 4096}, "--files 0"},
		{Spec{Dir: dir, Name: "x", Files: -3, FileSize: 4096}, "--files -3"},
		{Spec{Dir: dir, Name: "x", Files: MaxFiles + 1, FileSize: 1}, "--files"},
		{Spec{Dir: dir, Name: "x", Files: 1, FileSize: 0}, "--file-size 0"},
		{Spec{Dir: dir, Name: "x", Files: 1, FileSize: -1}, "--file-size -1"},
		{Spec{Dir: dir, Name: "x", Files: 1 << 20, FileSize: 1 << 50}, "too large"},
		{Spec{Dir: dir, Name: "x", Files: 1, FileSize: 1, FilesPerDir: -1}, "files per directory"},
		{Spec{Dir: dir, Name: "Bad/Name", Files: 1, FileSize: 1}, "data set name"},
		{Spec{Dir: dir, Name: "", Files: 1, FileSize: 1}, "data set name"},
		{Spec{Dir: "", Name: "x", Files: 1, FileSize: 1}, "--dir"},
	}
	for _, c := range cases {
		_, err := Open(context.Background(), c.spec, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error containing %q", c.spec, err, c.want)
		}
	}
	if n := names(t, dir); len(n) != 0 {
		t.Fatalf("rejected specs left %v", n)
	}
}

func TestCheckDir(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "regular")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ dir, want string }{
		{"", "--dir is empty"},
		{filepath.Join(tmp, "missing"), "does not exist"},
		{file, "not a directory"},
		{filepath.Join(file, "sub"), "not a directory"}, // parent is a regular file
	}
	for _, c := range cases {
		err := CheckDir(c.dir)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "--dir") ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("CheckDir(%q) = %v, want one line naming --dir and %q", c.dir, err, c.want)
		}
	}
	if err := CheckDir(tmp); err != nil {
		t.Fatalf("CheckDir(writable) = %v", err)
	}
	if n := names(t, tmp); len(n) != 1 {
		t.Fatalf("CheckDir left %v", n)
	}
}

func TestCheckDirReadOnly(t *testing.T) {
	ro := testsupport.MountTmpfs(t, "ro,size=1m")
	err := CheckDir(ro)
	if err == nil || !strings.Contains(err.Error(), "--dir "+ro+": not writable: read-only file system") {
		t.Fatalf("CheckDir(read-only tmpfs) = %v", err)
	}
	_, err = Open(context.Background(), Spec{Dir: ro, Name: "small-file", Files: 1, FileSize: 4096}, nil)
	if err == nil || !strings.Contains(err.Error(), "not writable") {
		t.Fatalf("Open on a read-only --dir = %v", err)
	}
}

func TestCreateVerifyReuseRemove(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Dir: dir, Name: "many-file", Files: 25, FileSize: 1500, FilesPerDir: 10, Seed: 7}
	var calls, last, lastTotal int
	s, err := Open(context.Background(), spec, func(done, total int) {
		calls++ // not atomic on purpose: -race catches concurrent calls
		if done < last {
			t.Errorf("progress went back from %d to %d", last, done)
		}
		last, lastTotal = done, total
	})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Created || calls == 0 || last != 25 || lastTotal != 25 {
		t.Fatalf("Created=%v progress calls=%d last=%d/%d", s.Created, calls, last, lastTotal)
	}
	want, _ := DirName(spec)
	if s.Dir != want || !strings.HasPrefix(filepath.Base(s.Dir), "ringbench-many-file-") {
		t.Fatalf("Dir %s, want %s", s.Dir, want)
	}
	if got := names(t, dir); len(got) != 1 || got[0] != filepath.Base(s.Dir) {
		t.Fatalf("parent holds %v", got)
	}
	if got := names(t, s.Dir); strings.Join(got, " ") != ".ringbench-dataset d00000 d00001 d00002" {
		t.Fatalf("set holds %v", got)
	}
	if len(s.Paths) != 25 || len(s.PathsZ) != 25 || s.Files() != 25 || s.TotalBytes() != 25*1500 {
		t.Fatalf("paths %d %d", len(s.Paths), len(s.PathsZ))
	}
	for i := range s.Paths {
		z := s.PathsZ[i]
		if z[len(z)-1] != 0 || string(z[:len(z)-1]) != s.Paths[i] || !filepath.IsAbs(s.Paths[i]) {
			t.Fatalf("PathsZ[%d] = %q, Paths %q", i, z, s.Paths[i])
		}
	}
	if filepath.Base(filepath.Dir(s.Paths[24])) != "d00002" {
		t.Fatalf("file 24 at %s", s.Paths[24])
	}
	readAll(t, s)

	// Same spec: reused, not created, not removed by its Remove. (How long reuse takes is TestCreationTimes's
	// to measure, not a test's to judge.)
	s2 := mustOpen(t, spec)
	if s2.Created || s2.Dir != s.Dir || s2.Paths[3] != s.Paths[3] {
		t.Fatalf("second Open: Created=%v Dir=%s", s2.Created, s2.Dir)
	}
	// The creator's Remove while the other Set has it open only releases it: the last user removes it.
	if err := s.Remove(); err != nil {
		t.Fatalf("Remove while in use = %v", err)
	}
	readAll(t, s2) // still there
	if err := s.Remove(); err == nil {
		t.Fatal("second Remove should say the set is closed")
	}
	if err := s2.Remove(); err != nil {
		t.Fatalf("Remove by the last user: %v", err)
	}
	requireEmpty(t, dir, "after the last Remove the parent holds")
}

func TestChangedSpecMakesNewSet(t *testing.T) {
	dir := t.TempDir()
	base := Spec{Dir: dir, Name: "small-file", Files: 3, FileSize: 4096, Seed: 1}
	a := mustOpen(t, base)
	for _, sp := range []Spec{
		{Dir: dir, Name: "small-file", Files: 3, FileSize: 4096, Seed: 2},
		{Dir: dir, Name: "small-file", Files: 3, FileSize: 8192, Seed: 1},
		{Dir: dir, Name: "small-file", Files: 4, FileSize: 4096, Seed: 1},
		{Dir: dir, Name: "small-file", Files: 3, FileSize: 4096, Seed: 1, FilesPerDir: 2},
		{Dir: dir, Name: "many-file", Files: 3, FileSize: 4096, Seed: 1},
	} {
		b := mustOpen(t, sp)
		if !b.Created || b.Dir == a.Dir {
			t.Fatalf("%+v: Created=%v Dir=%s (first %s)", sp, b.Created, b.Dir, a.Dir)
		}
		readAll(t, b)
		if err := b.Remove(); err != nil {
			t.Fatal(err)
		}
	}
	readAll(t, a)
	if err := a.Remove(); err != nil {
		t.Fatal(err)
	}
	requireEmpty(t, dir, "left")
}

func TestMarkerlessDirNeverReusedNorRemoved(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Dir: dir, Name: "small-file", Files: 1, FileSize: 4096}
	path, _ := DirName(spec)
	if err := os.MkdirAll(filepath.Join(path, "d00000"), 0o755); err != nil {
		t.Fatal(err)
	}
	precious := filepath.Join(path, "d00000", "f00000000")
	if err := os.WriteFile(precious, make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, marker := range []string{"", "not json", `{"format":"something-else"}`} {
		if marker != "" {
			if err := os.WriteFile(filepath.Join(path, markerName), []byte(marker), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		_, err := Open(context.Background(), spec, nil)
		if !errors.Is(err, ErrNotDataSet) || !strings.Contains(err.Error(), path) {
			t.Fatalf("marker %q: Open = %v, want ErrNotDataSet naming the directory", marker, err)
		}
		if err := RemoveDir(path); !errors.Is(err, ErrNotDataSet) {
			t.Fatalf("marker %q: RemoveDir = %v, want ErrNotDataSet", marker, err)
		}
		if _, err := os.Stat(precious); err != nil {
			t.Fatalf("marker %q: the foreign file is gone: %v", marker, err)
		}
	}
	// A symlink at the set's name is not followed either.
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(other, path); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), spec, nil); !errors.Is(err, ErrNotDataSet) {
		t.Fatalf("Open with a symlink at the set's name = %v", err)
	}
	if err := RemoveDir(path); !errors.Is(err, ErrNotDataSet) {
		t.Fatalf("RemoveDir(symlink) = %v", err)
	}
	if err := RemoveDir(other); !errors.Is(err, ErrNotDataSet) {
		t.Fatalf("RemoveDir(other) = %v", err)
	}
}

func TestFreeSpaceRefusedBeforeWriting(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(context.Background(), Spec{Dir: dir, Name: "small-file", Files: 1024, FileSize: 1 << 40}, nil)
	if err == nil || !strings.Contains(err.Error(), "--dir "+dir) || !strings.Contains(err.Error(), "not enough free space") ||
		!strings.Contains(err.Error(), "needs 1.1 PiB") || !strings.Contains(err.Error(), "is free") {
		t.Fatalf("Open of a set larger than the disk = %v", err)
	}
	requireEmpty(t, dir, "left")
	// On a small tmpfs the same check applies, with exact figures.
	small := testsupport.MountTmpfs(t, "size=2m")
	_, err = Open(context.Background(), Spec{Dir: small, Name: "small-file", Files: 4, FileSize: 1 << 20}, nil)
	if err == nil || !strings.Contains(err.Error(), "not enough free space") {
		t.Fatalf("Open of 4 MiB on a 2 MiB tmpfs = %v", err)
	}
	requireEmpty(t, small, "left")
}

func TestDiskFullMidCreation(t *testing.T) {
	small := testsupport.MountTmpfs(t, "size=2m")
	spec := Spec{Dir: small, Name: "small-file", Files: 4, FileSize: 1 << 20}
	_, err := open(context.Background(), spec, nil, openOptions{skipSpaceCheck: true})
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "--dir "+small) ||
		!errors.Is(err, unix.ENOSPC) || strings.Contains(err.Error(), "could not be removed") {
		t.Fatalf("Open past a full disk = %v", err)
	}
	requireEmpty(t, small, "the partial set was not removed:")
	var st unix.Statfs_t
	if err := unix.Statfs(small, &st); err != nil || st.Bfree != st.Blocks {
		t.Fatalf("tmpfs not empty after cleanup: %d of %d blocks free (%v)", st.Bfree, st.Blocks, err)
	}
}

func TestCancelLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	spec := Spec{Dir: dir, Name: "many-file", Files: 300, FileSize: 4096, FilesPerDir: 50}
	_, err := open(ctx, spec, nil, openOptions{afterFile: func(done int) {
		if done == 20 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Open cancelled = %v", err)
	}
	requireEmpty(t, dir, "left")
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := Open(ctx2, spec, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Open with a done context = %v", err)
	}
}

func TestStalePartialCleanedUp(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Dir: dir, Name: "many-file", Files: 40, FileSize: 4096, FilesPerDir: 8}
	crash := func() string {
		_, err := open(context.Background(), spec, nil, openOptions{crashAfter: 5})
		if !errors.Is(err, errSimulatedCrash) {
			t.Fatalf("simulated crash: %v", err)
		}
		got := names(t, dir)
		if len(got) != 1 || !strings.Contains(got[0], ".partial-") {
			t.Fatalf("after a crash the parent holds %v", got)
		}
		return filepath.Join(dir, got[0])
	}
	// A partial set whose creator is alive (holds the lock) is left alone, and Open waits for its creator
	// to finish rather than making the same set beside it.
	live := crash()
	lfd, err := unix.Open(live, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(lfd, unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if _, err := Open(ctx, spec, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open while another process creates the set = %v, want it to wait", err)
	}
	if got := names(t, dir); len(got) != 1 || got[0] != filepath.Base(live) {
		t.Fatalf("while waiting the parent holds %v", got)
	}
	if _, err := os.Stat(filepath.Join(live, markerName)); err != nil {
		t.Fatalf("a locked partial set was touched: %v", err)
	}
	unix.Close(lfd) // the "creator" dies
	// Now it is stale: the next Open removes it.
	s := mustCreate(t, spec, "not created")
	if got := names(t, dir); len(got) != 1 || got[0] != filepath.Base(s.Dir) {
		t.Fatalf("stale partial set not removed: %v", got)
	}
	readAll(t, s)
	if err := s.Remove(); err != nil {
		t.Fatal(err)
	}
	// RemoveDir removes a stale partial set by path too.
	p := crash()
	if err := RemoveDir(p); err != nil {
		t.Fatalf("RemoveDir(partial) = %v", err)
	}
	requireEmpty(t, dir, "left")
}

func TestDamagedSetRecreated(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Dir: dir, Name: "small-file", Files: 6, FileSize: 4096}
	s := mustOpen(t, spec)
	if err := s.Close(); err != nil { // --keep
		t.Fatal(err)
	}
	if err := os.Remove(s.Paths[2]); err != nil {
		t.Fatal(err)
	}
	s2 := mustCreate(t, spec, "a damaged set was reused")
	readAll(t, s2)
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	// Truncated file: same.
	if err := os.Truncate(s2.Paths[5], 100); err != nil {
		t.Fatal(err)
	}
	s3 := mustCreate(t, spec, "a set with a short file was reused")
	if err := s3.Close(); err != nil {
		t.Fatal(err)
	}
	// Kept set removed explicitly by path; in use → refused.
	s4 := mustOpen(t, spec)
	if err := RemoveDir(s4.Dir); !errors.Is(err, ErrInUse) {
		t.Fatalf("RemoveDir while open = %v", err)
	}
	s4.Close()
	if err := RemoveDir(s4.Dir); err != nil {
		t.Fatalf("RemoveDir = %v", err)
	}
	requireEmpty(t, dir, "left")
}

// writeDecoy fills dir with files named like a data set's, and the set's own marker.
func writeDecoy(t *testing.T, dir string, s *Set) []string {
	t.Helper()
	marker, err := os.ReadFile(filepath.Join(s.Dir, markerName))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{markerName: marker}
	for i, p := range s.Paths {
		files[strings.TrimPrefix(p, s.Dir+"/")] = Block(i, 0, int(s.FileSize), s.Seed)
	}
	var out []string
	for rel, data := range files {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func TestRemoveRefusesSwappedDirectory(t *testing.T) {
	for _, swap := range []string{"symlink", "directory"} {
		t.Run(swap, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, Spec{Dir: dir, Name: "small-file", Files: 3, FileSize: 4096})
			other := filepath.Join(dir, "other")
			decoy := writeDecoy(t, other, s)
			moved := s.Dir + "-moved"
			if err := os.Rename(s.Dir, moved); err != nil {
				t.Fatal(err)
			}
			if swap == "symlink" {
				if err := os.Symlink(other, s.Dir); err != nil {
					t.Fatal(err)
				}
			} else if err := os.Rename(other, s.Dir); err != nil {
				t.Fatal(err)
			}
			err := s.Remove()
			if err == nil || !strings.Contains(err.Error(), "nothing was deleted") {
				t.Fatalf("Remove after the swap = %v", err)
			}
			for _, p := range decoy {
				if swap == "directory" {
					p = strings.Replace(p, other, s.Dir, 1)
				}
				if _, err := os.Stat(p); err != nil {
					t.Errorf("the other directory lost %s: %v", p, err)
				}
			}
			for _, p := range s.Paths {
				if _, err := os.Stat(strings.Replace(p, s.Dir, moved, 1)); err != nil {
					t.Errorf("the moved set lost a file: %v", err)
				}
			}
		})
	}
}

func TestRemoveDoesNotFollowSubdirSymlink(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, Spec{Dir: dir, Name: "many-file", Files: 4, FileSize: 4096, FilesPerDir: 2})
	decoy := writeDecoy(t, filepath.Join(dir, "other"), s)
	// d00000 of the set becomes a symlink to the decoy's d00000, which holds files of the same names.
	if err := os.RemoveAll(filepath.Join(s.Dir, "d00000")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "other", "d00000"), filepath.Join(s.Dir, "d00000")); err != nil {
		t.Fatal(err)
	}
	err := s.Remove()
	if err == nil || !strings.Contains(err.Error(), "d00000") {
		t.Fatalf("Remove = %v", err)
	}
	for _, p := range decoy {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("followed the symlink: %s: %v", p, err)
		}
	}
	if _, err := os.Lstat(s.Paths[2]); !os.IsNotExist(err) {
		t.Errorf("the set's own file 2 not removed: %v", err)
	}
}

func TestRemoveKeepsForeignFiles(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Dir: dir, Name: "many-file", Files: 6, FileSize: 4096, FilesPerDir: 3}
	s := mustOpen(t, spec)
	outside := filepath.Join(dir, "outside.txt")
	if err := os.WriteFile(outside, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	foreignTop := filepath.Join(s.Dir, "notes.txt")
	foreignSub := filepath.Join(s.Dir, "d00001", "mine.dat")
	for _, p := range []string{foreignTop, foreignSub} {
		if err := os.WriteFile(p, []byte("not ringbench's"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A data file replaced by a symlink to a file outside, and one replaced by a new file of the same size.
	if err := os.Remove(s.Paths[0]); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, s.Paths[0]); err != nil {
		t.Fatal(err)
	}
	var before, after unix.Stat_t
	_ = unix.Stat(s.Paths[4], &before)
	if err := os.Remove(s.Paths[4]); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.Paths[4], Block(4, 0, 4096, s.Seed), 0o644); err != nil {
		t.Fatal(err)
	}
	if _ = unix.Stat(s.Paths[4], &after); after.Ino == before.Ino {
		t.Logf("the replacement of file 4 got the same inode number %d: only its birth time tells", after.Ino)
	}
	err := s.Remove()
	if err == nil || !strings.Contains(err.Error(), "notes.txt") || !strings.Contains(err.Error(), "d00001/mine.dat") ||
		!strings.Contains(err.Error(), "d00000/f00000000 (not a regular file)") ||
		!strings.Contains(err.Error(), "d00001/f00000004 (not the file ringbench created)") {
		t.Fatalf("Remove with foreign files = %v", err)
	}
	for _, p := range []string{foreignTop, foreignSub, outside, s.Paths[0], s.Paths[4]} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s did not survive: %v", p, err)
		}
	}
	if b, _ := os.ReadFile(outside); string(b) != "keep me" {
		t.Errorf("outside file changed: %q", b)
	}
	for _, i := range []int{1, 2, 3, 5} {
		if _, err := os.Lstat(s.Paths[i]); !os.IsNotExist(err) {
			t.Errorf("ringbench's file %d not removed: %v", i, err)
		}
	}
	// The directory stays, marked incomplete: never reused, and Open says what is in the way.
	if _, err := os.Stat(filepath.Join(s.Dir, markerName)); err != nil {
		t.Fatalf("marker gone: %v", err)
	}
	_, err = Open(context.Background(), spec, nil)
	if err == nil || !strings.Contains(err.Error(), "notes.txt") {
		t.Fatalf("Open over the left-over directory = %v", err)
	}
	// Once the user clears the foreign files away, the next Open cleans up and creates the set.
	for _, p := range []string{foreignTop, foreignSub, s.Paths[0], s.Paths[4]} {
		os.Remove(p)
	}
	s2 := mustCreate(t, spec, "not recreated")
	readAll(t, s2)
	if err := s2.Remove(); err != nil {
		t.Fatal(err)
	}
	if got := names(t, dir); strings.Join(got, " ") != "outside.txt" {
		t.Fatalf("left %v", got)
	}
}

func TestConcurrentOpen(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Dir: dir, Name: "many-file", Files: 200, FileSize: 4096, FilesPerDir: 50}
	const n = 4
	sets, errs := openAtOnce(spec, n)
	var creator *Set
	for i, s := range sets {
		if errs[i] != nil {
			t.Fatalf("Open %d: %v", i, errs[i])
		}
		if s.Created {
			if creator != nil {
				t.Fatal("two Opens created the set")
			}
			creator = s
		}
	}
	if creator == nil {
		t.Fatal("no Open created the set")
	}
	if got := names(t, dir); len(got) != 1 {
		t.Fatalf("parent holds %v", got)
	}
	readAll(t, creator)
	for _, s := range sets {
		if s != creator {
			if err := s.Remove(); err != nil { // reused: only closes
				t.Fatal(err)
			}
		}
	}
	if err := creator.Remove(); err != nil {
		t.Fatal(err)
	}
	requireEmpty(t, dir, "left")
}

func TestVerify(t *testing.T) {
	const seed = 42
	file := Block(3, 0, 8192+300, seed)
	// Fill at any offset and length agrees with the whole file.
	for _, c := range [][2]int{{0, 512}, {1, 1}, {511, 2}, {100, 4000}, {4096, 4096}, {8000, 492}, {8192, 300}} {
		got := Block(3, int64(c[0]), c[1], seed)
		if !bytes.Equal(got, file[c[0]:c[0]+c[1]]) {
			t.Fatalf("Block(offset %d, len %d) differs from the file", c[0], c[1])
		}
		if err := Verify(got, 3, int64(c[0]), seed); err != nil {
			t.Fatal(err)
		}
	}
	// Headers: magic, file index, offset.
	if string(file[4096:4104]) != "rbdata01" || file[4096+8] != 3 || file[4096+17] != 0x10 {
		t.Fatalf("sector header % x", file[4096:4120])
	}
	// Different file, offset or seed give different content.
	if bytes.Equal(Block(3, 0, 512, seed)[24:], Block(4, 0, 512, seed)[24:]) ||
		bytes.Equal(Block(3, 0, 512, seed)[24:], Block(3, 512, 512, seed)[24:]) ||
		bytes.Equal(Block(3, 0, 512, seed)[24:], Block(3, 0, 512, seed+1)[24:]) {
		t.Fatal("PRNG streams repeat")
	}
	// A flipped byte.
	blk := Block(3, 4096, 4096, seed)
	blk[1234] ^= 0x40
	err := Verify(blk, 3, 4096, seed)
	if err == nil || !strings.Contains(err.Error(), "file 3") || !strings.Contains(err.Error(), "block at offset 4096") ||
		!strings.Contains(err.Error(), "mismatch at file offset 5330") {
		t.Fatalf("Verify(flipped byte) = %v", err)
	}
	// A misdirected read: another file's block.
	err = Verify(Block(9, 512, 512, seed), 3, 4096, seed)
	if err == nil || !strings.Contains(err.Error(), "holds file 9 offset 512") {
		t.Fatalf("Verify(misdirected) = %v", err)
	}
	if err := Verify(make([]byte, 512), 3, 0, seed); err == nil || !strings.Contains(err.Error(), "all zeros") {
		t.Fatalf("Verify(zeros) = %v", err)
	}
	if err := Verify(blk[:0], 3, 0, seed); err != nil {
		t.Fatal(err)
	}
}

func TestResidencyWarmEvictLock(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, Spec{Dir: dir, Name: "small-file", Files: 4, FileSize: 1<<20 + 100})
	defer s.Remove()
	pages := int64(4 * 257)
	if err := Evict(s.Paths); err != nil {
		t.Fatal(err)
	}
	r, total, err := Residency(s.Paths)
	if err != nil || total != pages {
		t.Fatalf("Residency = %d/%d, %v; want %d pages", r, total, err, pages)
	}
	if r >= total {
		t.Fatalf("after Evict %d of %d pages resident", r, total)
	}
	t.Logf("after Evict: %d of %d pages resident", r, total)
	if err := Warm(context.Background(), s.Paths); err != nil {
		t.Fatal(err)
	}
	if r, total, _ = Residency(s.Paths); r < total*99/100 {
		t.Fatalf("after Warm %d of %d pages resident", r, total)
	}
	if err := Evict(s.Paths); err != nil {
		t.Fatal(err)
	}
	lk, err := LockInMemory(s.Paths)
	if err != nil {
		t.Fatal(err)
	}
	if lk.Bytes() != pages*pageSize {
		t.Fatalf("lock holds %d bytes", lk.Bytes())
	}
	if r, total, _ = Residency(s.Paths); r != total {
		t.Fatalf("locked: %d of %d pages resident", r, total)
	}
	if err := Evict(s.Paths); err != nil { // locked pages stay
		t.Fatal(err)
	}
	if r, total, _ = Residency(s.Paths); r != total {
		t.Fatalf("locked, after Evict: %d of %d pages resident", r, total)
	}
	if err := lk.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := lk.Unlock(); err != nil {
		t.Fatal(err)
	}
	// Empty files count nothing; a missing file is an error.
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if r, total, err := Residency([]string{empty}); r != 0 || total != 0 || err != nil {
		t.Fatalf("Residency(empty) = %d/%d, %v", r, total, err)
	}
	if lk, err := LockInMemory([]string{empty}); err != nil {
		t.Fatal(err)
	} else {
		lk.Unlock()
	}
	if _, _, err := Residency([]string{filepath.Join(dir, "missing")}); err == nil {
		t.Fatal("Residency(missing) succeeded")
	}
	if err := Warm(context.Background(), []string{empty}); err != nil {
		t.Fatal(err)
	}
}

// TestLockInMemoryLimitError runs LockInMemory in a child process whose RLIMIT_MEMLOCK is 64 KiB and whose
// locking thread has dropped its capabilities (so neither CAP_IPC_LOCK nor raising the limit helps).
func TestLockInMemoryLimitError(t *testing.T) {
	if p := os.Getenv("DATASET_MLOCK_CHILD"); p != "" {
		runtime.LockOSThread() // capabilities are per thread: drop them on the one LockInMemory runs on
		lim := unix.Rlimit{Cur: 64 << 10, Max: 64 << 10}
		if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
			t.Fatal(err)
		}
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			t.Fatal(err)
		}
		data[0].Effective, data[1].Effective = 0, 0
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			t.Fatal(err)
		}
		_, err := LockInMemory([]string{p})
		t.Logf("CHILD-ERROR: %v", err)
		return
	}
	f := filepath.Join(t.TempDir(), "one-mib")
	if err := os.WriteFile(f, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockInMemoryLimitError$", "-test.v")
	cmd.Env = append(os.Environ(), "DATASET_MLOCK_CHILD="+f)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "CHILD-ERROR: --mlock: cannot lock the data set (1.0 MiB) in memory: RLIMIT_MEMLOCK is 64.0 KiB") {
		t.Fatalf("child output:\n%s", out)
	}
}

// TestCreationTimes measures creation, reuse, residency and removal of the two typical sets. It writes
// 300 MiB, so it runs only when asked: RINGBENCH_DATASET_TIMING=1 go test -run CreationTimes -v.
func TestCreationTimes(t *testing.T) {
	if os.Getenv("RINGBENCH_DATASET_TIMING") == "" {
		t.Skip("set RINGBENCH_DATASET_TIMING=1 to measure creation times")
	}
	dir := t.TempDir()
	if d := os.Getenv("RINGBENCH_DATASET_DIR"); d != "" {
		dir = d
	}
	for _, spec := range []Spec{
		{Dir: dir, Name: "many-file", Files: 10000, FileSize: 4096},
		{Dir: dir, Name: "small-file", Files: 1, FileSize: 256 << 20},
	} {
		start := time.Now()
		s := mustOpen(t, spec)
		created := time.Since(start)
		start = time.Now()
		s2 := mustOpen(t, spec)
		reused := time.Since(start)
		s2.Close()
		start = time.Now()
		r, total, err := Residency(s.Paths)
		if err != nil {
			t.Fatal(err)
		}
		res := time.Since(start)
		start = time.Now()
		if err := Evict(s.Paths); err != nil {
			t.Fatal(err)
		}
		evict := time.Since(start)
		start = time.Now()
		if err := Warm(context.Background(), s.Paths); err != nil {
			t.Fatal(err)
		}
		warm := time.Since(start)
		start = time.Now()
		lk, err := LockInMemory(s.Paths)
		if err != nil {
			t.Fatal(err)
		}
		lock := time.Since(start)
		lk.Unlock()
		start = time.Now()
		if err := s.Remove(); err != nil {
			t.Fatal(err)
		}
		removed := time.Since(start)
		t.Logf("%d x %s: create %v, reuse %v, residency %v (%d/%d pages), evict (fdatasync+DONTNEED) %v, warm %v, lock %v, remove %v",
			spec.Files, fmtBytes(spec.FileSize), created.Round(time.Millisecond), reused.Round(time.Millisecond),
			res.Round(time.Millisecond), r, total, evict.Round(time.Millisecond), warm.Round(time.Millisecond),
			lock.Round(time.Millisecond), removed.Round(time.Millisecond))
	}
}

// TestKeptSetUserFileAtDataPath: in a kept set (no list of inodes this process made), a file at a data
// file's path is deleted only when its content proves it the data set's; the user's file stays, named.
func TestKeptSetUserFileAtDataPath(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Dir: dir, Name: "many-file", Files: 6, FileSize: 4096, FilesPerDir: 3, Seed: 3}
	s := mustOpen(t, spec)
	if err := s.Close(); err != nil { // --keep
		t.Fatal(err)
	}
	// Damage: file 1 is gone. The user's own data (of the right size) at the path of file 4, and a copy of
	// another file's content (right header magic, wrong file) at the path of file 5.
	if err := os.Remove(s.Paths[1]); err != nil {
		t.Fatal(err)
	}
	mine := bytes.Repeat([]byte("user data "), 4096/10+1)[:4096]
	for i, data := range map[int][]byte{4: mine, 5: Block(2, 0, 4096, s.Seed)} {
		if err := os.Remove(s.Paths[i]); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(s.Paths[i], data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Only the tail of file 3 rewritten: its last sector no longer proves it.
	f, err := os.OpenFile(s.Paths[3], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("edited"), 4000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	check := func(what string, err error) {
		t.Helper()
		for _, want := range []string{"d00001/f00000004 (its content at offset 0 is not the data set's)",
			"d00001/f00000005 (its content at offset 0", "d00001/f00000003 (its content at offset 3584"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("%s = %v, want it to name %q", what, err, want)
			}
		}
		if b, err := os.ReadFile(s.Paths[4]); err != nil || !bytes.Equal(b, mine) {
			t.Fatalf("%s: the user's file at a data file's path is gone or changed: %v", what, err)
		}
		for _, i := range []int{3, 5} {
			if _, err := os.Stat(s.Paths[i]); err != nil {
				t.Fatalf("%s: file %d, which does not prove itself, is gone: %v", what, i, err)
			}
		}
		for _, i := range []int{0, 2} {
			if _, err := os.Lstat(s.Paths[i]); !os.IsNotExist(err) {
				t.Fatalf("%s: ringbench's file %d not removed: %v", what, i, err)
			}
		}
	}
	// Open finds the set damaged and tries to remove it; RemoveDir by path says the same.
	_, err = Open(context.Background(), spec, nil)
	check("Open over the damaged kept set", err)
	check("RemoveDir", RemoveDir(s.Dir))
}

// TestCancelBigCreationReturnsPromptly: a cancelled creation of a set of many files returns within a few
// seconds (removing its partial directory is bounded by cleanupBudget), and the next Open, of any set in
// the same --dir, removes what it left.
func TestCancelBigCreationReturnsPromptly(t *testing.T) {
	if testing.Short() {
		t.Skip("creates tens of thousands of files")
	}
	dir := t.TempDir()
	spec := Spec{Dir: dir, Name: "many-file", Files: 200_000, FileSize: 1, FilesPerDir: 1000}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const cancelAt = 20_000
	var cancelled time.Time
	start := time.Now()
	_, err := open(ctx, spec, nil, openOptions{afterFile: func(done int) {
		if done == cancelAt {
			cancelled = time.Now()
			cancel()
		}
	}})
	took := time.Since(cancelled)
	if cancelled.IsZero() {
		t.Fatalf("creation ended before %d files: %v", cancelAt, err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Open cancelled = %v", err)
	}
	left := names(t, dir)
	t.Logf("%d files in %v, then Open returned %v after the cancel; left %v: %v",
		cancelAt, cancelled.Sub(start).Round(time.Millisecond), took.Round(time.Millisecond), left, err)
	// The budget is 2s; the ceiling is generous for a busy machine, far below the minutes an unbounded
	// removal of a big partial set takes.
	if took > 20*time.Second {
		t.Errorf("a cancelled creation took %v to return", took)
	}
	if len(left) > 0 && !errors.Is(err, ErrPartialLeft) {
		t.Errorf("the partial set was left but the error does not say so: %v", err)
	}
	s := mustOpen(t, Spec{Dir: dir, Name: "small-file", Files: 1, FileSize: 4096})
	if got := names(t, dir); len(got) != 1 || got[0] != filepath.Base(s.Dir) {
		t.Fatalf("the next Open left %v", got)
	}
	if err := s.Remove(); err != nil {
		t.Fatal(err)
	}
}

// TestCancelLeavesPartialWhenOutOfTime: once the cleanup budget is spent, the partial directory is left,
// the error says so, and the next Open removes it.
func TestCancelLeavesPartialWhenOutOfTime(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	spec := Spec{Dir: dir, Name: "many-file", Files: 300, FileSize: 4096, FilesPerDir: 50}
	_, err := open(ctx, spec, nil, openOptions{cleanupBudget: time.Nanosecond, afterFile: func(done int) {
		if done == 20 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrPartialLeft) ||
		!strings.Contains(err.Error(), "is left for the next run to remove") {
		t.Fatalf("Open cancelled = %v", err)
	}
	if got := names(t, dir); len(got) != 1 || !strings.Contains(got[0], ".partial-") {
		t.Fatalf("left %v, want the partial directory", got)
	}
	s := mustOpen(t, spec)
	if got := names(t, dir); len(got) != 1 || got[0] != filepath.Base(s.Dir) {
		t.Fatalf("the next Open left %v", got)
	}
	if err := s.Remove(); err != nil {
		t.Fatal(err)
	}
}

// TestSharedSetChild is a user of a data set in its own process, for TestSharedSetLastUserRemoves: it
// opens the set, says so, waits for its stdin to close, reads and checks every file, then removes or keeps
// the set.
func TestSharedSetChild(t *testing.T) {
	dir := os.Getenv("DATASET_SHARE_CHILD")
	if dir == "" {
		t.Skip("run by TestSharedSetLastUserRemoves")
	}
	s, err := Open(context.Background(), sharedSpec(dir), nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	fmt.Printf("OPENED created=%v\n", s.Created)
	_, _ = io.Copy(io.Discard, os.Stdin)
	readAll(t, s)
	if os.Getenv("DATASET_SHARE_KEEP") == "1" {
		err = s.Keep()
	} else {
		err = s.Remove()
	}
	if err != nil {
		t.Fatalf("release: %v", err)
	}
}

func sharedSpec(dir string) Spec {
	return Spec{Dir: dir, Name: "many-file", Files: 600, FileSize: 4096, FilesPerDir: 100, Seed: 11}
}

// shareRound runs one child process per entry of keep, all opening the set at once; once all hold it, they
// all read it and leave at once (keeping it or removing it). It returns how many created it.
func shareRound(t *testing.T, dir string, keep []bool) int {
	t.Helper()
	type child struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		out    *bufio.Reader
		output bytes.Buffer // stdout, read here
		stderr bytes.Buffer // written by exec's copying goroutine until Wait
	}
	kids := make([]*child, len(keep))
	for i, k := range keep {
		c := &child{cmd: exec.Command(os.Args[0], "-test.run=^TestSharedSetChild$", "-test.v")}
		c.cmd.Env = append(os.Environ(), "DATASET_SHARE_CHILD="+dir, fmt.Sprintf("DATASET_SHARE_KEEP=%d", map[bool]int{false: 0, true: 1}[k]))
		c.cmd.Stderr = &c.stderr
		var err error
		if c.stdin, err = c.cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		stdout, err := c.cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		c.out = bufio.NewReader(stdout)
		kids[i] = c
	}
	for _, c := range kids {
		if err := c.cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	created := 0
	for i, c := range kids {
		for {
			line, err := c.out.ReadString('\n')
			c.output.WriteString(line)
			if err != nil {
				c.cmd.Wait()
				t.Fatalf("child %d ended before it opened the set: %v\n%s%s", i, err, c.output.String(), c.stderr.String())
			}
			if strings.HasPrefix(line, "OPENED ") {
				if strings.Contains(line, "created=true") {
					created++
				}
				break
			}
		}
	}
	// All hold the set: let them go at once.
	for _, c := range kids {
		c.stdin.Close()
	}
	for i, c := range kids {
		rest, _ := io.ReadAll(c.out)
		c.output.Write(rest)
		if err := c.cmd.Wait(); err != nil {
			t.Errorf("child %d: %v\n%s%s", i, err, c.output.String(), c.stderr.String())
		}
	}
	return created
}

// TestSharedSetLastUserRemoves: ringbench processes that run at once on one --dir share the data set; none
// fails, and the last to leave removes it, unless one of them asked to keep it.
func TestSharedSetLastUserRemoves(t *testing.T) {
	dir := t.TempDir()
	for round := range 3 {
		if n := shareRound(t, dir, []bool{false, false, false}); n != 1 {
			t.Errorf("round %d: %d processes created the set, want 1", round, n)
		}
		requireEmpty(t, dir, fmt.Sprintf("round %d: three users left", round))
	}
	// One of three asked to keep it: it stays, complete and reusable, and later Removes leave it.
	shareRound(t, dir, []bool{false, true, false})
	path, _ := DirName(sharedSpec(dir))
	if got := names(t, dir); len(got) != 1 || got[0] != filepath.Base(path) {
		t.Fatalf("a kept set: the parent holds %v", got)
	}
	// Kept reads as the markers of older ringbench versions do: without the transient mark.
	if m, err := os.ReadFile(filepath.Join(path, markerName)); err != nil || bytes.Contains(m, []byte("transient")) {
		t.Fatalf("the kept set's marker: %v\n%s", err, m)
	}
	s := mustOpen(t, sharedSpec(dir))
	if s.Created {
		t.Fatal("the kept set was not reused")
	}
	readAll(t, s)
	if err := s.Remove(); err != nil {
		t.Fatal(err)
	}
	if got := names(t, dir); len(got) != 1 {
		t.Fatalf("Remove deleted a kept set: the parent holds %v", got)
	}
	if err := RemoveDir(path); err != nil {
		t.Fatal(err)
	}
	// A set left behind by a run that ended without Remove (killed) is removed by the next run that uses it.
	s = mustOpen(t, sharedSpec(dir))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = mustOpen(t, sharedSpec(dir))
	if s.Created {
		t.Fatal("not reused")
	}
	if err := s.Remove(); err != nil {
		t.Fatal(err)
	}
	requireEmpty(t, dir, "the set a killed run left was not removed: the parent holds")
}

// TestConcurrentOpenOfDamagedSet: Opens (separate descriptors, so their flocks contend) that find the same
// kept set damaged at once all succeed: one removes and recreates it, the others use the new one.
func TestConcurrentOpenOfDamagedSet(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Dir: dir, Name: "many-file", Files: 300, FileSize: 4096, FilesPerDir: 50}
	s := mustOpen(t, spec)
	if err := s.Keep(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(s.Paths[123]); err != nil {
		t.Fatal(err)
	}
	const n = 3
	sets, errs := openAtOnce(spec, n)
	created := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Open %d: %v", i, errs[i])
		}
		if sets[i].Created {
			created++
		}
	}
	if created != 1 {
		t.Errorf("%d Opens created the set, want 1", created)
	}
	readAll(t, sets[0])
	for _, s := range sets {
		if err := s.Remove(); err != nil {
			t.Fatal(err)
		}
	}
	requireEmpty(t, dir, "left")
}
