package ring

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

var benchFile struct {
	once sync.Once
	dir  string
	path string
	err  error
}

const benchFileSize = 64 << 20

func TestMain(m *testing.M) {
	code := m.Run()
	if benchFile.dir != "" {
		_ = os.RemoveAll(benchFile.dir)
	}
	os.Exit(code)
}

// benchDataFile returns a 64 MiB file of pseudo-random data, written once
// per process (so it sits in the page cache).
func benchDataFile(b *testing.B) string {
	benchFile.once.Do(func() {
		dir, err := os.MkdirTemp("", "ringbench-ring-bench-")
		if err != nil {
			benchFile.err = err
			return
		}
		benchFile.dir = dir
		benchFile.path = filepath.Join(dir, "data64m")
		buf := make([]byte, benchFileSize)
		x := uint64(0x9e3779b97f4a7c15)
		for i := 0; i+8 <= len(buf); i += 8 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			*(*uint64)(unsafe.Pointer(&buf[i])) = x
		}
		benchFile.err = os.WriteFile(benchFile.path, buf, 0o600)
	})
	if benchFile.err != nil {
		b.Fatal(benchFile.err)
	}
	return benchFile.path
}

// residentFraction reports which fraction of fd's pages is in the page
// cache (mincore over a read-only mapping).
func residentFraction(fd int, size int) float64 {
	m, err := unix.Mmap(fd, 0, size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return -1
	}
	defer unix.Munmap(m)
	pages := (size + 4095) / 4096
	vec := make([]byte, pages)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(size), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return -1
	}
	in := 0
	for _, v := range vec {
		in += int(v & 1)
	}
	return float64(in) / float64(pages)
}

func cpuNanos() int64 {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func reportRing(b *testing.B, r *Ring, cpu0 int64) {
	st := r.Stats()
	b.ReportMetric(float64(st.Enters)/float64(b.N), "enters/op")
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N), "cpu-ns/op")
}

// benchNops runs b.N NOPs on r (of at least 128 entries), batch per SubmitAndWait, and reports enters and CPU
// per op.
func benchNops(b *testing.B, r *Ring, batch int) { benchNopsWith(b, r, batch, false) }

// benchNopsWith is benchNops; submitOnly enters with Submit, which waits for nothing, and reaps the inline
// completions (entering to wait only if one is missing).
func benchNopsWith(b *testing.B, r *Ring, batch int, submitOnly bool) {
	cqes := make([]CQE, 128)
	b.ReportAllocs()
	r.ResetStats()
	cpu0 := cpuNanos()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(batch, b.N-done)
		for i := 0; i < k; i++ {
			s := r.GetSQE()
			Nop{}.Prep(s)
			s.SetUserData(uint64(i))
		}
		var err error
		if submitOnly {
			_, err = r.Submit()
		} else {
			_, err = r.SubmitAndWait(uint32(k))
		}
		if err != nil {
			b.Fatal(err)
		}
		for got := 0; got < k; {
			n := r.Reap(cqes)
			if n == 0 {
				if _, err := r.SubmitAndWait(1); err != nil {
					b.Fatal(err)
				}
			}
			got += n
		}
		done += k
	}
	b.StopTimer()
	reportRing(b, r, cpu0)
}

// BenchmarkNop: one op = one NOP; one SubmitAndWait per batch.
func BenchmarkNop(b *testing.B) {
	for _, batch := range []int{1, 8, 32, 128} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			r := newTestRing(b, Params{Entries: 128}, "io_uring")
			benchNops(b, r, batch)
		})
	}
}

// BenchmarkRead4K: one op = one 4 KiB read at a random 4 KiB-aligned offset
// of a 64 MiB page-cached file, 32 in flight, submitted and reaped 32 at a
// time with one SubmitAndWait per iteration. "fixed" uses a registered file
// and registered buffers (READ_FIXED).
func BenchmarkRead4K(b *testing.B) {
	for _, fixed := range []bool{false, true} {
		name := "plain"
		if fixed {
			name = "fixed"
		}
		b.Run(name+"/depth=32/batch=32", func(b *testing.B) {
			const depth, batch, bs = 32, 32, 4096
			path := benchDataFile(b)
			fd := openRaw(b, path, unix.O_RDONLY)
			r := newTestRing(b, Params{Entries: depth}, "io_uring")
			a := newArena(b, depth, bs)
			fileFD := int32(fd)
			if fixed {
				if err := r.RegisterFiles([]int32{fileFD}); err != nil {
					b.Fatal(err)
				}
				if err := r.RegisterBuffers(a.Iovecs()); err != nil {
					b.Fatal(err)
				}
				fileFD = 0
			}
			// Warm the page cache and check it holds the whole file.
			warm := make([]byte, 1<<20)
			for off := int64(0); off < benchFileSize; off += int64(len(warm)) {
				if _, err := unix.Pread(fd, warm, off); err != nil {
					b.Fatal(err)
				}
			}
			res0 := residentFraction(fd, benchFileSize)
			readBlocks(b, r, a, fileFD, fixed, benchFileSize/bs, depth, batch)
			res1 := residentFraction(fd, benchFileSize)
			b.ReportMetric(100*min(res0, res1), "resident-%")
		})
	}
}

