// Package gostd is what a Go programmer would write without ringbench: os.File.ReadAt and os.Open from
// goroutines for files, the net package for sockets. The runtime parks blocking file reads on threads and
// sockets on its own netpoller; this backend measures what that costs against epoll and io_uring.
package gostd

import (
	"fmt"
	"io"
	"os"
	"sync"

	backend "github.com/ringbench/ringbench/backends"
	"golang.org/x/sys/unix"
)

// Backend builds the Go standard library backend's engines and servers.
type Backend struct{}

func init() {
	backend.Register(backend.Description{
		Name:    "gostd",
		Summary: "Go standard library: os.File.ReadAt / os.Open from --depth goroutines, net package for sockets",
	}, Backend{})
}

// NewFileEngine implements backend.Builder. Requests are handed to Depth goroutines over a channel, as a Go
// program would fan out blocking reads.
func (Backend) NewFileEngine(cfg backend.FileConfig) (backend.FileEngine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &fileEngine{
		reqs: make(chan backend.Request, cfg.Depth),
		done: make(chan backend.Completion, cfg.Depth),
	}
	for _, fd := range cfg.FDs {
		// The workload owns fd; the *os.File owns its duplicate, so closing (or collecting) it is safe.
		dup, err := unix.Dup(fd)
		if err != nil {
			e.closeFiles()
			return nil, fmt.Errorf("gostd: dup: %w", err)
		}
		e.files = append(e.files, os.NewFile(uintptr(dup), fmt.Sprintf("fd%d", fd)))
	}
	e.bufs = make([][]byte, cfg.Depth)
	for i := range e.bufs {
		e.bufs[i] = make([]byte, cfg.BufSize)
	}
	e.wg.Add(cfg.Depth)
	for i := 0; i < cfg.Depth; i++ {
		go e.worker()
	}
	return e, nil
}

type fileEngine struct {
	files    []*os.File
	bufs     [][]byte
	reqs     chan backend.Request
	done     chan backend.Completion
	inflight int
	wg       sync.WaitGroup
}

func (e *fileEngine) worker() {
	defer e.wg.Done()
	for r := range e.reqs {
		buf := e.bufs[r.Buf][:r.Len]
		res := e.do(&r, buf)
		e.done <- backend.Completion{Tag: r.Tag, Res: res, Buf: r.Buf}
	}
}

func (e *fileEngine) do(r *backend.Request, buf []byte) int32 {
	var n int
	var err error
	switch r.Kind {
	case backend.OpRead:
		n, err = e.files[r.File].ReadAt(buf, r.Offset)
	case backend.OpOpenReadClose:
		var f *os.File
		f, err = os.Open(string(r.Path[:len(r.Path)-1]))
		if err == nil {
			n, err = f.Read(buf)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
	default:
		return -int32(unix.EINVAL)
	}
	if err != nil && err != io.EOF {
		if errno, ok := asErrno(err); ok {
			return -int32(errno)
		}
		return -int32(unix.EIO)
	}
	return int32(n)
}

func (e *fileEngine) Buffer(i int) []byte { return e.bufs[i] }

func (e *fileEngine) Submit(reqs []backend.Request, minComplete int, out []backend.Completion) (int, error) {
	for _, r := range reqs {
		e.reqs <- r
	}
	e.inflight += len(reqs)
	n := 0
	for n < minComplete {
		out[n] = <-e.done
		n++
	}
	for n < len(out) {
		select {
		case c := <-e.done:
			out[n] = c
			n++
		default:
			e.inflight -= n
			return n, nil
		}
	}
	e.inflight -= n
	return n, nil
}

func (e *fileEngine) Counters() backend.EngineCounters { return backend.EngineCounters{Enters: -1} }

// IOOffThread implements backend.OffThreadIO: the reads run in worker goroutines, on any of Go's threads.
func (e *fileEngine) IOOffThread() bool { return true }

func (e *fileEngine) Close() error {
	close(e.reqs)
	for ; e.inflight > 0; e.inflight-- {
		<-e.done
	}
	e.wg.Wait()
	return e.closeFiles()
}

func (e *fileEngine) closeFiles() error {
	var first error
	for _, f := range e.files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	e.files = nil
	return first
}
