// Package dataset creates, reuses, checks and removes the file data sets of the file workloads
// (small-file, many-file). It only ever deletes what it created.
//
// A data set lives in Dir/ringbench-<name>-<hash>, where the hash covers the whole layout (name, number
// and size of files, files per subdirectory, seed, content version). Files are Dir/.../dNNNNN/fNNNNNNNN;
// file i lives in subdirectory i/FilesPerDir. The directory holds a marker file, .ringbench-dataset (JSON),
// that proves ringbench made it and says whether it is complete.
//
// Creation happens in a sibling directory ringbench-<name>-<hash>.partial-<time><random> that is locked
// (flock) while it is built, carries an "incomplete" marker from its first moment, gets the "complete"
// marker last, and is then renamed into place with RENAME_NOREPLACE: the final name only ever holds a
// complete set. A process that finds another creating the same set (its partial directory locked) waits
// for it and uses its set rather than making a second one. A creation that fails or is cancelled spends at
// most cleanupBudget removing its partial directory and leaves the rest; a crash leaves all of it. Any
// later Open in the same --dir proves such a directory ringbench's (name, marker, lock free) and removes it.
//
// Sharing: an open Set holds a shared flock on its directory, so runs on one --dir share a set. A set Open
// makes is transient (its marker says so): Remove releases it, and the last user to leave deletes it. "Last"
// is decided by the lock itself: a leaver tries to turn its shared lock into an exclusive one without
// waiting; if that fails, someone else holds the lock and will run the same test when it leaves (a failed
// conversion drops the lock, so of two leavers at once one always succeeds). A run asked to --keep its
// sets calls Keep instead, which marks the set kept for good: no Remove deletes a kept set (nor a set of an
// older ringbench, whose marker lacks the mark), only RemoveDir does. A transient set a killed run left is
// reused and then deleted by the next run that Removes it. Removal needs the exclusive lock, so a set in
// use by another process is never removed under it.
//
// Deletion is of what ringbench made only: the marker proves the directory ringbench's; within it, a file
// at a data file's path is deleted when it is the very inode this process created or, failing that list,
// when its first and last sectors carry the data set's content (see Verify). Anything else is left and
// named in the error.
//
// Content is deterministic (see Fill and Verify): every 512-byte sector carries a header and a PRNG stream
// of its own, so a reader can check any block it read. Residency, Warm, Evict and LockInMemory deal with the
// page cache, which on some machines evicts idle pages within a minute: a "page-cache" benchmark must check
// residency (mincore) or lock the set in memory.
package dataset

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Flag names used in errors, so that a bad value names the flag the user typed.
const (
	FlagDir      = "--dir"
	FlagFiles    = "--files"
	FlagFileSize = "--file-size"
)

const (
	// DefaultFilesPerDir is how many files share a subdirectory when Spec.FilesPerDir is 0.
	DefaultFilesPerDir = 1000
	// MaxFiles bounds --files.
	MaxFiles = 100_000_000

	markerName    = ".ringbench-dataset"
	markerTmpName = ".ringbench-dataset.new"
	markerFormat  = "ringbench-dataset"
	partialInfix  = ".partial-"
	// spaceMargin is added to every free-space estimate, beside 5%.
	spaceMargin = 16 << 20
	// writeChunk is the largest single write when creating files.
	writeChunk = 1 << 20
	// cleanupBudget bounds how long a failed or cancelled creation spends removing its partial directory
	// (millions of files take minutes): what is left then is left for the next Open, which removes it.
	cleanupBudget = 2 * time.Second
)

