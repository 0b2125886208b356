package dataset

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

var pageSize = int64(os.Getpagesize())

func pagesOf(size int64) int64 { return (size + pageSize - 1) / pageSize }

// Residency reports how many pages of the files are in the page cache (mincore over a read-only shared
// mapping of each file) and how many pages they span. Empty files count zero pages; every mapping is
// unmapped before returning.
func Residency(paths []string) (resident, total int64, err error) {
	var vec []byte
	for _, p := range paths {
		r, t, err := residencyOf(p, &vec)
		if err != nil {
			return resident, total, err
		}
		resident += r
		total += t
	}
	return resident, total, nil
}

func residencyOf(path string, vec *[]byte) (resident, total int64, err error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("residency: open %s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, 0, fmt.Errorf("residency: stat %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, 0, fmt.Errorf("residency: %s is not a regular file", path)
	}
	if st.Size == 0 {
		return 0, 0, nil
	}
	m, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, 0, fmt.Errorf("residency: mmap %s: %w", path, err)
	}
	defer unix.Munmap(m)
	n := pagesOf(st.Size)
	if int64(cap(*vec)) < n {
		*vec = make([]byte, n)
	}
	v := (*vec)[:n]
	if err := mincore(m, v); err != nil {
		return 0, 0, fmt.Errorf("residency: mincore %s: %w", path, err)
	}
	for _, b := range v {
		resident += int64(b & 1)
	}
	return resident, n, nil
}

// mincore wraps mincore(2); x/sys/unix has no wrapper on Linux.
func mincore(m []byte, vec []byte) error {
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(m))), uintptr(len(m)),
		uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if e != 0 {
		return e
	}
	return nil
}

// Warm reads every file once (posix_fadvise WILLNEED, then read to the end), one worker per CPU, so that
// the files are in the page cache. The cache may still evict them later: check with Residency or use
// LockInMemory.
func Warm(ctx context.Context, paths []string) error {
	return forEach(ctx, paths, func(p string, buf []byte) error {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("warm: open %s: %w", p, err)
		}
		defer unix.Close(fd)
		_ = unix.Fadvise(fd, 0, 0, unix.FADV_WILLNEED)
		for {
			n, err := unix.Read(fd, buf)
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return fmt.Errorf("warm: read %s: %w", p, err)
			}
			if n == 0 {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	})
}

// Evict drops the files' pages from the page cache, and only theirs: it writes back dirty pages
// (fdatasync) and then advises POSIX_FADV_DONTNEED. It never touches the global cache (drop_caches).
// Pages that are mapped or locked (LockInMemory) stay.
func Evict(paths []string) error {
	return forEach(context.Background(), paths, func(p string, _ []byte) error {
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("evict: open %s: %w", p, err)
		}
		defer unix.Close(fd)
		if err := unix.Fdatasync(fd); err != nil {
			return fmt.Errorf("evict: fdatasync %s: %w", p, err)
		}
		if err := unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED); err != nil {
			return fmt.Errorf("evict: fadvise %s: %w", p, err)
		}
		return nil
	})
}

// forEach runs f over paths with one worker per CPU; the first error stops it.
func forEach(ctx context.Context, paths []string, f func(p string, buf []byte) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(runtime.NumCPU(), len(paths)) {
		wg.Go(func() {
			buf := make([]byte, 1<<20)
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(paths) {
					return
				}
				if err := f(paths[i], buf); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// Lock holds files mapped and locked in memory (mlock), so that their pages stay in the page cache.
type Lock struct {
	mu      sync.Mutex
	maps    [][]byte
	bytes   int64
	restore *unix.Rlimit // RLIMIT_MEMLOCK to put back on Unlock, when LockInMemory raised it
}

// Bytes is how much memory the lock holds (whole pages).
func (l *Lock) Bytes() int64 { return l.bytes }

// LockInMemory maps each file (read-only, shared: the page cache pages themselves) and locks the mappings
// with mlock, which reads in whatever is not resident. It raises RLIMIT_MEMLOCK where it is allowed to
// (restored by Unlock). It refuses, naming the figures, a set larger than the memory available, with more
// files than vm.max_map_count allows mappings, or that RLIMIT_MEMLOCK does not let it lock.
func LockInMemory(paths []string) (*Lock, error) {
	var need int64
	sizes := make([]int64, len(paths))
	for i, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("--mlock: %w", err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("--mlock: %s is not a regular file", p)
		}
		sizes[i] = fi.Size()
		need += pagesOf(fi.Size()) * pageSize
	}
	if avail, ok := memAvailable(); ok && need > avail-avail/10 {
		return nil, fmt.Errorf("--mlock: the data set needs %s locked but only %s of memory is available", fmtBytes(need), fmtBytes(avail))
	}
	if maps, ok := readIntFile("/proc/sys/vm/max_map_count"); ok && int64(len(paths))+1000 > maps {
		return nil, fmt.Errorf("--mlock: %d files need as many memory mappings, vm.max_map_count is %d", len(paths), maps)
	}
	l := &Lock{bytes: need}
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &old); err == nil && old.Cur != unix.RLIM_INFINITY {
		want := old.Cur + uint64(need)
		nl := unix.Rlimit{Cur: want, Max: max(old.Max, want)}
		if unix.Setrlimit(unix.RLIMIT_MEMLOCK, &nl) == nil {
			l.restore = &old
		} else if old.Max > old.Cur {
			nl = unix.Rlimit{Cur: old.Max, Max: old.Max}
			if unix.Setrlimit(unix.RLIMIT_MEMLOCK, &nl) == nil {
				l.restore = &old
			}
		}
	}
	for i, p := range paths {
		if sizes[i] == 0 {
			continue
		}
		if err := l.lockOne(p); err != nil {
			var lim unix.Rlimit
			_ = unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim)
			_ = l.Unlock()
			if errors.Is(err, unix.ENOMEM) || errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EPERM) {
				return nil, fmt.Errorf("--mlock: cannot lock the data set (%s) in memory: RLIMIT_MEMLOCK is %s "+
					"(raise it with `ulimit -l`, or run with CAP_IPC_LOCK): %v", fmtBytes(need), fmtLimit(lim.Cur), err)
			}
			return nil, fmt.Errorf("--mlock: %w", err)
		}
	}
	return l, nil
}

func (l *Lock) lockOne(p string) error {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", p, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", p, err)
	}
	if st.Size == 0 {
		return nil
	}
	m, err := unix.Mmap(fd, 0, int(st.Size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap %s: %w", p, err)
	}
	if err := unix.Mlock(m); err != nil {
		unix.Munmap(m)
		return fmt.Errorf("mlock %s: %w", p, err)
	}
	l.mu.Lock()
	l.maps = append(l.maps, m)
	l.mu.Unlock()
	return nil
}

// Unlock unlocks and unmaps everything and puts RLIMIT_MEMLOCK back. It may be called more than once.
func (l *Lock) Unlock() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first error
	for _, m := range l.maps {
		if err := unix.Munlock(m); err != nil && first == nil {
			first = fmt.Errorf("munlock: %w", err)
		}
		if err := unix.Munmap(m); err != nil && first == nil {
			first = fmt.Errorf("munmap: %w", err)
		}
	}
	l.maps = nil
	if l.restore != nil {
		_ = unix.Setrlimit(unix.RLIMIT_MEMLOCK, l.restore)
		l.restore = nil
	}
	return first
}

func fmtLimit(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return fmtBytes(int64(v))
}

// memAvailable reads MemAvailable from /proc/meminfo.
func memAvailable() (int64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemAvailable:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

func readIntFile(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}
