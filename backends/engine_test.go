package backend_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	backend "github.com/ringbench/ringbench/backends"
	_ "github.com/ringbench/ringbench/backends/all"
	"github.com/ringbench/ringbench/internal/testsupport"
	"golang.org/x/sys/unix"
)

func eachBackend(t *testing.T, f func(t *testing.T, b backend.Backend)) {
	for _, b := range backend.All() {
		t.Run(b.Name(), func(t *testing.T) {
			if err := b.Available(); err != nil {
				if !errors.Is(err, backend.ErrNotSupported) {
					t.Fatalf("Available: %v does not wrap ErrNotSupported", err)
				}
				t.Skipf("%s not available on this kernel: %v", b.Name(), err)
			}
			f(t, b)
		})
	}
}

// fileEngine opens path and makes b's file engine over it with cfg; closeEng closes both. nil (the error
// reported) when either fails.
func fileEngine(t *testing.T, b backend.Backend, path string, cfg backend.FileConfig) (eng backend.FileEngine, closeEng func()) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Error(err)
		return nil, nil
	}
	cfg.FDs = []int{fd}
	if eng, err = b.NewFileEngine(cfg); err != nil {
		unix.Close(fd)
		t.Errorf("NewFileEngine(%+v): %v", cfg.Options, err)
		return nil, nil
	}
	return eng, func() {
		if err := eng.Close(); err != nil {
			t.Error(err)
		}
		unix.Close(fd)
	}
}

func TestRegistry(t *testing.T) {
	want := []string{"epoll", "uring", "sqpoll", "gostd"}
	got := backend.Names()
	if len(got) != len(want) {
		t.Fatalf("backends %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("backends %v, want %v", got, want)
		}
	}
	if _, err := backend.Lookup("kqueue"); err == nil {
		t.Fatal("unknown backend accepted")
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, o := range []backend.Options{{Depth: 0, Batch: 1}, {Depth: 4, Batch: 0}, {Depth: 4, Batch: 8}, {Depth: 5000, Batch: 1}} {
		if o.Validate() == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if err := (backend.Options{Depth: 32, Batch: 32}).Validate(); err != nil {
		t.Error(err)
	}
}

// TestFileReads reads random blocks of a real file through every engine and checks every byte.
func TestFileReads(t *testing.T) {
	const bs, blocks = 4096, 256
	data := make([]byte, bs*blocks)
	for i := range data {
		data[i] = byte(i*7 + i/bs)
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	eachBackend(t, func(t *testing.T, b backend.Backend) {
		for _, opts := range []backend.Options{{Depth: 8, Batch: 4}, {Depth: 16, Batch: 16, FixedFiles: true, FixedBufs: true}} {
			fdsBefore := testsupport.OpenFDs(t)
			testsupport.OnThread(func() {
				eng, closeEng := fileEngine(t, b, path, backend.FileConfig{Options: opts, BufSize: bs})
				if eng == nil {
					return
				}
				defer closeEng()
				out := make([]backend.Completion, opts.Depth)
				offsets := make([]int64, opts.Depth)
				free := make([]int32, 0, opts.Depth)
				for i := opts.Depth - 1; i >= 0; i-- {
					free = append(free, int32(i))
				}
				done, inflight := 0, 0
				for round := 0; done < 2000; round++ {
					reqs := make([]backend.Request, 0, opts.Batch)
					for len(reqs) < opts.Batch && len(free) > 0 && done+inflight+len(reqs) < 2000 {
						slot := free[len(free)-1]
						free = free[:len(free)-1]
						off := int64((round*31+len(reqs)*17)%blocks) * bs
						offsets[slot] = off
						reqs = append(reqs, backend.Request{Kind: backend.OpRead, Buf: slot, Len: bs, Offset: off, Tag: uint64(slot) + 1000})
					}
					minC := 1
					if inflight+len(reqs) == 0 {
						break
					}
					n, err := eng.Submit(reqs, minC, out)
					if err != nil {
						t.Errorf("Submit: %v", err)
						return
					}
					if n < minC {
						t.Errorf("Submit returned %d completions, asked for at least %d", n, minC)
						return
					}
					inflight += len(reqs) - n
					for _, c := range out[:n] {
						if c.Tag != uint64(c.Buf)+1000 {
							t.Errorf("completion tag %d for buffer %d", c.Tag, c.Buf)
						}
						if c.Res != bs {
							t.Errorf("read returned %d", c.Res)
							return
						}
						off := offsets[c.Buf]
						if !bytes.Equal(eng.Buffer(int(c.Buf))[:bs], data[off:off+bs]) {
							t.Errorf("buffer %d: content differs from file at %d", c.Buf, off)
							return
						}
						free = append(free, c.Buf)
						done++
					}
				}
				// Drain.
				for inflight > 0 {
					n, err := eng.Submit(nil, inflight, out)
					if err != nil {
						t.Error(err)
						return
					}
					inflight -= n
				}
			})
			if after := testsupport.OpenFDs(t); after != fdsBefore {
				t.Errorf("%+v: %d fds open after Close, %d before", opts, after, fdsBefore)
			}
		}
	})
}

// TestOpenReadClose runs open-read-close on real files, one of them missing.
func TestOpenReadClose(t *testing.T) {
	dir := t.TempDir()
	const n, size = 40, 3000
	var paths [][]byte
	for i := 0; i < n; i++ {
		p := filepath.Join(dir, "f"+string(rune('a'+i%26))+string(rune('a'+i/26)))
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte(i)}, size), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, append([]byte(p), 0))
	}
	missing := append([]byte(filepath.Join(dir, "missing")), 0)
	eachBackend(t, func(t *testing.T, b backend.Backend) {
		fdsBefore := testsupport.OpenFDs(t)
		testsupport.OnThread(func() {
			eng, err := b.NewFileEngine(backend.FileConfig{Options: backend.Options{Depth: 8, Batch: 8}, BufSize: 4096})
			if err != nil {
				t.Error(err)
				return
			}
			defer eng.Close()
			out := make([]backend.Completion, 8)
			for start := 0; start < n; start += 8 {
				reqs := make([]backend.Request, 8)
				for i := range reqs {
					reqs[i] = backend.Request{Kind: backend.OpOpenReadClose, Buf: int32(i), Len: 4096, Path: paths[start+i], Tag: uint64(start + i)}
				}
				if start == 16 {
					reqs[3].Path = missing
				}
				got := 0
				for got < 8 {
					k, err := eng.Submit(reqs, 8-got, out)
					reqs = nil
					if err != nil {
						t.Error(err)
						return
					}
					for _, c := range out[:k] {
						if start == 16 && c.Buf == 3 {
							if c.Res != -int32(unix.ENOENT) {
								t.Errorf("missing file: res %d, want -ENOENT", c.Res)
							}
							continue
						}
						if c.Res != size {
							t.Errorf("file %d: res %d, want %d", c.Tag, c.Res, size)
							continue
						}
						if buf := eng.Buffer(int(c.Buf))[:size]; !bytes.Equal(buf, bytes.Repeat([]byte{byte(c.Tag)}, size)) {
							t.Errorf("file %d: wrong content", c.Tag)
						}
					}
					got += k
				}
			}
		})
		if after := testsupport.OpenFDs(t); after != fdsBefore {
			t.Errorf("%d fds open after Close, %d before: open-read-close leaked", after, fdsBefore)
		}
	})
}