// BenchmarkNopSubmit: one op = one NOP; one Submit (an enter that waits for nothing) per batch, then the
// completions, which a NOP posts inline, are reaped without entering again: the path of a file loop whose
// reads complete during submission.
func BenchmarkNopSubmit(b *testing.B) {
	for _, batch := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			benchNopsWith(b, newTestRing(b, Params{Entries: 128}, "io_uring"), batch, true)
		})
	}
}

// BenchmarkReadLoop: one op = one 4 KiB read at a random 4 KiB-aligned offset of a page-cached file, run
// the way fio's t/io_uring runs its loop (and ringbench's uring backend its rings): depth 32, a registered
// file and registered buffers (READ_FIXED), the file opened O_NOATIME, the ring set up SINGLE_ISSUER|
// DEFER_TASKRUN|NO_SQARRAY with its fd registered, on a locked thread with raw waits; each loop queues up
// to batch reads, makes one io_uring_enter that submits them and waits only when more than depth would
// be in flight, and reaps every completion. It is the floor any Go loop over this ring pays, with no
// request bookkeeping, no clock and no histogram: run beside t/io_uring on the same file (set
// RINGBENCH_READ_FILE; default: a 64 MiB file it writes) to see how much of a gap is Go and the ring and
// how much is ringbench's request loop.
func BenchmarkReadLoop(b *testing.B) {
	for _, batch := range []int{1, 4, 32} {
		b.Run(fmt.Sprintf("depth=32/batch=%d", batch), func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			const depth, bs = 32, 4096
			path := os.Getenv("RINGBENCH_READ_FILE")
			if path == "" {
				path = benchDataFile(b)
			}
			fd := openRaw(b, path, unix.O_RDONLY|unix.O_NOATIME)
			var st unix.Stat_t
			if err := unix.Fstat(fd, &st); err != nil {
				b.Fatal(err)
			}
			blocks := uint64(st.Size) / bs
			if blocks < 2 {
				b.Fatalf("%s: %d bytes, want at least two blocks of %d", path, st.Size, bs)
			}
			r := newTestRing(b, Params{Entries: 4 * depth, SingleIssuer: true, DeferTaskrun: true, NoSQArray: true, RegisterRingFD: true}, "io_uring")
			r.SetRawWaits(true)
			a := newArena(b, depth, bs)
			if err := r.RegisterFiles([]int32{int32(fd)}); err != nil {
				b.Fatal(err)
			}
			if err := r.RegisterBuffers(a.Iovecs()); err != nil {
				b.Fatal(err)
			}
			readBlocks(b, r, a, 0, true, blocks, depth, batch)
		})
	}
}

// readBlocks is the read benchmarks' loop, t/io_uring's: b.N reads of bs bytes at random block offsets below
// blocks, at most depth in flight; each turn queues up to batch reads into free arena slots, makes one
// io_uring_enter that submits them and waits only for what must complete before the next batch fits (all
// that is left at the end), and reaps every completion. fileFD is a registered file's index when fixed
// (buffers registered too: READ_FIXED), a descriptor otherwise. It reports enters and CPU per op.
func readBlocks(b *testing.B, r *Ring, a *Arena, fileFD int32, fixed bool, blocks uint64, depth, batch int) {
	const bs = 4096
	free := make([]uint16, 0, depth)
	for i := depth - 1; i >= 0; i-- {
		free = append(free, uint16(i))
	}
	cqes := make([]CQE, 4*depth)
	x := uint64(0x2545f4914f6cdd1d)
	inflight, issued := 0, 0
	b.ReportAllocs()
	r.ResetStats()
	cpu0 := cpuNanos()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(batch, len(free), b.N-issued)
		for i := 0; i < k; i++ {
			slot := free[len(free)-1]
			free = free[:len(free)-1]
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			off := (x % blocks) * bs
			s := r.GetSQE()
			if fixed {
				ReadFixed{FD: fileFD, Fixed: true, Buf: a.Ptr(int(slot)), Len: bs, Offset: off, BufIndex: slot}.Prep(s)
			} else {
				Read{FD: fileFD, Buf: a.Ptr(int(slot)), Len: bs, Offset: off}.Prep(s)
			}
			s.SetUserData(uint64(slot))
		}
		inflight += k
		issued += k
		wait := inflight - (depth - batch)
		if issued == b.N || k == 0 {
			wait = max(wait, 1) // nothing more to queue: wait for what is in flight
		}
		var err error
		if wait > 0 {
			_, err = r.SubmitAndWait(uint32(wait))
		} else {
			_, err = r.Submit()
		}
		if err != nil {
			b.Fatal(err)
		}
		n := r.Reap(cqes)
		for _, c := range cqes[:n] {
			if c.Res != bs {
				b.Fatalf("read res %d", c.Res)
			}
			free = append(free, uint16(c.UserData))
		}
		inflight -= n
		done += n
	}
	b.StopTimer()
	reportRing(b, r, cpu0)
}
