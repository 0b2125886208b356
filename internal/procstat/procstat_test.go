package procstat

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/ringbench/ringbench/internal/testsupport"
	"golang.org/x/sys/unix"
)

const helperEnv = "PROCSTAT_TEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "burn":
		// Burn 150 ms of CPU on one thread, say which, and wait for EOF on stdin. (The main goroutine need
		// not be on the main thread after init: the thread is named, not assumed.)
		runtime.LockOSThread()
		burnThreadCPU(150 * time.Millisecond)
		fmt.Println("done", unix.Gettid())
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	case "slab":
		_, err := Slab()
		fmt.Println(errors.Is(err, ErrSlabUnavailable), errors.Is(err, ErrUnavailable))
		os.Exit(0)
	}
	os.Exit(2)
}

func threadCPU() time.Duration {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return time.Duration(ts.Nano())
}

var sink uint64

// burnThreadCPU spins until this thread has used d of CPU time.
func burnThreadCPU(d time.Duration) {
	end := threadCPU() + d
	x := sink
	for threadCPU() < end {
		for i := 0; i < 100_000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	sink = x
}

func findThread(t *testing.T, ths []ThreadTimes, tid int) ThreadTimes {
	t.Helper()
	for _, th := range ths {
		if th.TID == tid {
			return th
		}
	}
	t.Fatalf("thread %d not found", tid)
	return ThreadTimes{}
}

func TestClockTick(t *testing.T) {
	if tk := ClockTick(); tk < time.Millisecond || tk > 100*time.Millisecond {
		t.Errorf("clock tick %v", tk)
	}
}

func TestCPUBurnShowsUp(t *testing.T) {
	const burn = 200 * time.Millisecond
	done := make(chan struct{})
	var tid int
	var before, after Snapshot
	var errB, errA error
	var clock0, clock1 time.Duration
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid = unix.Gettid()
		// The thread CPU clock read around both snapshots: schedstat's sum_exec_runtime is the same kernel
		// counter, never ahead of the clock, so its delta cannot exceed clock1-clock0.
		clock0 = threadCPU()
		before, errB = Take(0)
		burnThreadCPU(burn)
		after, errA = Take(0)
		clock1 = threadCPU()
	}()
	<-done
	if errB != nil || errA != nil {
		t.Fatal(errB, errA)
	}
	d := after.Sub(before)
	th := findThread(t, d.Threads, tid)
	t.Logf("burn %v: thread CPUNs=%v (ticks: user %v sys %v); process CPUNs=%v rusage user=%v sys=%v; wall %v",
		burn, time.Duration(th.CPUNs), time.Duration(th.UserNs), time.Duration(th.SysNs),
		time.Duration(d.CPUNs), time.Duration(d.UserNs), time.Duration(d.SysNs), d.Wall)
	if !th.Precise {
		t.Fatal("schedstat not available")
	}
	// schedstat and the thread CPU clock are the same kernel counter: at least the burn, at most what the clock
	// measured around both snapshots (the burn plus Take's own work, however long a busy machine makes it).
	if c := time.Duration(th.CPUNs); c < burn || c > clock1-clock0 {
		t.Errorf("thread CPUNs %v, want %v..%v (the thread CPU clock around both snapshots)", c, burn, clock1-clock0)
	}
	if c := time.Duration(d.CPUNs); c < burn {
		t.Errorf("process CPUNs %v < %v", c, burn)
	}
	// rusage: the total is exact (µs); the user/system split is sampled at ticks, so only roughly user.
	if us := time.Duration(d.UserNs + d.SysNs); us < burn {
		t.Errorf("rusage user+sys %v < %v", us, burn)
	}
	if u := time.Duration(d.UserNs); u < burn*6/10 {
		t.Errorf("process user time %v < 60%% of %v (a user-space loop)", u, burn)
	}
	// Tick-based per-thread times: within a few ticks of the precise figure.
	ticks := time.Duration(th.UserNs + th.SysNs)
	if diff := ticks - time.Duration(th.CPUNs); diff < -3*ClockTick() || diff > 3*ClockTick() {
		t.Errorf("thread stat ticks %v vs schedstat %v", ticks, time.Duration(th.CPUNs))
	}
}