var (
	// ErrInUse marks a data set another ringbench process (or another Set in this one) has open.
	ErrInUse = errors.New("the data set is in use by another ringbench process")
	// ErrPartialLeft marks an Open error after which the partial directory of the set it was creating is
	// left in --dir (its removal ran out of cleanupBudget): the next Open removes it. A caller that drops
	// errors of a cancelled Open should still say this one.
	ErrPartialLeft = errors.New("is left for the next run to remove")
	// ErrNotDataSet marks a directory ringbench cannot prove it made: it is never reused nor removed.
	ErrNotDataSet = errors.New("not a ringbench data set")

	errRetry          = errors.New("data set directory changed while looking at it")
	errRemovalStopped = errors.New("removal stopped before the end")
	errOtherCreator   = errors.New("another process is creating the same data set")
	errSimulatedCrash = errors.New("simulated crash (test hook)")
)

// Spec describes a data set.
type Spec struct {
	// Dir is the parent directory given by --dir (must exist and be writable).
	Dir string
	// Name is the data set name, e.g. "small-file" or "many-file" (lower-case letters, digits, '-').
	Name string
	// Files is the number of files (--files).
	Files int
	// FileSize is the size of each file in bytes (--file-size).
	FileSize int64
	// FilesPerDir spreads the files over subdirectories to avoid giant directories; 0 means
	// DefaultFilesPerDir.
	FilesPerDir int
	// Seed seeds the content.
	Seed uint64
}

// Set is an open data set. It holds a shared lock on its directory until Remove, Keep or Close.
type Set struct {
	// Dir is the data set directory (absolute), Dir of the Spec joined with ringbench-<name>-<hash>.
	Dir string
	// Paths are the absolute paths of the files; file i is Paths[i]. PathsZ are the same, NUL-terminated
	// (for io_uring OPENAT).
	Paths  []string
	PathsZ [][]byte
	// FileSize is the size of every file.
	FileSize int64
	// Seed is the content seed (for Verify).
	Seed uint64
	// Created is true when this Open made the set; false when it reused one made before.
	Created bool

	mu     sync.Mutex
	l      layout
	parent string // absolute parent directory
	base   string // directory name in parent
	fd     int    // the set directory, holding the flock; -1 once closed
	made   *madeFiles
	closed bool
}

