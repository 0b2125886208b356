package perfcount

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary re-executes itself as a child process in one of these modes.
const helperEnv = "PERFCOUNT_TEST_HELPER"

const (
	childMain  = 100_000 // getppid calls on the child's locked main goroutine
	childExtra = 10_000  // getppid calls on each of childThreads other locked goroutines
	childThrds = 3
	childTotal = childMain + childThrds*childExtra
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

func getppidBurst(n int) {
	for i := 0; i < n; i++ {
		unix.Syscall(unix.SYS_GETPPID, 0, 0, 0)
	}
}

// childBurst makes childTotal getppid calls: childMain on the calling (locked) thread, childExtra on each of
// childThrds other locked goroutines, which start after the call (new threads, possibly).
func childBurst() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var wg sync.WaitGroup
	for i := 0; i < childThrds; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			getppidBurst(childExtra)
		}()
	}
	getppidBurst(childMain)
	wg.Wait()
}

type nonrootResult struct {
	Unregistered Report
	Registered   Report
	OpenErr      string
	Reading      Reading
}

func runHelper(mode string) int {
	in := bufio.NewReader(os.Stdin)
	switch mode {
	case "burst":
		// ready -> wait for "go" -> burst -> done -> wait for EOF.
		fmt.Println("ready")
		if _, err := in.ReadString('\n'); err != nil {
			return 2
		}
		childBurst()
		fmt.Println("done")
		_, _ = io.Copy(io.Discard, in)
		return 0
	case "selfcount":
		c, err := Open(append(append([]string{}, DefaultBreakdown...), "getppid"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		childBurst()
		r, err := c.Read()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		c.Close()
		json.NewEncoder(os.Stdout).Encode(r)
		return 0
	case "nonroot":
		var res nonrootResult
		res.Unregistered = Check()
		ids := map[string]uint64{}
		for _, kv := range strings.Split(os.Getenv("PERFCOUNT_TEST_IDS"), ",") {
			k, v, _ := strings.Cut(kv, "=")
			if id, err := strconv.ParseUint(v, 10, 64); err == nil {
				ids[k] = id
			}
		}
		RegisterTracepointIDs(ids)
		res.Registered = Check()
		c, err := Open([]string{"getppid"})
		if err != nil {
			res.OpenErr = err.Error()
		} else {
			runtime.LockOSThread()
			getppidBurst(1000)
			for i := 0; i < 5; i++ {
				time.Sleep(time.Millisecond)
			}
			runtime.UnlockOSThread()
			res.Reading, err = c.Read()
			if err != nil {
				res.OpenErr = err.Error()
			}
			c.Close()
		}
		json.NewEncoder(os.Stdout).Encode(res)
		return 0
	}
	fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
	return 2
}

type child struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func startChild(t *testing.T, mode string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &child{cmd: cmd, in: in, out: bufio.NewReader(out)}
	t.Cleanup(func() {
		ch.in.Close()
		_ = ch.cmd.Process.Kill()
		_ = ch.cmd.Wait()
	})
	return ch
}

func (c *child) expect(t *testing.T, line string) {
	t.Helper()
	got, err := c.out.ReadString('\n')
	if err != nil || strings.TrimSpace(got) != line {
		t.Fatalf("child: got %q, %v; want %q", got, err, line)
	}
}

// requireCounting skips when this user cannot count syscalls, naming why.
var (
	checkOnce   sync.Once
	checkReport Report
)

func requireCounting(t *testing.T) Report {
	t.Helper()
	// Check costs ~0.5 s here (unregistering the probe's tracepoints), so run it once.
	checkOnce.Do(func() { checkReport = Check() })
	r := checkReport
	if !r.Usable {
		t.Skipf("syscall counting unavailable here: %s", r.Error)
	}
	return r
}

// requireKernelEvents skips unless raw_syscalls:sys_enter and context-switches count (root or CAP_PERFMON, or
// perf_event_paranoid <= 1).
func requireKernelEvents(t *testing.T) {
	t.Helper()
	r := requireCounting(t)
	for _, e := range r.Events {
		if (e.Name == labelTotal || e.Name == labelCtx) && !e.OK {
			t.Skipf("%s unavailable for this user: %s", e.Name, e.Reason)
		}
	}
}

// requirePerf returns the perf binary and restores the tracefs mount state afterwards: perf mounts tracefs on
// /sys/kernel/tracing and leaves it mounted.
func requirePerf(t *testing.T) string {
	t.Helper()
	perf, err := exec.LookPath("perf")
	if err != nil {
		if _, err2 := os.Stat("/usr/bin/perf"); err2 != nil {
			t.Skip("perf not installed: no reference to compare against")
		}
		perf = "/usr/bin/perf"
	}
	const tr = "/sys/kernel/tracing"
	mounted := func() bool { _, err := os.Stat(tr + "/events"); return err == nil }
	if !mounted() {
		t.Cleanup(func() {
			if mounted() {
				_ = unix.Unmount(tr, unix.MNT_DETACH)
			}
		})
	}
	return perf
}

// lockedThread runs f on a goroutine locked to its own thread and returns f's thread id via the callback arg.
func onLockedThread(f func(tid int)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		f(unix.Gettid())
	}()
	<-done
}

// childJSON runs cmd, its standard error on the test's, and decodes the JSON it writes into v; what names
// cmd in the failure.
func childJSON(t *testing.T, cmd *exec.Cmd, what string, v any) {
	t.Helper()
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("child output %q: %v", out, err)
	}
}

