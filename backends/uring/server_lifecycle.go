package uring

// The server thread's life: ring and buffer setup on the locked thread, and cleanup (cancel, drain,
// release) when it ends.

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/ring"
	"golang.org/x/sys/unix"
)

// bufRingEntries is the size of the shared provided-buffer ring (multishot).
const bufRingEntries = 1024

// The registered-file table: at most maxFixedFiles slots, fixedTableSlack more than two per connection.
const (
	maxFixedFiles   = 1 << 20
	fixedTableSlack = 64
)

// drainTimeout bounds how long cleanup waits for cancelled requests to complete.
const drainTimeout = 2 * time.Second

func (s *Server) setup() error {
	var err error
	before := sqpollThreads()
	p := s.params
	p.Entries = 1024
	p.CQEntries = 8192
	if s.knobs.sqEntries > 0 {
		p.Entries, p.CQEntries = s.knobs.sqEntries, s.knobs.cqEntries
	}
	if s.r, err = ring.New(p); err != nil {
		return fmt.Errorf("%s server: %w", s.name, Explain(err))
	}
	if s.sqpoll {
		s.pollTID = newPollThread(before)
	}
	want := p.SingleIssuer || p.DeferTaskrun
	got := s.r.SetupFlags()
	if p.DeferTaskrun && got&ring.SetupDeferTaskrun == 0 {
		s.AddWarning(backend.Warning{Kind: backend.WarnRingFallback, Text: fmt.Sprintf("%s: DEFER_TASKRUN not available here; ring set up with %s", s.name, strings.Join(ring.SetupFlagNames(got), "|"))})
	} else if want && got&ring.SetupSingleIssuer == 0 {
		s.AddWarning(backend.Warning{Kind: backend.WarnRingFallback, Text: fmt.Sprintf("%s: SINGLE_ISSUER not available here; ring set up with %s", s.name, strings.Join(ring.SetupFlagNames(got), "|"))})
	}
	if s.evfd, err = s.th.OpenWake(unix.EFD_CLOEXEC); err != nil {
		return fmt.Errorf("%s server: eventfd: %w", s.name, err)
	}
	if s.scratch, err = unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS); err != nil {
		return fmt.Errorf("%s server: mmap: %w", s.name, err)
	}
	copy(s.scratch[64:], s.upstream)
	maxSlots := 2*s.cfg.MaxConns + fixedTableSlack
	if s.fdArr, err = unix.Mmap(-1, 0, pageRound(4*maxSlots), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS); err != nil {
		return fmt.Errorf("%s server: mmap: %w", s.name, err)
	}
	// Registered files: a sparse table, as large as the descriptor limit allows.
	var lim unix.Rlimit
	_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &lim)
	n := uint64(maxSlots)
	n = min(n, lim.Cur, maxFixedFiles)
	if n >= 16 && s.r.RegisterFilesSparse(uint32(n)) == nil {
		s.fixed = true
		s.tableCap = int(n)
	} else {
		s.AddWarning(backend.Warning{Kind: backend.WarnRingFallback, Text: fmt.Sprintf("%s: no sparse registered-file table here (5.19+); sockets used as plain descriptors", s.name)})
	}
	if s.cfg.Multishot {
		entries := uint32(bufRingEntries)
		if s.knobs.bufRingEntries > 0 {
			entries = s.knobs.bufRingEntries
		}
		if s.br, err = s.r.NewBufRing(0, entries, s.cfg.BufSize); err != nil {
			return fmt.Errorf("%s server: --multishot: provided-buffer ring (5.19+): %w", s.name, errors.Join(backend.ErrNotSupported, err))
		}
	}
	s.timedWait = s.r.Features()&ring.FeatExtArg != 0
	s.cqes = make([]ring.CQE, 1024)
	s.aux = make([]ring.CQE, 256)
	if k := s.knobs.reapBatch; k > 0 {
		s.cqes, s.aux = make([]ring.CQE, k), make([]ring.CQE, k)
	}
	s.conns = make([]conn, 0, 64)
	return nil
}

func pageRound(n int) int {
	ps := unix.Getpagesize()
	return (n + ps - 1) &^ (ps - 1)
}

// sqpollThreads lists this process's SQPOLL kernel threads (iou-sqp-PID).
func sqpollThreads() map[int]bool {
	out := map[int]bool{}
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return out
	}
	for _, e := range ents {
		comm, err := os.ReadFile("/proc/self/task/" + e.Name() + "/comm")
		if err == nil && strings.HasPrefix(string(comm), "iou-sqp-") {
			if tid, err := strconv.Atoi(e.Name()); err == nil {
				out[tid] = true
			}
		}
	}
	return out
}

// newPollThread returns an SQPOLL thread of this process not in before (0 if none): the poll thread of
// a ring set up since before was taken. A new poll thread bears its creator's name until it first runs,
// which on a busy machine can be a while after io_uring_setup returned: look again for up to
// pollThreadNameWait.
func newPollThread(before map[int]bool) int {
	for deadline := time.Now().Add(pollThreadNameWait); ; time.Sleep(time.Millisecond) {
		for tid := range sqpollThreads() {
			if !before[tid] {
				return tid
			}
		}
		if time.Now().After(deadline) {
			return 0
		}
	}
}

// pollThreadNameWait bounds how long newPollThread waits for a new poll thread to take its name.
const pollThreadNameWait = 200 * time.Millisecond

// cleanup cancels every request, waits (boundedly) for their completions, and releases the ring, the
// sockets, the buffers and the listener.
func (s *Server) cleanup() {
	drained := true
	if s.r != nil {
		drained = s.r.CancelAndDrain(ud(kIgnore, 0), &s.inflight, s.cqes, drainTimeout) == nil
	}
	for i := range s.conns {
		cn := &s.conns[i]
		if cn.rawFD >= 0 {
			unix.Close(int(cn.rawFD))
		}
		if cn.inUse && !s.fixed && cn.fd >= 0 {
			unix.Close(int(cn.fd))
		}
		cn.inUse = false
	}
	s.ctr.Open.Store(0)
	if s.r != nil {
		_ = s.r.Close() // the registered table (and the sockets in it) and the buffer ring go with it
		s.r = nil
	}
	if drained {
		// Only memory no request can still write to is unmapped.
		for _, m := range s.chunks {
			_ = unix.Munmap(m)
		}
		if s.scratch != nil {
			_ = unix.Munmap(s.scratch)
		}
		if s.fdArr != nil {
			_ = unix.Munmap(s.fdArr)
		}
	}
	s.chunks, s.scratch, s.fdArr, s.conns = nil, nil, nil, nil
	if s.lfd >= 0 {
		unix.Close(s.lfd)
		s.lfd = -1
	}
	s.evfd = -1 // closed by s.th after cleanup
}