// layout is a validated Spec without its Dir: everything that decides what is on disk.
type layout struct {
	name     string
	files    int
	fileSize int64
	perDir   int
	seed     uint64
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// layout validates the spec, naming the flag at fault.
func (sp Spec) layout() (layout, error) {
	switch {
	case sp.Files < 1:
		return layout{}, fmt.Errorf("%s %d: must be at least 1", FlagFiles, sp.Files)
	case sp.Files > MaxFiles:
		return layout{}, fmt.Errorf("%s %d: at most %d", FlagFiles, sp.Files, MaxFiles)
	case sp.FileSize < 1:
		return layout{}, fmt.Errorf("%s %d: must be at least 1 byte", FlagFileSize, sp.FileSize)
	case sp.FileSize > math.MaxInt64/int64(sp.Files)/2:
		return layout{}, fmt.Errorf("%s %d x %s %d: data set too large", FlagFiles, sp.Files, FlagFileSize, sp.FileSize)
	case sp.FilesPerDir < 0:
		return layout{}, fmt.Errorf("data set files per directory %d: must be positive", sp.FilesPerDir)
	case !nameRE.MatchString(sp.Name):
		return layout{}, fmt.Errorf("data set name %q: use 1 to 63 lower-case letters, digits and '-'", sp.Name)
	}
	per := sp.FilesPerDir
	if per == 0 {
		per = DefaultFilesPerDir
	}
	return layout{name: sp.Name, files: sp.Files, fileSize: sp.FileSize, perDir: per, seed: sp.Seed}, nil
}

func (l layout) dirs() int                { return (l.files + l.perDir - 1) / l.perDir }
func (l layout) totalBytes() int64        { return int64(l.files) * l.fileSize }
func subdirName(d int) string             { return fmt.Sprintf("d%05d", d) }
func fileName(i int) string               { return fmt.Sprintf("f%08d", i) }
func (l layout) relPath(i int) string     { return subdirName(i/l.perDir) + "/" + fileName(i) }
func (l layout) filesIn(d int) (int, int) { return d * l.perDir, min((d+1)*l.perDir, l.files) }

// hash identifies the layout and the content version.
func (l layout) hash() string {
	h := sha256.Sum256([]byte(fmt.Sprintf("ringbench-dataset/v%d/%s/%d/%d/%d/%d",
		ContentVersion, l.name, l.files, l.fileSize, l.perDir, l.seed)))
	return hex.EncodeToString(h[:6])
}

// dirName is the name of the set directory inside --dir.
func (l layout) dirName() string { return "ringbench-" + l.name + "-" + l.hash() }

// DirName returns the directory the data set of spec lives in (whether or not it exists).
func DirName(spec Spec) (string, error) {
	l, err := spec.layout()
	if err != nil {
		return "", err
	}
	parent, err := filepath.Abs(spec.Dir)
	if err != nil {
		return "", fmt.Errorf("%s %s: %v", FlagDir, spec.Dir, err)
	}
	return filepath.Join(parent, l.dirName()), nil
}

// marker is the content of .ringbench-dataset.
type marker struct {
	Format         string `json:"format"`
	ContentVersion int    `json:"content_version"`
	Name           string `json:"name"`
	Files          int    `json:"files"`
	FileSize       int64  `json:"file_size"`
	FilesPerDir    int    `json:"files_per_dir"`
	Seed           uint64 `json:"seed"`
	Complete       bool   `json:"complete"`
	// Transient marks a set made for runs that did not ask to keep it: the last user to Remove it deletes
	// it. Kept sets (Keep) and those of older ringbench versions have none, and only RemoveDir deletes them.
	Transient bool `json:"transient,omitempty"`
	// Informational only.
	CreatedBy string `json:"created_by,omitempty"`
	Updated   string `json:"updated,omitempty"`
}

// layout returns the layout the marker describes, validated.
func (m *marker) layout() (layout, error) {
	if m.Format != markerFormat {
		return layout{}, fmt.Errorf("marker format %q is not %q", m.Format, markerFormat)
	}
	if m.ContentVersion != ContentVersion {
		return layout{}, fmt.Errorf("marker content version %d, this ringbench writes %d", m.ContentVersion, ContentVersion)
	}
	return Spec{Name: m.Name, Files: m.Files, FileSize: m.FileSize, FilesPerDir: m.FilesPerDir, Seed: m.Seed}.layout()
}

// madeFiles records which files this process created, by inode number and birth time (where the file
// system records one), so that removal touches only those: a file deleted and replaced, even one given
// the same inode number, has another birth time.
type madeFiles struct {
	ids []fileID
}

type fileID struct {
	made     bool
	hasBirth bool
	ino      uint64
	birth    unix.StatxTimestamp
}

const statxID = unix.STATX_TYPE | unix.STATX_SIZE | unix.STATX_INO | unix.STATX_BTIME

func idOf(stx *unix.Statx_t) fileID {
	id := fileID{made: true, ino: stx.Ino}
	if stx.Mask&unix.STATX_BTIME != 0 {
		id.hasBirth, id.birth = true, stx.Btime
	}
	return id
}

// is reports whether stx describes the file this process created as file i.
func (m *madeFiles) is(i int, stx *unix.Statx_t) bool {
	id := m.ids[i]
	return id.made && id == idOf(stx)
}

// Open reuses the data set of spec when a complete one exists whose marker matches spec exactly (and whose
// files are all there with the right size); otherwise it creates it. Before creating it checks free space
// and inodes on --dir. Files are written in parallel (one worker per CPU) and the marker last, so a
// half-made set is never reused. While another process creates the same set, Open waits for it and reuses
// it. A set Open creates is transient: see Remove and Keep. progress, when not nil, is called now and then
// from the calling goroutine with files done and total. On any error, ctx cancellation included, what Open
// created is removed, but for what it could not remove within cleanupBudget, which it leaves for the next
// Open (the error then wraps ErrPartialLeft).
func Open(ctx context.Context, spec Spec, progress func(done, total int)) (*Set, error) {
	return open(ctx, spec, progress, openOptions{})
}

// openOptions are test hooks.
type openOptions struct {
	skipSpaceCheck bool
	// crashAfter > 0 stops creation after that many files as if the process died: no cleanup.
	crashAfter int
	// afterFile is called by a worker after each file it wrote.
	afterFile func(done int)
	// cleanupBudget, when not 0, replaces the package's.
	cleanupBudget time.Duration
}

func open(ctx context.Context, spec Spec, progress func(done, total int), oo openOptions) (*Set, error) {
	l, err := spec.layout()
	if err != nil {
		return nil, err
	}
	if err := CheckDir(spec.Dir); err != nil {
		return nil, err
	}
	parent, err := filepath.Abs(spec.Dir)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", FlagDir, spec.Dir, err)
	}
	pfd, err := openDir(parent)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", FlagDir, spec.Dir, err)
	}
	defer unix.Close(pfd)
	base := l.dirName()
	for attempt := 0; ; {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err := reuse(ctx, pfd, parent, base, l)
		if err == nil && s == nil {
			if cleanPartials(ctx, pfd, base) {
				err = errOtherCreator
			} else {
				s, err = create(ctx, pfd, parent, base, l, progress, oo)
			}
		} else if s != nil && progress != nil {
			progress(l.files, l.files)
		}
		if errors.Is(err, errOtherCreator) {
			// Wait for the other creator, then use its set (or, if it failed, make one).
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		if errors.Is(err, errRetry) && attempt < 20 {
			attempt++
			continue
		}
		return s, err
	}
}

