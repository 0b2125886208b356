// Package procstat reads CPU time, context switches and memory of this process and its threads, from /proc.
//
// # Which source is used for what
//
// Per thread (Threads, Snapshot.Threads):
//   - CPUNs: /proc/PID/task/TID/schedstat, first field, the nanoseconds the thread ran (sum_exec_runtime).
//     Precise. It is what PollThreadNs (iou-sqp-* threads) and WorkerNs (iou-wrk-* threads) are summed from.
//   - UserNs, SysNs: /proc/PID/task/TID/stat utime and stime, in clock ticks (CLK_TCK, 100 on Linux, read from
//     the auxiliary vector) converted to ns: 10 ms granularity, and the user/system split is sampled at each
//     tick. Use them for the split over long intervals only; use CPUNs for amounts.
//   - VolCtx, InvolCtx: /proc/PID/task/TID/status voluntary_ctxt_switches, nonvoluntary_ctxt_switches.
//
// Whole process (Take):
//   - CPUNs: clock_gettime on the process CPU-time clock (CLOCK_PROCESS_CPUTIME_ID for this process, the clock
//     of clock_getcpuclockid(pid) for another): nanoseconds, all threads including exited ones and the io_uring
//     kernel threads (iou-sqp-*, iou-wrk-*), which belong to the thread group. This is the figure to divide by
//     operations. Summing schedstat over /proc/PID/task would miss threads that exited.
//   - UserNs, SysNs: this process: getrusage(RUSAGE_SELF), microsecond resolution, all threads including exited
//     ones and iou-sqp (RUSAGE_THREAD would miss it). Another process: /proc/PID/stat utime/stime (ticks, 10 ms).
//   - VolCtx, InvolCtx: this process: getrusage (all threads, exited ones too). Another process: the sum over its
//     live threads' status files (threads that exited are missing; /proc/PID/status alone covers only the main
//     thread).
//   - RSSBytes, PeakRSSBytes: /proc/PID/status VmRSS, VmHWM. ResetPeakRSS resets VmHWM.
//
// A Delta between two snapshots matches threads by TID and start time (so a reused TID is a new thread).
// A thread that exited between the snapshots is listed in Delta.Exited; its CPU after the first snapshot is in
// the process totals but not in the per-thread figures, including PollThreadNs: take the closing snapshot
// before tearing down an SQPOLL ring.
package procstat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ThreadTimes is one thread's CPU time and context switches.
type ThreadTimes struct {
	TID  int
	Name string // comm, e.g. "iou-sqp-1234"
	// UserNs, SysNs come from stat utime/stime: clock-tick (10 ms) granularity.
	UserNs, SysNs uint64
	// CPUNs is the time on CPU from schedstat, ns precision; WaitNs the time runnable but waiting for a CPU.
	CPUNs, WaitNs    uint64
	Precise          bool // CPUNs came from schedstat (false: schedstat missing, CPUNs = UserNs + SysNs)
	VolCtx, InvolCtx uint64
	StartTicks       uint64 // start time after boot, in clock ticks (stat field 22): tells a reused TID apart
}

// Snapshot is the state of a whole process at one moment.
type Snapshot struct {
	PID  int
	When time.Time
	// UserNs, SysNs: getrusage for this process (µs), /proc/PID/stat for another (10 ms).
	UserNs, SysNs uint64
	// CPUNs: the process CPU clock, ns, every thread including exited ones and io_uring kernel threads.
	CPUNs            uint64
	PollThreadNs     uint64 // schedstat CPU of iou-sqp-* threads (included in CPUNs, UserNs+SysNs)
	WorkerNs         uint64 // schedstat CPU of iou-wrk-* threads (included likewise)
	VolCtx, InvolCtx uint64
	PeakRSSBytes     uint64 // VmHWM
	RSSBytes         uint64 // VmRSS
	Threads          []ThreadTimes
}

