// Package epoll is the readiness backend: an epoll_wait loop on a locked OS thread for sockets, and plain
// pread/openat/close for regular files, which epoll cannot poll. It is what a C server written the classic
// way does, and the baseline io_uring has to beat.
package epoll

import (
	"fmt"
	"unsafe"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/alignedbuf"
	"golang.org/x/sys/unix"
)

// Backend builds the epoll backend's engines and servers.
type Backend struct{}

func init() {
	backend.Register(backend.Description{
		Name:    "epoll",
		Summary: "epoll_wait readiness loop on a locked thread; files through plain pread (epoll cannot poll files)",
		// Available is nil: epoll and pread exist on every Linux this runs on.
	}, Backend{})
}

// NewFileEngine implements backend.Builder.
func (Backend) NewFileEngine(cfg backend.FileConfig) (backend.FileEngine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	bufs, err := alignedbuf.New(cfg.Depth, cfg.BufSize)
	if err != nil {
		return nil, err
	}
	return &fileEngine{fds: cfg.FDs, bufs: bufs, keepP: cfg.KeepP}, nil
}

// fileEngine completes every request synchronously inside Submit, one syscall (or three for
// open-read-close) per request: depth and batch change nothing for it, which is the point of comparison.
type fileEngine struct {
	fds   []int
	bufs  *alignedbuf.Buffers
	keepP bool // FileConfig.KeepP: raw syscalls
}

// syscall6 is unix.RawSyscall6 with FileConfig.KeepP, else unix.Syscall6.
func (e *fileEngine) syscall6(trap, a1, a2, a3, a4, a5, a6 uintptr) (uintptr, unix.Errno) {
	var r1 uintptr
	var errno unix.Errno
	if e.keepP {
		r1, _, errno = unix.RawSyscall6(trap, a1, a2, a3, a4, a5, a6)
	} else {
		r1, _, errno = unix.Syscall6(trap, a1, a2, a3, a4, a5, a6)
	}
	return r1, errno
}

func (e *fileEngine) Buffer(i int) []byte { return e.bufs.Slot(i) }

func (e *fileEngine) Submit(reqs []backend.Request, _ int, out []backend.Completion) (int, error) {
	for i := range reqs {
		r := &reqs[i]
		buf := e.bufs.Slot(int(r.Buf))[:r.Len]
		var res int32
		switch r.Kind {
		case backend.OpRead:
			res = e.pread(e.fds[r.File], buf, r.Offset)
		case backend.OpOpenReadClose:
			res = e.openReadClose(r.Path, buf)
		default:
			return i, fmt.Errorf("epoll: unknown request kind %d", r.Kind)
		}
		out[i] = backend.Completion{Tag: r.Tag, Res: res, Buf: r.Buf}
	}
	return len(reqs), nil
}

func (e *fileEngine) Counters() backend.EngineCounters { return backend.EngineCounters{Enters: -1} }

func (e *fileEngine) Close() error { return e.bufs.Close() }

// pread returns bytes read or -errno, without allocating.
func (e *fileEngine) pread(fd int, buf []byte, off int64) int32 {
	n, errno := e.syscall6(unix.SYS_PREAD64, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), uintptr(off), 0, 0)
	if errno != 0 {
		return -int32(errno)
	}
	return int32(n)
}

// atFDCWD is AT_FDCWD (-100) as the kernel reads it from a register.
var atFDCWD = func() uintptr { v := unix.AT_FDCWD; return uintptr(v) }()

// openReadClose opens the NUL-terminated path, reads once from offset 0 and closes: three syscalls.
func (e *fileEngine) openReadClose(path []byte, buf []byte) int32 {
	fd, errno := e.syscall6(unix.SYS_OPENAT, atFDCWD, uintptr(unsafe.Pointer(&path[0])),
		uintptr(unix.O_RDONLY|unix.O_CLOEXEC), 0, 0, 0)
	if errno != 0 {
		return -int32(errno)
	}
	n, rerr := e.syscall6(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)
	_, cerr := e.syscall6(unix.SYS_CLOSE, fd, 0, 0, 0, 0, 0)
	switch {
	case rerr != 0:
		return -int32(rerr)
	case cerr != 0:
		return -int32(cerr)
	}
	return int32(n)
}