// reuse opens the existing set directory. It returns (nil, nil) when there is none (any more): a damaged or
// incomplete set that is provably ringbench's and not in use is removed first.
func reuse(ctx context.Context, pfd int, parent, base string, l layout) (_ *Set, err error) {
	path := filepath.Join(parent, base)
	fd, err := openDirAt(pfd, base)
	switch {
	case err == unix.ENOENT:
		return nil, nil
	case err == unix.ELOOP || err == unix.ENOTDIR:
		return nil, fmt.Errorf("%s exists and is not a directory: %w; ringbench does not touch it (remove it or choose another %s)",
			path, ErrNotDataSet, FlagDir)
	case err != nil:
		return nil, fmt.Errorf("open data set %s: %v", path, err)
	}
	keep := false
	defer func() {
		if !keep {
			unix.Close(fd)
		}
	}()
	if err := flockWait(ctx, fd, unix.LOCK_SH); err != nil {
		return nil, fmt.Errorf("lock data set %s: %w", path, err)
	}
	if !sameAt(pfd, base, fd) { // removed or replaced while we waited for the lock
		return nil, errRetry
	}
	m, err := readMarker(fd)
	if err == nil {
		var ml layout
		if ml, err = m.layout(); err == nil && ml != l {
			err = errors.New("its marker describes another data set")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s exists but %v: %w; ringbench never reuses nor removes such a directory "+
			"(remove it yourself or choose another %s)", path, err, ErrNotDataSet, FlagDir)
	}
	problem := "it is incomplete (an interrupted creation or removal)"
	if m.Complete {
		perr := checkFiles(ctx, fd, l)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if perr == nil {
			keep = true
			return newSet(parent, base, l, fd, false, nil), nil
		}
		problem = "it is damaged: " + perr.Error()
	}
	// Ours (the marker says so) but not usable: remove it once nobody else has it open. Others that found
	// it so at the same moment wait alike: one removes it, the others find it gone and use the new one.
	_ = unix.Flock(fd, unix.LOCK_UN)
	if err := flockWait(ctx, fd, unix.LOCK_EX); err != nil {
		return nil, fmt.Errorf("data set %s: %s, and waiting for its other users to leave: %w", path, problem, err)
	}
	if !sameAt(pfd, base, fd) {
		return nil, errRetry
	}
	if err := removeSet(pfd, base, fd, l, nil, true, func() bool { return ctx.Err() != nil }); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("data set %s: %s, and removing it failed: %w", path, problem, err)
	}
	return nil, errRetry
}

