package perfcount

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/procstat"
	"github.com/ringbench/ringbench/internal/testsupport"
	"golang.org/x/sys/unix"
)

func TestCheckAsPrivileged(t *testing.T) {
	r := Check()
	if !r.Root && !r.CapPerfmon && r.Paranoid > 1 {
		t.Skipf("needs root or CAP_PERFMON (perf_event_paranoid=%d): the unprivileged case is TestNonRootFalseZero", r.Paranoid)
	}
	if !r.Usable || r.ExcludeKernel {
		t.Fatalf("privileged Check: usable=%v excludeKernel=%v err=%q", r.Usable, r.ExcludeKernel, r.Error)
	}
	seen := map[string]EventStatus{}
	for _, e := range r.Events {
		seen[e.Name] = e
		if !e.OK || e.FalseZeroRisk {
			t.Errorf("%s: ok=%v falseZero=%v reason=%q", e.Name, e.OK, e.FalseZeroRisk, e.Reason)
		}
	}
	if e := seen[labelTotal]; e.ProbeCount < probeCalls {
		t.Errorf("raw_syscalls:sys_enter probe count %d < %d", e.ProbeCount, probeCalls)
	}
	if e := seen[nameLabel("getppid")]; e.ProbeCount != probeCalls {
		t.Errorf("getppid probe count %d, want exactly %d", e.ProbeCount, probeCalls)
	}
	if e := seen[labelCtx]; e.ProbeCount < 1 {
		t.Errorf("context-switches probe count %d after %d sleeps", e.ProbeCount, probeSleeps)
	}
	for _, n := range DefaultBreakdown {
		if _, ok := seen[nameLabel(n)]; !ok {
			t.Errorf("Check does not report %s", n)
		}
	}
}