// Delta is the change between two snapshots.
type Delta struct {
	Wall             time.Duration
	UserNs, SysNs    uint64
	CPUNs            uint64
	PollThreadNs     uint64
	WorkerNs         uint64
	VolCtx, InvolCtx uint64
	Threads          []ThreadTimes // per-thread change; a thread new since prev counts from zero
	Exited           []ThreadTimes // threads in prev that are gone (their last figures from prev)
}

// ErrUnavailable is returned (wrapped) when a /proc source cannot be read for lack of permission or support.
var ErrUnavailable = errors.New("procstat: unavailable")

var (
	tickOnce sync.Once
	tickNs   uint64 = 10_000_000
)

// ClockTick returns the length of a clock tick (1/CLK_TCK), from AT_CLKTCK in /proc/self/auxv.
func ClockTick() time.Duration {
	tickOnce.Do(func() {
		b, err := os.ReadFile("/proc/self/auxv")
		if err != nil {
			return
		}
		const atClkTck = 17
		for i := 0; i+16 <= len(b); i += 16 {
			k := binary.NativeEndian.Uint64(b[i:])
			v := binary.NativeEndian.Uint64(b[i+8:])
			if k == atClkTck && v > 0 {
				tickNs = 1_000_000_000 / v
			}
			if k == 0 {
				break
			}
		}
	})
	return time.Duration(tickNs)
}

func procDir(pid int) string {
	if pid == 0 {
		return "/proc/self"
	}
	return "/proc/" + strconv.Itoa(pid)
}

func isSelf(pid int) bool { return pid == 0 || pid == os.Getpid() }

// statFields parses a /proc stat line. It returns comm and the fields after it, so that fields[0] is
// field 3 (state) of proc(5).
func statFields(b []byte) (string, []string, error) {
	open := bytes.IndexByte(b, '(')
	cls := bytes.LastIndexByte(b, ')')
	if open < 0 || cls < open {
		return "", nil, fmt.Errorf("malformed stat line %q", b)
	}
	return string(b[open+1 : cls]), strings.Fields(string(b[cls+1:])), nil
}

// field returns proc(5) field number n (1-based) from statFields' output.
func field(f []string, n int) uint64 {
	i := n - 3
	if i < 0 || i >= len(f) {
		return 0
	}
	v, _ := strconv.ParseUint(f[i], 10, 64)
	return v
}

func statusValue(b []byte, key string) (uint64, bool) {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte(key+":")); ok {
			fs := strings.Fields(string(v))
			if len(fs) == 0 {
				return 0, false
			}
			n, err := strconv.ParseUint(fs[0], 10, 64)
			if err != nil {
				return 0, false
			}
			if len(fs) > 1 && fs[1] == "kB" {
				n *= 1024
			}
			return n, true
		}
	}
	return 0, false
}

// readThread reads one task directory. A thread that exited meanwhile gives os.ErrNotExist (or ESRCH).
func readThread(dir string, tid int) (ThreadTimes, error) {
	tick := uint64(ClockTick())
	st, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return ThreadTimes{}, err
	}
	comm, f, err := statFields(st)
	if err != nil {
		return ThreadTimes{}, err
	}
	t := ThreadTimes{TID: tid, Name: comm, UserNs: field(f, 14) * tick, SysNs: field(f, 15) * tick, StartTicks: field(f, 22)}
	if ss, err := os.ReadFile(dir + "/schedstat"); err == nil {
		fs := strings.Fields(string(ss))
		if len(fs) >= 2 {
			t.CPUNs, _ = strconv.ParseUint(fs[0], 10, 64)
			t.WaitNs, _ = strconv.ParseUint(fs[1], 10, 64)
			t.Precise = true
		}
	}
	if !t.Precise {
		t.CPUNs = t.UserNs + t.SysNs
	}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return ThreadTimes{}, err
	}
	t.VolCtx, _ = statusValue(status, "voluntary_ctxt_switches")
	t.InvolCtx, _ = statusValue(status, "nonvoluntary_ctxt_switches")
	return t, nil
}

func gone(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH)
}