// checkFiles checks that every file of the layout is a regular file of the right size.
func checkFiles(ctx context.Context, fd int, l layout) error {
	for d := 0; d < l.dirs(); d++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		sfd, err := openDirAt(fd, subdirName(d))
		if err != nil {
			return fmt.Errorf("%s: %v", subdirName(d), err)
		}
		lo, hi := l.filesIn(d)
		for i := lo; i < hi; i++ {
			var st unix.Stat_t
			if err := fstatat(sfd, fileName(i), &st); err != nil {
				unix.Close(sfd)
				return fmt.Errorf("%s: %v", l.relPath(i), err)
			}
			if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != l.fileSize {
				unix.Close(sfd)
				return fmt.Errorf("%s: not a regular file of %d bytes", l.relPath(i), l.fileSize)
			}
		}
		unix.Close(sfd)
	}
	return nil
}

func newSet(parent, base string, l layout, fd int, created bool, made *madeFiles) *Set {
	dir := filepath.Join(parent, base)
	s := &Set{
		Dir: dir, FileSize: l.fileSize, Seed: l.seed, Created: created,
		l: l, parent: parent, base: base, fd: fd, made: made,
		Paths: make([]string, l.files), PathsZ: make([][]byte, l.files),
	}
	for i := range s.Paths {
		p := dir + "/" + l.relPath(i)
		s.Paths[i] = p
		z := make([]byte, len(p)+1)
		copy(z, p)
		s.PathsZ[i] = z
	}
	return s
}

// create builds the set in a locked partial directory and renames it into place.
func create(ctx context.Context, pfd int, parent, base string, l layout, progress func(done, total int),
	oo openOptions) (_ *Set, err error) {
	if !oo.skipSpaceCheck {
		if err := checkSpace(pfd, parent, l); err != nil {
			return nil, err
		}
	}
	// Partial names sort by the time they were made (then at random): when processes create the same set
	// at once, the oldest goes on and the others wait for it (see olderCreator).
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	tmp := fmt.Sprintf("%s%s%016x%s", base, partialInfix, time.Now().UnixNano(), hex.EncodeToString(rnd[:]))
	tmpPath := filepath.Join(parent, tmp)
	if err := unix.Mkdirat(pfd, tmp, 0o755); err != nil {
		return nil, fmt.Errorf("%s %s: create data set directory: %v", FlagDir, parent, err)
	}
	fd, err := openDirAt(pfd, tmp)
	if err != nil {
		_ = unix.Unlinkat(pfd, tmp, unix.AT_REMOVEDIR)
		return nil, fmt.Errorf("%s %s: open data set directory: %v", FlagDir, parent, err)
	}
	made := &madeFiles{ids: make([]fileID, l.files)}
	ok := false
	defer func() {
		if ok {
			return
		}
		if errors.Is(err, errSimulatedCrash) {
			unix.Close(fd)
			return
		}
		budget := cleanupBudget
		if oo.cleanupBudget != 0 {
			budget = oo.cleanupBudget
		}
		deadline := time.Now().Add(budget)
		rerr := removeSet(pfd, tmp, fd, l, made, true, func() bool { return time.Now().After(deadline) })
		switch {
		case errors.Is(rerr, errRemovalStopped):
			err = fmt.Errorf("%w; the partial data set %s %w", err, tmpPath, ErrPartialLeft)
		case rerr != nil:
			err = fmt.Errorf("%w (and the partial data set could not be removed: %v)", err, rerr)
		}
		unix.Close(fd)
	}()
	// Another process looking at partial directories (cleanPartials) may hold the lock for a moment.
	if err := flockWait(ctx, fd, unix.LOCK_EX); err != nil {
		return nil, fmt.Errorf("lock %s: %w", tmpPath, err)
	}
	if err := writeMarker(fd, l, false, false); err != nil {
		return nil, fmt.Errorf("%s %s: write data set marker: %w", FlagDir, parent, err)
	}
	if olderCreator(pfd, base, tmp) {
		return nil, errOtherCreator
	}
	subfds := make([]int, 0, l.dirs())
	defer func() {
		for _, s := range subfds {
			unix.Close(s)
		}
	}()
	for d := 0; d < l.dirs(); d++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := unix.Mkdirat(fd, subdirName(d), 0o755); err != nil {
			return nil, fmt.Errorf("%s %s: create %s: %w", FlagDir, parent, subdirName(d), err)
		}
		sfd, err := openDirAt(fd, subdirName(d))
		if err != nil {
			return nil, fmt.Errorf("%s %s: open %s: %w", FlagDir, parent, subdirName(d), err)
		}
		subfds = append(subfds, sfd)
	}
	if err := writeFiles(ctx, subfds, l, made, progress, oo); err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return nil, err
		}
		if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
			return nil, fmt.Errorf("%s %s: disk full while creating the %s data set (%d files x %s): %w",
				FlagDir, parent, l.name, l.files, fmtBytes(l.fileSize), err)
		}
		return nil, fmt.Errorf("%s %s: creating the %s data set failed: %w", FlagDir, parent, l.name, err)
	}
	if err := writeMarker(fd, l, true, true); err != nil {
		return nil, fmt.Errorf("%s %s: write data set marker: %w", FlagDir, parent, err)
	}
	if err := renameNoReplace(pfd, tmp, base); err != nil {
		if err == unix.EEXIST || err == unix.ENOTEMPTY { // another process finished first: use theirs
			return nil, errRetry
		}
		return nil, fmt.Errorf("%s %s: rename %s into place: %v", FlagDir, parent, tmp, err)
	}
	ok = true
	_ = unix.Flock(fd, unix.LOCK_SH) // downgrade: others may now share it
	return newSet(parent, base, l, fd, true, made), nil
}