func TestOpenThreadsExactCounts(t *testing.T) {
	requireKernelEvents(t)
	f, err := os.Open("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const n, preads = 20_000, 1_000
	buf := make([]byte, 512)
	onCountedThread(t, []string{"getppid", "pread64", "read"}, func(tid int, c *Counter) {
		ref, err := openSyscallRef(tid)
		if err != nil {
			t.Error(err)
			return
		}
		defer ref.close()
		// Every syscall below is made by this thread, in this order, one at a time:
		//   ref.read (1)  c.Reset (2: one read(2))  n getppid  preads pread64  c.Read (3: one read(2))  ref.read (4)
		// The Counter counts the syscalls entered after 2 up to 3, 3 included; the reference those after 1 up
		// to 4, 4 included: 2, 3, 4, the burst and whatever the runtime did on this thread anywhere between 1
		// and 4. getppid is never made by the Go runtime, and pread64 (which it makes since Go 1.25 to re-read
		// its cgroup's CPU limit) only on its sysmon thread: on this thread they are exact.
		ref0, err := ref.read()
		if err != nil {
			t.Error(err)
			return
		}
		if err := c.Reset(); err != nil {
			t.Error(err)
			return
		}
		getppidBurst(n)
		for i := 0; i < preads; i++ {
			if _, err := unix.Pread(int(f.Fd()), buf, int64(i)*512); err != nil {
				t.Error(err)
				return
			}
		}
		r, err := c.Read()
		if err != nil {
			t.Error(err)
			return
		}
		ref1, err := ref.read()
		if err != nil {
			t.Error(err)
			return
		}
		const burst = n + preads
		if ref1-ref0 < burst+3 {
			t.Errorf("reference counted %d syscalls, fewer than the %d the test made", ref1-ref0, burst+3)
			return
		}
		noise := ref1 - ref0 - burst - 3 // the runtime's syscalls on this thread between 1 and 4
		t.Logf("thread %d: total=%d byName=%v other=%d ctx=%d task-clock=%dns; runtime syscalls around the window: %d",
			tid, r.Total, r.ByName, r.Other, r.ContextSwitches, r.TaskClockNs, noise)
		if r.ByName["getppid"] != n || r.ByName["pread64"] != preads {
			t.Errorf("breakdown %v, want getppid=%d pread64=%d exactly", r.ByName, n, preads)
		}
		// read: c.Read's own, plus any the runtime made (pread64 must not leak into it).
		if rd := r.ByName["read"]; rd < 1 || rd > 1+noise {
			t.Errorf("read %d, want 1..%d (c.Read's own read(2) + the runtime's %d syscalls)", rd, 1+noise, noise)
		}
		// Total: the burst and c.Read's read(2), plus at most what the reference saw the runtime do.
		if !r.TotalAvailable || r.Total < burst+1 || r.Total > burst+1+noise {
			t.Errorf("total %d (available %v), want %d..%d (burst + c.Read's read(2) + up to the %d runtime syscalls the reference counted)",
				r.Total, r.TotalAvailable, burst+1, burst+1+noise, noise)
		}
		if named := r.ByName["getppid"] + r.ByName["pread64"] + r.ByName["read"]; r.Other != r.Total-named || !r.OtherAvailable {
			t.Errorf("other %d, want total-named = %d", r.Other, r.Total-named)
		}
		if r.TaskClockNs == 0 || r.Threads != 1 {
			t.Errorf("task-clock %d, threads %d", r.TaskClockNs, r.Threads)
		}
	})
}

func TestOpenWholeProcessCountsBurst(t *testing.T) {
	requireKernelEvents(t)
	// ref, a second whole-process Counter, counts a window that contains c's: its total bounds c's from above
	// with the runtime's syscalls of this very run, however busy the machine is.
	const n = 50_000
	c, r, rr := countAround(t, func(b []string) (*Counter, error) { return Open(b) }, func() { onLockedThread(func(int) { getppidBurst(n) }) })
	t.Logf("threads=%v fds=%d total=%d getppid=%d other=%d ctx=%d; reference total %d", c.Threads(), c.FDs(), r.Total,
		r.ByName["getppid"], r.Other, r.ContextSwitches, rr.Total)
	if r.ByName["getppid"] != n {
		t.Errorf("getppid %d, want exactly %d", r.ByName["getppid"], n)
	}
	if !r.TotalAvailable || r.Total < n || r.Total > rr.Total {
		t.Errorf("total %d, want %d..%d (the burst, up to the total of a counter around it)", r.Total, n, rr.Total)
	}
	if c.FDs() != len(c.Threads())*4 {
		t.Errorf("%d fds for %d threads, want 4 per thread (task-clock, total, ctx, getppid)", c.FDs(), len(c.Threads()))
	}
}

func TestContextSwitches(t *testing.T) {
	requireKernelEvents(t)
	const sleeps = 50
	// clock_nanosleep, because the Go runtime never calls it (it sleeps with nanosleep and futex): its count
	// is exact.
	onCountedThread(t, []string{"clock_nanosleep"}, func(tid int, c *Counter) {
		// Nested windows on this thread: perf outer (r0..r3) around /proc (vol0..vol1) around perf inner
		// (r1..r2). procstat reads the scheduler's own per-thread counters, an independent reference that
		// counts every switch perf counts: the inner perf count can only be lower, the outer only higher,
		// however many involuntary switches a busy machine causes.
		var rs [4]Reading
		read := func(i int) bool {
			var err error
			rs[i], err = c.Read()
			if err != nil {
				t.Error(err)
			}
			return err == nil
		}
		if !read(0) {
			return
		}
		vol0, invol0 := threadCtx(t, tid)
		if !read(1) {
			return
		}
		for i := 0; i < sleeps; i++ {
			ts := unix.Timespec{Nsec: 200_000}
			if err := unix.ClockNanosleep(unix.CLOCK_MONOTONIC, 0, &ts, nil); err != nil {
				t.Error(err)
				return
			}
		}
		if !read(2) {
			return
		}
		vol1, invol1 := threadCtx(t, tid)
		if !read(3) {
			return
		}
		in, out := rs[2].Sub(rs[1]), rs[3].Sub(rs[0])
		vol, invol := vol1-vol0, invol1-invol0
		t.Logf("perf context-switches inner=%d outer=%d, /proc status voluntary=%d involuntary=%d, clock_nanosleep=%d",
			in.ContextSwitches, out.ContextSwitches, vol, invol, in.ByName["clock_nanosleep"])
		if in.ByName["clock_nanosleep"] != sleeps {
			t.Errorf("clock_nanosleep %d, want exactly %d", in.ByName["clock_nanosleep"], sleeps)
		}
		// Each sleep blocks: one voluntary switch each at least.
		if !in.CtxAvailable || in.ContextSwitches < sleeps {
			t.Errorf("context switches %d (available %v), want >= %d", in.ContextSwitches, in.CtxAvailable, sleeps)
		}
		if vol < sleeps {
			t.Errorf("voluntary switches %d for %d sleeps", vol, sleeps)
		}
		if in.ContextSwitches > vol+invol || vol+invol > out.ContextSwitches {
			t.Errorf("/proc's %d context switches not between perf's %d (narrower window) and %d (wider window)",
				vol+invol, in.ContextSwitches, out.ContextSwitches)
		}
	})

	// Whole process, Go sleeps: each one parks a thread at least once.
	c := openCounter(t, nil)
	for i := 0; i < 30; i++ {
		time.Sleep(time.Millisecond)
	}
	r, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	if !r.CtxAvailable || r.ContextSwitches < 30 {
		t.Errorf("whole process: %d context switches after 30 sleeps", r.ContextSwitches)
	}
}

func threadCtx(t *testing.T, tid int) (vol, invol uint64) {
	ths, err := procstat.Threads(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range ths {
		if th.TID == tid {
			return th.VolCtx, th.InvolCtx
		}
	}
	t.Fatalf("thread %d not found", tid)
	return 0, 0
}

// Threads created after Open are counted through inheritance from the thread that created them.
func TestInheritCoversThreadsCreatedAfterOpen(t *testing.T) {
	requireCounting(t)
	before, err := listTasks(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	c := openCounter(t, []string{"getppid"})
	// More goroutines locked at the same time than the process has threads (earlier tests, or the last
	// -count run, may have left many idle ones): some must be new.
	g, n := len(before)+4, 2_000
	b := lockBursts(g, n, false)
	b.release()
	tids := b.tids
	r, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	// Threads without a group of their own were created after Open (Open covers every thread it saw).
	direct := c.Threads()
	var fresh []int
	for _, tid := range tids {
		if !slices.Contains(direct, tid) {
			fresh = append(fresh, tid)
		}
	}
	t.Logf("%d threads before the test, %d with groups, %d created after Open; getppid=%d", len(before), len(direct), len(fresh), r.ByName["getppid"])
	if len(fresh) == 0 {
		t.Fatal("no thread was created after Open: the test proves nothing")
	}
	if r.ByName["getppid"] != uint64(g*n) {
		t.Errorf("getppid %d, want exactly %d", r.ByName["getppid"], g*n)
	}
	if r.TotalAvailable && r.Total < uint64(g*n) {
		t.Errorf("total %d < %d", r.Total, g*n)
	}
}

// The locked-thread lifecycle of the file workloads: goroutines that LockOSThread and return while still
// locked, so that Go terminates their thread. Their syscalls must be counted exactly, whether the thread had
// an event group of its own (it existed at Open, idle in the runtime's pool) or was created after Open
// (counted through an inherited copy), and whether or not the thread that created it has exited by then:
// each round needs more threads than the process has, so it creates threads from threads that the earlier
// rounds then terminate. (Go decides which thread creates which; the rounds make it happen, they cannot pin
// it down.)
func TestThreadLifecycleCountedExactly(t *testing.T) {
	requireCounting(t)
	// Idle threads in the runtime's pool: locked goroutines started after Open take them first, so threads
	// with event groups of their own exit during the count.
	parkThreads(t, 4)()
	c := openCounter(t, []string{"getppid"})
	direct := c.Threads()
	const rounds, n = 4, 1_000
	var want uint64
	var used []int
	for round := 0; round < rounds; round++ {
		cur, err := listTasks(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		g := len(cur) + 4
		b := lockBursts(g, n, true)
		b.release()
		tids := b.tids
		want += uint64(g * n)
		used = append(used, tids...)
		// Wait for the threads to be gone. The main thread cannot exit: Go parks it for good instead.
		deadline := time.Now().Add(10 * time.Second)
		for _, tid := range tids {
			for tid != os.Getpid() {
				if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid)); err != nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("round %d: thread %d still there 10 s after its locked goroutine returned", round, tid)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
	r, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	retries := c.echildRetries
	c.mu.Unlock()
	var withGroup, fresh int
	for _, tid := range used {
		if slices.Contains(direct, tid) {
			withGroup++
		} else {
			fresh++
		}
	}
	t.Logf("%d locked goroutines on %d threads with groups of their own, %d created after Open; all exited (%d group reads "+
		"retried for ECHILD); getppid=%d", len(used), withGroup, fresh, retries, r.ByName["getppid"])
	if withGroup == 0 || fresh == 0 {
		t.Fatalf("%d threads with groups, %d created after Open exited: the test proves nothing", withGroup, fresh)
	}
	if r.ByName["getppid"] != want {
		t.Errorf("getppid %d, want exactly %d", r.ByName["getppid"], want)
	}
	if r.TotalAvailable && r.Total < want {
		t.Errorf("total %d < %d", r.Total, want)
	}
}

// Reads that race with exiting threads: while a thread carrying an inherited copy of a group exits, the
// kernel answers a read of that group with ECHILD. Nothing counted may be lost for it: rounds of short-lived
// locked threads run while another goroutine reads without pause, until reads have met ECHILD at least once,
// and then the count must still be exact.
func TestReadsRacingThreadExitsLoseNothing(t *testing.T) {
	requireCounting(t)
	c := openCounter(t, []string{"getppid"})
	stop := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				readErr <- nil
				return
			default:
			}
			if _, err := c.Read(); err != nil {
				readErr <- err
				return
			}
		}
	}()
	const n, maxRounds = 100, 2_000
	var want uint64
	retries, rounds := 0, 0
	for ; rounds < maxRounds && retries == 0; rounds++ {
		cur, err := listTasks(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		g := len(cur) + 4
		lockBursts(g, n, true).release()
		want += uint64(g * n)
		c.mu.Lock()
		retries = c.echildRetries
		c.mu.Unlock()
	}
	close(stop)
	if err := <-readErr; err != nil {
		t.Fatalf("Read while threads exit: %v", err)
	}
	if retries == 0 {
		t.Fatalf("no read met ECHILD in %d rounds of exiting threads: the test proves nothing", rounds)
	}
	// The last round's threads may still be exiting: this read may retry too.
	r, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rounds, %d group reads retried for ECHILD, getppid=%d", rounds, retries, r.ByName["getppid"])
	if r.ByName["getppid"] != want {
		t.Errorf("getppid %d, want exactly %d (lost %d)", r.ByName["getppid"], want, int64(want)-int64(r.ByName["getppid"]))
	}
}

// Threads that appear while Open is opening groups make it start over; nothing is missed or counted twice.
func TestOpenStartsOverWhenThreadsAppear(t *testing.T) {
	requireCounting(t)
	tids, err := listTasks(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// More goroutines locked at once than the process has threads: new threads must appear.
	g, n := len(tids)+4, 1_000
	var b *burstThreads
	attempts := 0
	testHookBeforeRelist = func(attempt int) {
		attempts = attempt + 1
		if attempt > 0 {
			return
		}
		b = lockBursts(g, n, false)
	}
	defer func() { testHookBeforeRelist = nil }()
	c, err := Open([]string{"getppid"})
	testHookBeforeRelist = nil
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if b != nil {
		b.release()
	}
	r, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("attempts=%d threads=%d getppid=%d", attempts, len(c.Threads()), r.ByName["getppid"])
	if attempts < 2 {
		t.Fatalf("Open did not start over (%d attempts): no thread appeared, the test proves nothing", attempts)
	}
	if r.ByName["getppid"] != uint64(g*n) {
		t.Errorf("getppid %d, want exactly %d", r.ByName["getppid"], g*n)
	}
}

func TestDisableEnableReset(t *testing.T) {
	requireCounting(t)
	onCountedThread(t, []string{"getppid"}, func(tid int, c *Counter) {
		getppidBurst(100)
		if err := c.Disable(); err != nil {
			t.Error(err)
		}
		getppidBurst(1000)
		r1, _ := c.Read()
		if err := c.Enable(); err != nil {
			t.Error(err)
		}
		getppidBurst(10)
		r2, _ := c.Read()
		if r1.ByName["getppid"] != 100 || r2.ByName["getppid"] != 110 {
			t.Errorf("disabled: %d (want 100), re-enabled: %d (want 110)", r1.ByName["getppid"], r2.ByName["getppid"])
		}
		if d := r2.Sub(r1); d.ByName["getppid"] != 10 {
			t.Errorf("Sub: %d, want 10", d.ByName["getppid"])
		}
		if err := c.Reset(); err != nil {
			t.Error(err)
		}
		getppidBurst(7)
		r3, _ := c.Read()
		if r3.ByName["getppid"] != 7 {
			t.Errorf("after Reset: %d, want 7", r3.ByName["getppid"])
		}
	})
}

// A thread that exits keeps its counts.
func TestExitedThreadKeepsCounts(t *testing.T) {
	requireCounting(t)
	tidc := make(chan int)
	gox := make(chan struct{})
	testsupport.GoExitingThread(func(tid int) {
		tidc <- tid
		<-gox
		getppidBurst(500)
	})
	tid := <-tidc
	c, err := OpenThreads([]int{tid}, []string{"getppid"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	close(gox)
	testsupport.WaitThreadGone(t, tid, 5*time.Second)
	r, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	if r.ByName["getppid"] != 500 {
		t.Errorf("exited thread: getppid %d, want 500", r.ByName["getppid"])
	}
}

func TestOpenThreadsMissingThread(t *testing.T) {
	requireCounting(t)
	_, err := OpenThreads([]int{1 << 30}, nil)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("OpenThreads on a missing thread: %v", err)
	}
	if _, err := OpenPID(1<<30, nil); !errors.Is(err, ErrUnavailable) {
		t.Errorf("OpenPID on a missing process: %v, want ErrUnavailable", err)
	}
}

func TestCloseReleasesEveryFD(t *testing.T) {
	requireCounting(t)
	Check() // warm the tracepoint id cache (a temporary tracefs mount holds no fd, but be sure)
	before := testsupport.OpenFDs(t)
	Check()
	c, err := Open(DefaultBreakdown)
	if err != nil {
		t.Fatal(err)
	}
	if c.FDs() == 0 || testsupport.OpenFDs(t) < before+c.FDs() {
		t.Errorf("counter holds %d fds, process went from %d to %d", c.FDs(), before, testsupport.OpenFDs(t))
	}
	if _, err := c.Read(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close()
	if _, err := c.Read(); err == nil {
		t.Error("Read after Close succeeded")
	}
	onLockedThread(func(tid int) {
		c2, err := OpenThreads([]int{tid}, DefaultBreakdown)
		if err != nil {
			t.Error(err)
			return
		}
		c2.Close()
	})
	if after := testsupport.OpenFDs(t); after != before {
		t.Errorf("fds: %d before, %d after Close", before, after)
	}
}

func TestOpenPIDChild(t *testing.T) {
	requireKernelEvents(t)
	ch := startChild(t, "burst")
	ch.expect(t, "ready")
	pid := ch.cmd.Process.Pid
	// ref counts a window that contains c's: the child's runtime syscalls around its burst (sysmon, GC, thread
	// start-up) are measured there, not guessed.
	open := func(breakdown []string) (*Counter, error) { return OpenPID(pid, breakdown) }
	c, r, rr := countAround(t, open, func() {
		fmt.Fprintln(ch.in, "go")
		ch.expect(t, "done")
	})
	t.Logf("child %d: threads=%d total=%d getppid=%d ctx=%d; reference total %d", pid, r.Threads, r.Total, r.ByName["getppid"],
		r.ContextSwitches, rr.Total)
	if r.ByName["getppid"] != childTotal {
		t.Errorf("child getppid %d, want %d", r.ByName["getppid"], childTotal)
	}
	if !r.TotalAvailable || r.Total < childTotal || r.Total > rr.Total {
		t.Errorf("child total %d, want %d..%d (the burst, up to the total of a counter around it)", r.Total, childTotal, rr.Total)
	}
	// After the process exits its final counts stay readable.
	ch.in.Close()
	_ = ch.cmd.Wait()
	r2, err := c.Read()
	if err != nil {
		t.Fatalf("Read after the process exited: %v", err)
	}
	if r2.ByName["getppid"] != childTotal || r2.Total < r.Total {
		t.Errorf("after exit: getppid %d total %d (before exit %d)", r2.ByName["getppid"], r2.Total, r.Total)
	}
}

// Processes started by the counted process are not counted (inherit_thread), so a load generator or server
// started from it does not mix in.
func TestChildProcessesNotCounted(t *testing.T) {
	requireCounting(t)
	c := openCounter(t, []string{"getppid"})
	ch := startChild(t, "burst")
	ch.expect(t, "ready")
	fmt.Fprintln(ch.in, "go")
	ch.expect(t, "done")
	r, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	if c.CountsChildProcesses() {
		t.Skip("kernel before 5.13 (no inherit_thread): child processes are counted, as CountsChildProcesses says")
	}
	if r.ByName["getppid"] != 0 {
		t.Errorf("the child's %d getppid calls leaked into this process's count: %d", childTotal, r.ByName["getppid"])
	}
}

// perfStatCSV parses `perf stat -x,` output into event -> count.
func perfStatCSV(out string) map[string]uint64 {
	m := map[string]uint64{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, ",")
		if len(f) >= 3 {
			if v, err := strconv.ParseUint(f[0], 10, 64); err == nil {
				m[f[2]] += v
			}
		}
	}
	return m
}

// perfStatPID is `perf stat -p PID` on raw_syscalls:sys_enter and getppid, started disabled and switched on
// and off through its control descriptors.
type perfStatPID struct {
	cmd        *exec.Cmd
	ctlW, ackR *os.File
	out        strings.Builder
}

func startPerfStatPID(t *testing.T, perf string, pid int) *perfStatPID {
	t.Helper()
	ctlR, ctlW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	ackR, ackW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &perfStatPID{ctlW: ctlW, ackR: ackR}
	p.cmd = exec.Command(perf, "stat", "-x,", "-e", labelTotal, "-e", nameLabel("getppid"),
		"-D", "-1", "--control", "fd:3,4", "-p", strconv.Itoa(pid))
	p.cmd.ExtraFiles = []*os.File{ctlR, ackW}
	p.cmd.Stderr = &p.out
	p.cmd.Stdout = &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctlR.Close()
	ackW.Close()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait(); ctlW.Close(); ackR.Close() })
	return p
}

// control sends "enable" or "disable" and waits for perf's ack: the events are switched when it returns.
func (p *perfStatPID) control(t *testing.T, cmd string) {
	t.Helper()
	if _, err := fmt.Fprintln(p.ctlW, cmd); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 16)
	if n, err := p.ackR.Read(ack); err != nil || !strings.HasPrefix(string(ack[:n]), "ack") {
		t.Fatalf("perf control %s: %q %v (perf: %s)", cmd, ack[:n], err, p.out.String())
	}
}

// counts waits for perf to exit (the target has exited) and returns its counts.
func (p *perfStatPID) counts(t *testing.T) (total, getppid uint64) {
	t.Helper()
	p.ctlW.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatalf("perf did not exit: %s", p.out.String())
	}
	ps := perfStatCSV(p.out.String())
	return ps[labelTotal], ps[nameLabel("getppid")]
}

// OpenPID against `perf stat -p PID`, an independent count, twice: one perf is switched on before our
// counter opens and off after it is read, the other on after it opens and off before it is read. Ours must
// lie between the two, exactly, however many syscalls the child's runtime makes in the margins.
func TestOpenPIDMatchesPerfStat(t *testing.T) {
	requireKernelEvents(t)
	perf := requirePerf(t)
	ch := startChild(t, "burst")
	ch.expect(t, "ready")
	pid := ch.cmd.Process.Pid
	outer := startPerfStatPID(t, perf, pid)
	inner := startPerfStatPID(t, perf, pid)

	outer.control(t, "enable")
	c, err := OpenPID(pid, []string{"getppid"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	inner.control(t, "enable")
	fmt.Fprintln(ch.in, "go")
	ch.expect(t, "done")
	inner.control(t, "disable")
	r, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	outer.control(t, "disable")
	ch.in.Close()
	_ = ch.cmd.Wait()
	it, ig := inner.counts(t)
	ot, og := outer.counts(t)
	t.Logf("perf stat -p inside our window: total=%d getppid=%d; around it: total=%d getppid=%d; OpenPID: total=%d getppid=%d",
		it, ig, ot, og, r.Total, r.ByName["getppid"])
	if ig != childTotal || og != childTotal || r.ByName["getppid"] != childTotal {
		t.Errorf("getppid: perf inside %d, perf around %d, ours %d, want %d (perf output: %s%s)", ig, og, r.ByName["getppid"],
			childTotal, inner.out.String(), outer.out.String())
	}
	if !r.TotalAvailable || r.Total < it || r.Total > ot {
		t.Errorf("total: ours %d, want between perf's counts inside (%d) and around (%d) our window", r.Total, it, ot)
	}
}

// A child counting itself with Open, under `perf stat -- child`: perf also sees the child's start-up, the 100
// getppid calls of Open's probe (made before counting starts), Close and exit, so ours must be at most perf's
// less the probe's calls.
func TestOpenMatchesPerfStatCommand(t *testing.T) {
	requireKernelEvents(t)
	perf := requirePerf(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	csv := filepath.Join(dir, "perf.csv")
	cmd := exec.Command(perf, "stat", "-x,", "-o", csv, "-e", labelTotal, "-e", nameLabel("getppid"), "--", exe)
	cmd.Env = append(os.Environ(), helperEnv+"=selfcount")
	var r Reading
	childJSON(t, cmd, "perf stat", &r)
	b, err := os.ReadFile(csv)
	if err != nil {
		t.Fatal(err)
	}
	ps := perfStatCSV(string(b))
	pt, pg := ps[labelTotal], ps[nameLabel("getppid")]
	t.Logf("perf stat --: total=%d getppid=%d; child's own Open: total=%d getppid=%d threads=%d; perf-ours=%d",
		pt, pg, r.Total, r.ByName["getppid"], r.Threads, int64(pt)-int64(r.Total))
	if r.ByName["getppid"] != childTotal {
		t.Errorf("child counted getppid %d, want %d", r.ByName["getppid"], childTotal)
	}
	if pg != childTotal+probeCalls {
		t.Errorf("perf getppid %d, want %d (+%d from Open's probe)", pg, childTotal+probeCalls, probeCalls)
	}
	if !r.TotalAvailable || r.Total < childTotal || r.Total+probeCalls > pt {
		t.Errorf("total: ours %d, want %d..%d (the burst, up to perf's %d less the probe's %d getppid calls)",
			r.Total, childTotal, int64(pt)-probeCalls, pt, probeCalls)
	}
}

// As an unprivileged user with perf_event_paranoid=2, raw_syscalls:sys_enter and context-switches read 0
// with no error: Check must flag them and Open must report them unavailable, not 0.
func TestNonRootFalseZero(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a child as uid 65534")
	}
	if p, err := readParanoid(); err != nil || p != 2 {
		t.Skipf("needs perf_event_paranoid=2 (is %d, %v); this test does not change it", p, err)
	}
	// Tracepoint ids, read here as root, handed to the child (tracefs is mode 0700 for it).
	var labels []string
	for _, n := range append(append([]string{}, DefaultBreakdown...), "getppid") {
		labels = append(labels, nameLabel(n))
	}
	labels = append(labels, labelTotal)
	ids, errs := TracepointIDs(labels)
	if len(errs) > 0 {
		t.Fatalf("tracepoint ids: %v", errs)
	}
	var kv []string
	for k, v := range ids {
		kv = append(kv, fmt.Sprintf("%s=%d", k, v))
	}
	// The child binary must be reachable by uid 65534: copy it into a world-readable directory.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "perfcount-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	childExe := filepath.Join(dir, "perfcount.test")
	if err := os.WriteFile(childExe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(childExe)
	cmd.Dir = dir
	cmd.Env = []string{helperEnv + "=nonroot", "PERFCOUNT_TEST_IDS=" + strings.Join(kv, ","), "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var res nonrootResult
	childJSON(t, cmd, "child as uid 65534", &res)
	find := func(r Report, name string) EventStatus {
		for _, e := range r.Events {
			if e.Name == name {
				return e
			}
		}
		t.Fatalf("event %s not in report", name)
		return EventStatus{}
	}
	u := res.Unregistered
	t.Logf("unregistered: root=%v paranoid=%d excludeKernel=%v tracefs=%v (%s)", u.Root, u.Paranoid, u.ExcludeKernel, u.TracefsReadable, u.TracefsReason)
	if u.Root || u.TracefsReadable || !u.ExcludeKernel {
		t.Errorf("as uid 65534: root=%v tracefsReadable=%v excludeKernel=%v", u.Root, u.TracefsReadable, u.ExcludeKernel)
	}
	for _, name := range []string{labelTotal, labelCtx} {
		if e := find(u, name); e.OK || !e.FalseZeroRisk {
			t.Errorf("unregistered ids, %s: ok=%v falseZeroRisk=%v reason=%q", name, e.OK, e.FalseZeroRisk, e.Reason)
		}
	}
	reg := res.Registered
	for _, name := range []string{labelTotal, labelCtx} {
		e := find(reg, name)
		t.Logf("%s as uid 65534: ok=%v falseZeroRisk=%v probe=%d reason=%q", name, e.OK, e.FalseZeroRisk, e.ProbeCount, e.Reason)
		if e.OK || !e.FalseZeroRisk || e.ProbeCount != 0 || !strings.Contains(e.Reason, "perf_event_paranoid=2") {
			t.Errorf("%s: ok=%v falseZeroRisk=%v probe=%d reason=%q", name, e.OK, e.FalseZeroRisk, e.ProbeCount, e.Reason)
		}
	}
	if e := find(reg, nameLabel("getppid")); !e.OK || e.ProbeCount != probeCalls {
		t.Errorf("getppid tracepoint as uid 65534: ok=%v probe=%d reason=%q", e.OK, e.ProbeCount, e.Reason)
	}
	if res.OpenErr != "" {
		t.Fatalf("Open as uid 65534: %s", res.OpenErr)
	}
	rd := res.Reading
	if rd.TotalAvailable || rd.TotalReason == "" || rd.CtxAvailable || rd.CtxReason == "" || rd.OtherAvailable {
		t.Errorf("Open as uid 65534 must mark total/ctx/other unavailable: %+v", rd)
	}
	if rd.ByName["getppid"] != 1000 {
		t.Errorf("getppid as uid 65534: %d, want 1000", rd.ByName["getppid"])
	}
	if rd.TaskClockNs == 0 {
		t.Error("task-clock read 0 as uid 65534")
	}
}

// The io_uring SQPOLL kernel thread appears in /proc/self/task; Open must cope with it.
func TestOpenWithSQPollThread(t *testing.T) {
	requireCounting(t)
	fd := testsupport.SQPollRing(t, 1000)
	var sqp int
	for i := 0; i < 100 && sqp == 0; i++ {
		ths, err := procstat.Threads(0)
		if err != nil {
			t.Fatal(err)
		}
		for _, th := range ths {
			if strings.HasPrefix(th.Name, "iou-sqp-") {
				sqp = th.TID
			}
		}
		time.Sleep(time.Millisecond)
	}
	if sqp == 0 {
		t.Fatal("no iou-sqp thread after io_uring_setup(SQPOLL)")
	}
	c := openCounter(t, DefaultBreakdown)
	if !slices.Contains(c.Threads(), sqp) {
		t.Errorf("iou-sqp thread %d not counted: %v", sqp, c.Threads())
	}
	// Wake the poll thread (IORING_ENTER_SQ_WAKEUP): it spins for sq_thread_idle; its CPU is in task-clock.
	// A wakeup that comes before the thread first sleeps is lost: repeat until it runs.
	var sq ThreadReading
	// Give up after 10 s, not after a number of tries: a busy machine leaves it less CPU per try.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && sq.TaskClockNs < uint64(10*time.Millisecond); {
		if _, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, fd, 0, 0, 2, 0, 0); errno != 0 {
			t.Fatalf("io_uring_enter(SQ_WAKEUP): %v", errno)
		}
		time.Sleep(20 * time.Millisecond)
		per, err := c.ReadThreads()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range per {
			if p.TID == sqp {
				sq = p
			}
		}
	}
	t.Logf("iou-sqp thread: syscalls=%d task-clock=%v", sq.Total, time.Duration(sq.TaskClockNs))
	if sq.TaskClockNs < uint64(10*time.Millisecond) || (sq.TotalAvailable && sq.Total != 0) {
		t.Errorf("woken poll thread: task-clock %v, syscalls %d", time.Duration(sq.TaskClockNs), sq.Total)
	}
}

func TestReadingSub(t *testing.T) {
	a := Reading{TotalAvailable: true, Total: 100, ByName: map[string]uint64{"read": 10, "write": 5}, Unavailable: map[string]string{},
		CtxAvailable: true, ContextSwitches: 3, TaskClockNs: 1000}
	b := Reading{TotalAvailable: true, Total: 250, ByName: map[string]uint64{"read": 30, "write": 5}, Unavailable: map[string]string{"futex": "x"},
		CtxAvailable: true, ContextSwitches: 10, TaskClockNs: 4000}
	d := b.Sub(a)
	if d.Total != 150 || d.ByName["read"] != 20 || d.ByName["write"] != 0 || d.Other != 130 || !d.OtherAvailable ||
		d.ContextSwitches != 7 || d.TaskClockNs != 3000 || d.Unavailable["futex"] != "x" {
		t.Errorf("Sub: %+v", d)
	}
	a.TotalAvailable, a.TotalReason = false, "why"
	d = b.Sub(a)
	if d.TotalAvailable || d.Total != 0 || d.OtherAvailable || d.TotalReason != "why" {
		t.Errorf("Sub with unavailable total: %+v", d)
	}
}

// Benchmarks of the counter's own cost at several thread counts: go test -bench . -run XXX
func BenchmarkOpenClose(b *testing.B) {
	for _, extra := range []int{0, 32, 128} {
		b.Run(fmt.Sprintf("extra-threads=%d", extra), func(b *testing.B) {
			stop := parkThreads(b, extra)
			defer stop()
			// Open alone is timed; Close (RCU grace periods, see Counter.Close) is reported as close-ms.
			var closeTime time.Duration
			for i := 0; i < b.N; i++ {
				c, err := Open(DefaultBreakdown)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				b.ReportMetric(float64(len(c.Threads())), "threads")
				b.ReportMetric(float64(c.FDs()), "fds")
				t0 := time.Now()
				c.Close()
				closeTime += time.Since(t0)
				b.StartTimer()
			}
			b.ReportMetric(float64(closeTime.Milliseconds())/float64(b.N), "close-ms")
		})
	}
}

func BenchmarkRead(b *testing.B) {
	for _, extra := range []int{0, 32, 128} {
		b.Run(fmt.Sprintf("extra-threads=%d", extra), func(b *testing.B) {
			stop := parkThreads(b, extra)
			defer stop()
			c, err := Open(DefaultBreakdown)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.ReportMetric(float64(len(c.Threads())), "threads")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := c.Read(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer() // not the slow Close
		})
	}
}

// parkThreads creates n extra threads (locked goroutines blocked on a channel). The returned stop unlocks
// them: the threads stay, idle, in the runtime's pool.
func parkThreads(tb testing.TB, n int) func() {
	stop := make(chan struct{})
	var ready, done sync.WaitGroup
	for i := 0; i < n; i++ {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			ready.Done()
			<-stop
		}()
	}
	ready.Wait()
	return func() { close(stop); done.Wait() }
}

// BenchmarkSyscallCost shows what counting adds to each syscall (getppid, on one locked thread):
// "registered" has the events open but disabled: a registered syscall tracepoint sends every syscall of every
// process on the machine through the kernel's slow path; "counting" adds the perf handlers.
// Measured on the development VM (medians): 255 ns uncounted, 340-430 ns registered, 460-620 ns counting.
func BenchmarkSyscallCost(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	run := func(b *testing.B) {
		getppidBurst(b.N)
	}
	b.Run("uncounted", run)
	c, err := OpenThreads([]int{unix.Gettid()}, DefaultBreakdown)
	if err != nil {
		b.Skip(err)
	}
	defer c.Close()
	b.Run("registered", func(b *testing.B) {
		if err := c.Disable(); err != nil {
			b.Fatal(err)
		}
		run(b)
	})
	b.Run("counting", func(b *testing.B) {
		if err := c.Enable(); err != nil {
			b.Fatal(err)
		}
		run(b)
	})
}

// TestThreadExitedTellsExitFromEINVAL: an EINVAL from perf_event_open counts as "thread gone" only for a
// thread that has exited (a run once failed with "perf_event_open syscalls:sys_enter_futex on thread N:
// invalid argument" for a thread that exited while its group was opened), never for a live one.
func TestThreadExitedTellsExitFromEINVAL(t *testing.T) {
	c := &Counter{pid: os.Getpid()}
	if c.threadExited(unix.Gettid()) {
		t.Fatal("threadExited says a live thread (this test's) has exited")
	}
	tids := make(chan int, 1)
	testsupport.GoExitingThread(func(tid int) { tids <- tid })
	tid := <-tids
	task := fmt.Sprintf("/proc/self/task/%d", tid)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, err := os.Stat(task); err != nil {
			break // the thread is gone
		} else if time.Now().After(deadline) {
			t.Fatalf("thread %d has not exited after 30 s", tid)
		}
	}
	if !c.threadExited(tid) {
		t.Fatalf("threadExited(%d): false for a thread that exited", tid)
	}
}