// Threads returns every thread of process pid (0: this process), sorted by TID. Threads that exit while
// being read are left out.
func Threads(pid int) ([]ThreadTimes, error) {
	base := procDir(pid) + "/task"
	ents, err := os.ReadDir(base)
	if err != nil {
		return nil, err
	}
	out := make([]ThreadTimes, 0, len(ents))
	for _, e := range ents {
		tid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		t, err := readThread(base+"/"+e.Name(), tid)
		if gone(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b ThreadTimes) int { return a.TID - b.TID })
	return out, nil
}

func isPollThread(name string) bool   { return strings.HasPrefix(name, "iou-sqp-") }
func isWorkerThread(name string) bool { return strings.HasPrefix(name, "iou-wrk-") }

// processCPUNs reads the process CPU-time clock (ns) of pid.
func processCPUNs(pid int) (uint64, error) {
	clock := int32(unix.CLOCK_PROCESS_CPUTIME_ID)
	if !isSelf(pid) {
		// MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED) = (~pid << 3) | 2, as clock_getcpuclockid(3) builds it.
		clock = int32(^uint32(pid)<<3 | 2)
	}
	var ts unix.Timespec
	if err := unix.ClockGettime(clock, &ts); err != nil {
		return 0, err
	}
	return uint64(ts.Nano()), nil
}

// Take snapshots process pid (0: this process). See the package documentation for the sources.
func Take(pid int) (Snapshot, error) {
	if pid == 0 {
		pid = os.Getpid()
	}
	s := Snapshot{PID: pid, When: time.Now()}
	dir := procDir(pid)
	ths, err := Threads(pid)
	if err != nil {
		return s, err
	}
	s.Threads = ths
	for _, t := range ths {
		switch {
		case isPollThread(t.Name):
			s.PollThreadNs += t.CPUNs
		case isWorkerThread(t.Name):
			s.WorkerNs += t.CPUNs
		}
	}
	if isSelf(pid) {
		var ru unix.Rusage
		if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
			return s, err
		}
		s.UserNs = uint64(ru.Utime.Nano())
		s.SysNs = uint64(ru.Stime.Nano())
		s.VolCtx = uint64(ru.Nvcsw)
		s.InvolCtx = uint64(ru.Nivcsw)
	} else {
		st, err := os.ReadFile(dir + "/stat")
		if err != nil {
			return s, err
		}
		_, f, err := statFields(st)
		if err != nil {
			return s, err
		}
		tick := uint64(ClockTick())
		s.UserNs, s.SysNs = field(f, 14)*tick, field(f, 15)*tick
		for _, t := range ths {
			s.VolCtx += t.VolCtx
			s.InvolCtx += t.InvolCtx
		}
	}
	if s.CPUNs, err = processCPUNs(pid); err != nil {
		// Fall back to the live threads' schedstat sum (misses exited threads).
		for _, t := range ths {
			s.CPUNs += t.CPUNs
		}
	}
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return s, err
	}
	s.RSSBytes, _ = statusValue(status, "VmRSS")
	s.PeakRSSBytes, _ = statusValue(status, "VmHWM")
	return s, nil
}