// writeFiles writes every file, runtime.NumCPU() workers in parallel.
func writeFiles(ctx context.Context, subfds []int, l layout, made *madeFiles, progress func(done, total int),
	oo openOptions) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next, done atomic.Int64
	var firstErr error
	var once sync.Once
	fail := func(err error) {
		once.Do(func() {
			firstErr = err
			cancel()
		})
	}
	workers := min(runtime.NumCPU(), l.files)
	// Creating files in one directory serialises on its lock: when there are enough subdirectories, a
	// worker takes a whole one at a time, so that workers work in different directories.
	byDir := l.dirs() >= workers && l.perDir > 1
	units := l.files
	if byDir {
		units = l.dirs()
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			buf := make([]byte, min((l.fileSize+SectorSize-1)&^(SectorSize-1), writeChunk))
			for wctx.Err() == nil {
				u := int(next.Add(1) - 1)
				if u >= units {
					return
				}
				lo, hi := u, u+1
				if byDir {
					lo, hi = l.filesIn(u)
				}
				for i := lo; i < hi && wctx.Err() == nil; i++ {
					if err := writeFile(wctx, subfds[i/l.perDir], i, l, buf, made); err != nil {
						fail(err)
						return
					}
					n := int(done.Add(1))
					if oo.afterFile != nil {
						oo.afterFile(n)
					}
					if oo.crashAfter > 0 && n >= oo.crashAfter {
						fail(errSimulatedCrash)
						return
					}
				}
			}
		})
	}
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()
	if progress != nil {
		tick := time.NewTicker(100 * time.Millisecond)
	wait:
		for {
			select {
			case <-finished:
				break wait
			case <-tick.C:
				progress(int(done.Load()), l.files)
			}
		}
		tick.Stop()
	} else {
		<-finished
	}
	if firstErr != nil {
		if ctx.Err() != nil && errors.Is(firstErr, context.Canceled) {
			return ctx.Err()
		}
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if progress != nil {
		progress(l.files, l.files)
	}
	return nil
}