func TestThreadName(t *testing.T) {
	const name = "rb-procstat-t"
	done := make(chan struct{})
	// The renamed thread exits with the goroutine.
	testsupport.GoExitingThread(func(int) {
		defer close(done)
		b := append([]byte(name), 0)
		if err := unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&b[0])), 0, 0, 0); err != nil {
			t.Error(err)
			return
		}
		ths, err := Threads(0)
		if err != nil {
			t.Error(err)
			return
		}
		if th := findThread(t, ths, unix.Gettid()); th.Name != name {
			t.Errorf("thread name %q, want %q", th.Name, name)
		}
		if ths[0].TID != os.Getpid() {
			t.Errorf("first thread %d, want the main thread %d", ths[0].TID, os.Getpid())
		}
	})
	<-done
}

func TestRSSGrows(t *testing.T) {
	before, err := Take(0)
	if err != nil {
		t.Fatal(err)
	}
	// Fresh pages from mmap, not the Go heap: a heap that grew before (an earlier test, the last -count run)
	// keeps freed pages resident and would hand them out again without RSS moving.
	const size = 64 << 20
	buf, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(buf)
	for i := 0; i < size; i += 4096 {
		buf[i] = 1
	}
	after, err := Take(0)
	if err != nil {
		t.Fatal(err)
	}
	grew := int64(after.RSSBytes) - int64(before.RSSBytes)
	t.Logf("RSS %d -> %d MiB (+%d MiB), peak %d MiB", before.RSSBytes>>20, after.RSSBytes>>20, grew>>20, after.PeakRSSBytes>>20)
	if grew < 60<<20 {
		t.Errorf("RSS grew by %d bytes after touching 64 MiB", grew)
	}
	if after.PeakRSSBytes < after.RSSBytes {
		t.Errorf("peak %d < current %d", after.PeakRSSBytes, after.RSSBytes)
	}
}