// openCounter opens a Counter of this process for breakdown, closed when the test ends.
func openCounter(t *testing.T, breakdown []string) *Counter {
	t.Helper()
	c, err := Open(breakdown)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// onCountedThread runs f on a locked thread as onLockedThread does, with a Counter of breakdown open on that
// thread and closed after f; a Counter that cannot be opened fails the test.
func onCountedThread(t *testing.T, breakdown []string, f func(tid int, c *Counter)) {
	onLockedThread(func(tid int) {
		c, err := OpenThreads([]int{tid}, breakdown)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		f(tid, c)
	})
}

// syscallRef counts every syscall one thread enters (raw_syscalls:sys_enter on that thread only, no
// inheritance) on a perf event of its own, beside the Counter under test. Read on that same thread before a
// Counter's window opens and after it closes, it measures how many syscalls the thread made in a window that
// contains the Counter's: less the test's own, that is the Go runtime's share (signal returns after async
// preemption, futex waits when the scheduler stops the locked M, ...), measured each run rather than
// guessed, so it bounds the Counter's total from above however busy the machine is.
type syscallRef struct {
	fd  int
	ids map[uint64]int
	buf []byte
}

func openSyscallRef(tid int) (*syscallRef, error) {
	ids, errs := TracepointIDs([]string{labelTotal})
	if err := errs[labelTotal]; err != nil {
		return nil, err
	}
	fd, err := perfOpen(event{label: labelTotal, typ: unix.PERF_TYPE_TRACEPOINT, config: ids[labelTotal], tp: true},
		tid, -1, inheritNone, false)
	if err != nil {
		return nil, fmt.Errorf("reference perf_event_open: %w", err)
	}
	id, err := eventID(fd)
	if err == nil {
		err = ioctlNoArg(fd, unix.PERF_EVENT_IOC_ENABLE)
	}
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("reference event: %w", err)
	}
	return &syscallRef{fd: fd, ids: map[uint64]int{id: 0}, buf: make([]byte, 64)}, nil
}

// read is exactly one syscall, read(2), made on the calling thread; when that is the counted thread the count
// it returns includes that read itself.
func (s *syscallRef) read() (uint64, error) {
	v, err := readGroup(s.fd, s.ids, 1, s.buf)
	if err != nil {
		return 0, err
	}
	return v.vals[0], nil
}

func (s *syscallRef) close() { unix.Close(s.fd) }

// countAround opens ref (no breakdown) and c (counting getppid) with open, resets ref and then c, runs burst,
// and reads c and then ref, so that ref's window contains c's: ref's total bounds c's from above. c and ref
// are closed when the test ends; c is returned for more reads.
func countAround(t *testing.T, open func(breakdown []string) (*Counter, error), burst func()) (c *Counter, r, rr Reading) {
	t.Helper()
	ref, err := open(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ref.Close() })
	c, err = open([]string{"getppid"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := ref.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	burst()
	if r, err = c.Read(); err != nil {
		t.Fatal(err)
	}
	if rr, err = ref.Read(); err != nil {
		t.Fatal(err)
	}
	return c, r, rr
}

// burstThreads is a set of goroutines, each locked to a thread of its own, that call getppid once released.
type burstThreads struct {
	tids  []int // their threads
	start chan struct{}
	done  sync.WaitGroup
}

// lockBursts starts g goroutines that each lock a thread, note its id and wait for release to call getppid n
// times; it returns once every one holds its thread. With exitThreads they never unlock, so Go terminates
// their threads when they return.
func lockBursts(g, n int, exitThreads bool) *burstThreads {
	b := &burstThreads{tids: make([]int, g), start: make(chan struct{})}
	var ready sync.WaitGroup
	for i := range g {
		ready.Add(1)
		b.done.Add(1)
		go func() {
			defer b.done.Done()
			runtime.LockOSThread()
			if !exitThreads {
				defer runtime.UnlockOSThread()
			}
			b.tids[i] = unix.Gettid()
			ready.Done()
			<-b.start
			getppidBurst(n)
		}()
	}
	ready.Wait()
	return b
}

// release lets the goroutines make their calls and waits for them to return.
func (b *burstThreads) release() {
	close(b.start)
	b.done.Wait()
}