// writeFile creates file i (O_EXCL, never following a symlink) and writes its content.
func writeFile(ctx context.Context, dfd int, i int, l layout, buf []byte, made *madeFiles) error {
	fd, err := retryEINTR(func() (int, error) {
		return unix.Openat(dfd, fileName(i), unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	})
	if err != nil {
		return fmt.Errorf("create %s: %w", l.relPath(i), err)
	}
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, statxID, &stx); err != nil {
		unix.Close(fd)
		return fmt.Errorf("stat %s: %w", l.relPath(i), err)
	}
	made.ids[i] = idOf(&stx)
	for off := int64(0); off < l.fileSize; {
		if off > 0 && ctx.Err() != nil {
			unix.Close(fd)
			return ctx.Err()
		}
		n := min(int64(len(buf)), l.fileSize-off)
		Fill(buf[:n], i, off, l.seed)
		if err := writeFull(fd, buf[:n]); err != nil {
			unix.Close(fd)
			return fmt.Errorf("write %s at offset %d: %w", l.relPath(i), off, err)
		}
		off += n
	}
	if err := unix.Close(fd); err != nil {
		return fmt.Errorf("close %s: %w", l.relPath(i), err)
	}
	return nil
}

func writeFull(fd int, b []byte) error {
	return full(b, "short write", func(rest []byte, _ int64) (int, error) { return unix.Write(fd, rest) })
}

// full calls io on the rest of b (done bytes in), retrying EINTR, until all of b is done; io doing nothing
// is the error short.
func full(b []byte, short string, io func(rest []byte, done int64) (int, error)) error {
	for done := 0; done < len(b); {
		n, err := retryEINTR(func() (int, error) { return io(b[done:], int64(done)) })
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New(short)
		}
		done += n
	}
	return nil
}