func TestResetPeakRSS(t *testing.T) {
	const size = 64 << 20
	m, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < size; i += 4096 {
		m[i] = 1
	}
	if err := unix.Munmap(m); err != nil {
		t.Fatal(err)
	}
	high, err := Take(0)
	if err != nil {
		t.Fatal(err)
	}
	if high.PeakRSSBytes < high.RSSBytes+60<<20 {
		t.Fatalf("peak %d MiB not 60 MiB above current %d MiB after unmapping 64 MiB", high.PeakRSSBytes>>20, high.RSSBytes>>20)
	}
	if err := ResetPeakRSS(0); err != nil {
		if errors.Is(err, ErrUnavailable) {
			t.Skipf("not allowed to write /proc/self/clear_refs: %v", err)
		}
		t.Fatal(err)
	}
	low, err := Take(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("peak %d MiB -> %d MiB after reset (current %d MiB)", high.PeakRSSBytes>>20, low.PeakRSSBytes>>20, low.RSSBytes>>20)
	if low.PeakRSSBytes > low.RSSBytes+8<<20 {
		t.Errorf("peak after reset %d MiB, current %d MiB", low.PeakRSSBytes>>20, low.RSSBytes>>20)
	}
}

func TestExitedThreadInDelta(t *testing.T) {
	tidc := make(chan int)
	exit := make(chan struct{})
	testsupport.GoExitingThread(func(tid int) {
		tidc <- tid
		<-exit
	})
	tid := <-tidc
	prev, err := Take(0)
	if err != nil {
		t.Fatal(err)
	}
	findThread(t, prev.Threads, tid)
	close(exit)
	testsupport.WaitThreadGone(t, tid, 5*time.Second)
	cur, err := Take(0)
	if err != nil {
		t.Fatal(err)
	}
	d := cur.Sub(prev)
	found := false
	for _, e := range d.Exited {
		found = found || e.TID == tid
	}
	for _, th := range d.Threads {
		if th.TID == tid {
			t.Errorf("exited thread %d still in Delta.Threads", tid)
		}
	}
	if !found {
		t.Errorf("exited thread %d not in Delta.Exited %v", tid, d.Exited)
	}
}

// Another process: the CPU clock of another pid, its stat ticks, its threads.
func TestOtherProcess(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperEnv+"=burn")
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { in.Close(); _ = cmd.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	var burner int
	if _, serr := fmt.Sscanf(line, "done %d", &burner); err != nil || serr != nil {
		t.Fatalf("child: %q %v", line, err)
	}
	s, err := Take(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	th := findThread(t, s.Threads, burner)
	t.Logf("child: CPUNs=%v user+sys ticks=%v burning thread CPUNs=%v threads=%d vol=%d invol=%d rss=%d MiB",
		time.Duration(s.CPUNs), time.Duration(s.UserNs+s.SysNs), time.Duration(th.CPUNs), len(s.Threads), s.VolCtx, s.InvolCtx, s.RSSBytes>>20)
	if s.CPUNs < uint64(150*time.Millisecond) || th.CPUNs < uint64(150*time.Millisecond) {
		t.Errorf("child burnt 150ms: process CPUNs %v, burning thread %v", time.Duration(s.CPUNs), time.Duration(th.CPUNs))
	}
	// Take reads the threads before the process clock, so the process's figure is never the older one.
	if s.CPUNs < th.CPUNs {
		t.Errorf("process CPU %d < burning thread %d", s.CPUNs, th.CPUNs)
	}
	if tk := time.Duration(s.UserNs + s.SysNs); tk < 150*time.Millisecond-3*ClockTick() {
		t.Errorf("child stat ticks %v", tk)
	}
	if s.RSSBytes == 0 || s.VolCtx == 0 {
		t.Errorf("child rss %d, voluntary switches %d", s.RSSBytes, s.VolCtx)
	}
}

// The io_uring SQPOLL thread: named iou-sqp-PID, its CPU reported as PollThreadNs and included in the totals.
func TestSQPollThreadCPU(t *testing.T) {
	// The poll thread idles 2 s before it sleeps: it spins that long with nothing to do.
	fd := testsupport.SQPollRing(t, 2000)
	// On 6.18 the poll thread sleeps until woken; IORING_ENTER_SQ_WAKEUP (2) makes it spin for sq_thread_idle.
	// A wakeup that comes before it first sleeps is lost: repeat until it has run.
	// It is named after the tid of the thread that set the ring up.
	var before Snapshot
	// beforeCPU: the process clock read before before's threads, as Take reads after's threads before its
	// process clock: the process's interval then holds the thread's, and includes its CPU whole.
	var beforeCPU uint64
	var sqp *ThreadTimes
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && (sqp == nil || sqp.CPUNs < uint64(time.Millisecond)); {
		if _, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, fd, 0, 0, 2, 0, 0); errno != 0 {
			t.Fatalf("io_uring_enter(SQ_WAKEUP): %v", errno)
		}
		time.Sleep(5 * time.Millisecond)
		var err error
		if beforeCPU, err = processCPUNs(os.Getpid()); err != nil {
			t.Fatal(err)
		}
		if before, err = Take(0); err != nil {
			t.Fatal(err)
		}
		for i := range before.Threads {
			if strings.HasPrefix(before.Threads[i].Name, "iou-sqp-") {
				sqp = &before.Threads[i]
			}
		}
	}
	if sqp == nil || sqp.CPUNs < uint64(time.Millisecond) {
		t.Fatalf("no running iou-sqp thread listed: %+v", sqp)
	}
	// Let it spin until it has used 20 ms of CPU: how long that takes depends on what else the machine runs,
	// so wait for the CPU time, not for a wall time tuned on a quiet machine. Each wakeup restarts its
	// sq_thread_idle period.
	var after Snapshot
	var d Delta
	start := time.Now()
	for {
		time.Sleep(20 * time.Millisecond)
		var err error
		if after, err = Take(0); err != nil {
			t.Fatal(err)
		}
		d = after.Sub(before)
		if d.PollThreadNs >= uint64(20*time.Millisecond) {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("spinning poll thread used only %v in %v", time.Duration(d.PollThreadNs), time.Since(start))
		}
		if _, _, errno := unix.Syscall6(unix.SYS_IO_URING_ENTER, fd, 0, 0, 2, 0, 0); errno != 0 {
			t.Fatalf("io_uring_enter(SQ_WAKEUP): %v", errno)
		}
	}
	th := findThread(t, d.Threads, sqp.TID)
	t.Logf("%v: PollThreadNs=%v (thread %v), process CPUNs=%v, rusage user+sys=%v", d.Wall,
		time.Duration(d.PollThreadNs), time.Duration(th.CPUNs), time.Duration(d.CPUNs), time.Duration(d.UserNs+d.SysNs))
	if d.PollThreadNs == 0 || d.PollThreadNs != th.CPUNs {
		t.Errorf("PollThreadNs %d, poll thread %d", d.PollThreadNs, th.CPUNs)
	}
	// The process clock and RUSAGE_SELF include the poll thread.
	if procNs := after.CPUNs - beforeCPU; procNs < d.PollThreadNs {
		t.Errorf("process CPU %d over a window holding the poll thread's < PollThreadNs %d", procNs, d.PollThreadNs)
	}
	if d.UserNs+d.SysNs < d.PollThreadNs*9/10 {
		t.Errorf("rusage %d < 90%% of PollThreadNs %d", d.UserNs+d.SysNs, d.PollThreadNs)
	}
}

func TestSlab(t *testing.T) {
	m, err := Slab()
	if errors.Is(err, ErrSlabUnavailable) {
		t.Skipf("%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	var objs uint64
	for name, s := range m {
		if s.Name != name || s.ObjSize == 0 || s.ActiveObjs > s.NumObjs || s.ActiveBytes() > s.Bytes() {
			t.Errorf("odd slab line %+v", s)
		}
		objs += s.NumObjs
	}
	if len(m) < 10 || objs == 0 {
		t.Errorf("%d caches, %d objects", len(m), objs)
	}
	if os.Geteuid() != 0 {
		return
	}
	// As an unprivileged user /proc/slabinfo (mode 0400) must give ErrSlabUnavailable.
	exe, _ := os.Executable()
	dir, err := os.MkdirTemp("", "procstat-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	bin, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/procstat.test", bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dir + "/procstat.test")
	cmd.Dir = dir
	cmd.Env = []string{helperEnv + "=slab"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(out)) != "true true" {
		t.Errorf("Slab as uid 65534: errors.Is(ErrSlabUnavailable, ErrUnavailable) = %q, want true true", out)
	}
}

func TestParseSlab(t *testing.T) {
	in := "slabinfo - version: 2.1\n" +
		"# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n" +
		"io_kiocb             224    224    256   16    1 : tunables    0    0    0 : slabdata     14     14      0\n"
	m, err := parseSlab([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := SlabInfo{Name: "io_kiocb", ActiveObjs: 224, NumObjs: 224, ObjSize: 256, ObjPerSlab: 16, PagesPerSlab: 1, ActiveSlabs: 14, NumSlabs: 14}
	if m["io_kiocb"] != want {
		t.Errorf("got %+v, want %+v", m["io_kiocb"], want)
	}
	if _, err := parseSlab([]byte("slabinfo - version: 2.1\nbad line\n")); err == nil {
		t.Error("bad line accepted")
	}
}

func TestStatCommWithSpacesAndParens(t *testing.T) {
	comm, f, err := statFields([]byte("123 (a) b (c)) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"))
	if err != nil || comm != "a) b (c)" || f[0] != "S" || field(f, 14) != 11 || field(f, 15) != 12 || field(f, 22) != 19 {
		t.Errorf("comm %q fields %v err %v", comm, f, err)
	}
}