// TestSubmitPathAllocatesNothing: a request loop on a ring or epoll engine must not allocate per request
// (the GC would then be part of what is measured).
func TestSubmitPathAllocatesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	eachBackend(t, func(t *testing.T, b backend.Backend) {
		if b.Name() == "gostd" {
			// Not a skip: gostd is what a Go program would write, and its allocations are part of what it
			// measures. The rule holds for the engines ringbench itself drives.
			return
		}
		testsupport.OnThread(func() {
			const depth = 8
			eng, closeEng := fileEngine(t, b, path, backend.FileConfig{Options: backend.Options{Depth: depth, Batch: depth, SQCPU: -1}, BufSize: 4096})
			if eng == nil {
				return
			}
			defer closeEng()
			reqs := make([]backend.Request, depth)
			for i := range reqs {
				reqs[i] = backend.Request{Kind: backend.OpRead, Buf: int32(i), Len: 4096, Offset: int64(i) * 4096}
			}
			out := make([]backend.Completion, depth)
			var failed error
			allocs := testing.AllocsPerRun(200, func() {
				got := 0
				for got < depth {
					var batch []backend.Request
					if got == 0 {
						batch = reqs
					}
					n, err := eng.Submit(batch, depth-got, out)
					if err != nil {
						failed = err
						return
					}
					got += n
				}
			})
			if failed != nil {
				t.Error(failed)
			}
			if allocs != 0 {
				t.Errorf("%.1f allocations per batch of %d requests, want 0", allocs, depth)
			}
		})
	})
}

// TestBackendsAreMapKeys: the runner keys its series by Backend, so every registered backend must be
// comparable, and the same backend from All and from Lookup the same key.
func TestBackendsAreMapKeys(t *testing.T) {
	keys := map[backend.Backend]string{}
	for _, b := range backend.All() {
		keys[b] = b.Name()
	}
	for _, name := range backend.Names() {
		b, err := backend.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		if keys[b] != name {
			t.Errorf("Lookup(%q) is not the key All gave it (keys %v)", name, keys)
		}
	}
}