func sat(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// Sub returns s - prev. Threads are matched by TID and start time; see Delta.
func (s Snapshot) Sub(prev Snapshot) Delta {
	d := Delta{
		Wall:     s.When.Sub(prev.When),
		UserNs:   sat(s.UserNs, prev.UserNs),
		SysNs:    sat(s.SysNs, prev.SysNs),
		CPUNs:    sat(s.CPUNs, prev.CPUNs),
		VolCtx:   sat(s.VolCtx, prev.VolCtx),
		InvolCtx: sat(s.InvolCtx, prev.InvolCtx),
	}
	type key struct {
		tid   int
		start uint64
	}
	old := make(map[key]ThreadTimes, len(prev.Threads))
	for _, t := range prev.Threads {
		old[key{t.TID, t.StartTicks}] = t
	}
	for _, t := range s.Threads {
		k := key{t.TID, t.StartTicks}
		p, ok := old[k]
		delete(old, k)
		if ok {
			t = ThreadTimes{TID: t.TID, Name: t.Name, UserNs: sat(t.UserNs, p.UserNs), SysNs: sat(t.SysNs, p.SysNs),
				CPUNs: sat(t.CPUNs, p.CPUNs), WaitNs: sat(t.WaitNs, p.WaitNs), Precise: t.Precise && p.Precise,
				VolCtx: sat(t.VolCtx, p.VolCtx), InvolCtx: sat(t.InvolCtx, p.InvolCtx), StartTicks: t.StartTicks}
		}
		d.Threads = append(d.Threads, t)
		switch {
		case isPollThread(t.Name):
			d.PollThreadNs += t.CPUNs
		case isWorkerThread(t.Name):
			d.WorkerNs += t.CPUNs
		}
	}
	for _, t := range prev.Threads {
		if _, ok := old[key{t.TID, t.StartTicks}]; ok {
			d.Exited = append(d.Exited, t)
		}
	}
	return d
}

// ResetPeakRSS resets the peak resident set size (VmHWM) of process pid (0: this process) to its current RSS,
// by writing 5 to /proc/PID/clear_refs. Allowed for the process's owner (or root); the error wraps
// ErrUnavailable when not allowed.
func ResetPeakRSS(pid int) error {
	err := os.WriteFile(procDir(pid)+"/clear_refs", []byte("5"), 0)
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%w: reset peak RSS: %v", ErrUnavailable, err)
	}
	return err
}

// SlabInfo is one line of /proc/slabinfo.
type SlabInfo struct {
	Name         string
	ActiveObjs   uint64
	NumObjs      uint64
	ObjSize      uint64 // bytes
	ObjPerSlab   uint64
	PagesPerSlab uint64
	ActiveSlabs  uint64
	NumSlabs     uint64
}

// Bytes is the memory the cache's slabs occupy.
func (s SlabInfo) Bytes() uint64 { return s.NumSlabs * s.PagesPerSlab * uint64(os.Getpagesize()) }

// ActiveBytes is the memory of the objects in use.
func (s SlabInfo) ActiveBytes() uint64 { return s.ActiveObjs * s.ObjSize }

// ErrSlabUnavailable is returned (wrapped) when /proc/slabinfo cannot be read: it is mode 0400 root, and absent
// on kernels without slab statistics. Note that SLUB merges caches of similar size; a cache may hold objects
// of other kinds too (boot with slab_nomerge to separate them).
var ErrSlabUnavailable = fmt.Errorf("%w: /proc/slabinfo not readable", ErrUnavailable)

// Slab reads /proc/slabinfo (version 2.x), keyed by cache name.
func Slab() (map[string]SlabInfo, error) {
	b, err := os.ReadFile("/proc/slabinfo")
	if err != nil {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %v", ErrSlabUnavailable, err)
		}
		return nil, err
	}
	return parseSlab(b)
}

func parseSlab(b []byte) (map[string]SlabInfo, error) {
	lines := strings.Split(string(b), "\n")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "slabinfo - version: 2.") {
		return nil, fmt.Errorf("procstat: unknown slabinfo format %q", lines[0])
	}
	out := map[string]SlabInfo{}
	for _, line := range lines[1:] {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		// name active num objsize objperslab pagesperslab : tunables a b c : slabdata active num shared
		if len(f) < 16 || f[6] != ":" || f[11] != ":" {
			return nil, fmt.Errorf("procstat: bad slabinfo line %q", line)
		}
		n := func(i int) uint64 { v, _ := strconv.ParseUint(f[i], 10, 64); return v }
		out[f[0]] = SlabInfo{Name: f[0], ActiveObjs: n(1), NumObjs: n(2), ObjSize: n(3), ObjPerSlab: n(4),
			PagesPerSlab: n(5), ActiveSlabs: n(13), NumSlabs: n(14)}
	}
	return out, nil
}