// writeMarker writes the marker via a temporary file renamed over it. The temporary file's name is unique:
// processes that share a set (Keep) may write at the same time.
func writeMarker(fd int, l layout, complete, transient bool) error {
	host, _ := os.Hostname()
	m := marker{
		Format: markerFormat, ContentVersion: ContentVersion,
		Name: l.name, Files: l.files, FileSize: l.fileSize, FilesPerDir: l.perDir, Seed: l.seed,
		Complete: complete, Transient: transient,
		CreatedBy: "ringbench pid " + strconv.Itoa(os.Getpid()) + " on " + host,
		Updated:   time.Now().UTC().Format(time.RFC3339),
	}
	data, err := json.MarshalIndent(&m, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := markerTmpName + "-" + hex.EncodeToString(rnd[:])
	mfd, err := retryEINTR(func() (int, error) {
		return unix.Openat(fd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	})
	if err != nil {
		return err
	}
	if err := writeFull(mfd, data); err != nil {
		unix.Close(mfd)
		_ = unix.Unlinkat(fd, tmp, 0)
		return err
	}
	if err := unix.Close(mfd); err != nil {
		_ = unix.Unlinkat(fd, tmp, 0)
		return err
	}
	if err := unix.Renameat(fd, tmp, fd, markerName); err != nil {
		_ = unix.Unlinkat(fd, tmp, 0)
		return err
	}
	return nil
}

// readMarker reads and parses the marker of the set directory fd.
func readMarker(fd int) (*marker, error) {
	mfd, err := retryEINTR(func() (int, error) {
		return unix.Openat(fd, markerName, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	})
	if err == unix.ENOENT {
		return nil, fmt.Errorf("has no ringbench marker (%s)", markerName)
	}
	if err != nil {
		return nil, fmt.Errorf("its marker %s cannot be read: %v", markerName, err)
	}
	defer unix.Close(mfd)
	var st unix.Stat_t
	if err := unix.Fstat(mfd, &st); err != nil {
		return nil, fmt.Errorf("its marker %s cannot be read: %v", markerName, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size > 64<<10 {
		return nil, fmt.Errorf("its marker %s is not ringbench's", markerName)
	}
	// Plain reads: an os.File here would close the descriptor number again from its finalizer.
	data := make([]byte, st.Size+1)
	n := 0
	for n < len(data) {
		k, err := unix.Read(mfd, data[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("its marker %s cannot be read: %v", markerName, err)
		}
		if k == 0 {
			break
		}
		n += k
	}
	var m marker
	if err := json.Unmarshal(data[:n], &m); err != nil || m.Format != markerFormat {
		return nil, fmt.Errorf("its marker %s is not ringbench's", markerName)
	}
	return &m, nil
}

// Close releases the set (its lock and descriptor) without removing anything or marking it kept: a
// transient set stays transient, for the next run that uses it to remove. It may be called more than once.
func (s *Set) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeLocked()
}

func (s *Set) closeLocked() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := unix.Close(s.fd) // also drops the flock
	s.fd = -1
	return err
}

// Verify checks buf read from file fileIndex at offset against the set's content (see Verify).
func (s *Set) Verify(buf []byte, fileIndex int, offset int64) error {
	return Verify(buf, fileIndex, offset, s.Seed)
}

// TotalBytes is the size of all files together.
func (s *Set) TotalBytes() int64 { return s.l.totalBytes() }

// Files is the number of files.
func (s *Set) Files() int { return s.l.files }

// flockWait takes a flock, polling so that ctx can end the wait.
func flockWait(ctx context.Context, fd int, how int) error {
	for {
		err := unix.Flock(fd, how|unix.LOCK_NB)
		if err == nil {
			return nil
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func retryEINTR(f func() (int, error)) (int, error) {
	for {
		fd, err := f()
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// openDir opens a directory by path (following symlinks: this is --dir as the user gave it).
func openDir(path string) (int, error) {
	return retryEINTR(func() (int, error) {
		return unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
}

// openDirAt opens directory name in dfd, refusing symlinks (ELOOP) and non-directories (ENOTDIR).
func openDirAt(dfd int, name string) (int, error) {
	return retryEINTR(func() (int, error) {
		return unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
}

func fstatat(dfd int, name string, st *unix.Stat_t) error {
	return unix.Fstatat(dfd, name, st, unix.AT_SYMLINK_NOFOLLOW)
}

// sameAt reports whether name in pfd is, without following symlinks, the directory open as fd.
func sameAt(pfd int, name string, fd int) bool {
	var a, b unix.Stat_t
	if fstatat(pfd, name, &a) != nil || unix.Fstat(fd, &b) != nil {
		return false
	}
	return a.Mode&unix.S_IFMT == unix.S_IFDIR && a.Dev == b.Dev && a.Ino == b.Ino
}

// renameNoReplace renames old to new in pfd, failing with EEXIST when new exists.
func renameNoReplace(pfd int, old, new string) error {
	err := unix.Renameat2(pfd, old, pfd, new, unix.RENAME_NOREPLACE)
	if err != unix.EINVAL && err != unix.ENOSYS {
		return err
	}
	// A file system without RENAME_NOREPLACE: check, then rename (a narrow race, only on such systems).
	var st unix.Stat_t
	if fstatat(pfd, new, &st) == nil {
		return unix.EEXIST
	}
	return unix.Renameat(pfd, old, pfd, new)
}

// unlinkRegular removes name from dfd if it is a regular file; a missing file is fine.
func unlinkRegular(dfd int, name string) error {
	var st unix.Stat_t
	if err := fstatat(dfd, name, &st); err != nil {
		if err == unix.ENOENT {
			return nil
		}
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fmt.Errorf("%s is not a regular file", name)
	}
	if err := unix.Unlinkat(dfd, name, 0); err != nil && err != unix.ENOENT {
		return err
	}
	return nil
}

// listDir lists the names in the directory open as fd (through a fresh descriptor, so fd is not moved).
func listDir(fd int) ([]string, error) {
	nfd, err := retryEINTR(func() (int, error) {
		return unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(nfd), ".")
	defer f.Close()
	return f.Readdirnames(-1)
}

// fmtBytes formats a byte count with a binary unit.
func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
