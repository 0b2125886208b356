package probe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	backend "github.com/ringbench/ringbench/backends"
	_ "github.com/ringbench/ringbench/backends/epoll"
	_ "github.com/ringbench/ringbench/backends/gostd"
	_ "github.com/ringbench/ringbench/backends/sqpoll"
	_ "github.com/ringbench/ringbench/backends/uring"
	"github.com/ringbench/ringbench/internal/fingerprint"
	"github.com/ringbench/ringbench/internal/perfcount"
	"github.com/ringbench/ringbench/internal/testsupport"
)

const childEnv = "RINGBENCH_PROBE_CHILD"

// TestMain lets a test re-execute this binary as a child that installs a seccomp filter and then probes.
func TestMain(m *testing.M) {
	testsupport.IOUringDeniedChild(childEnv, func(unix.Errno) int {
		if err := Run(Options{SkipPerf: true}).WriteJSON(os.Stdout); err != nil {
			return 1
		}
		return 0
	})
	os.Exit(m.Run())
}

func verdict(t *testing.T, r *Report, name string) Verdict {
	t.Helper()
	for _, v := range r.Backends {
		if v.Backend == name {
			return v
		}
	}
	t.Fatalf("no verdict for %s in %+v", name, r.Backends)
	return Verdict{}
}

func TestRunOnThisMachine(t *testing.T) {
	r := Run(Options{Version: "t"})
	var u unix.Utsname
	unix.Uname(&u)
	if r.Kernel.Release != unix.ByteSliceToString(u.Release[:]) {
		t.Errorf("kernel %q", r.Kernel.Release)
	}
	if r.SchemaVersion != SchemaVersion || r.Tool.Version != "t" || r.Fingerprint.Kernel.Release != r.Kernel.Release {
		t.Errorf("header %+v %+v", r.SchemaVersion, r.Tool)
	}
	if r.CPU.Logical < 1 || r.CPU.AffinityCount < 1 {
		t.Errorf("cpu %+v", r.CPU)
	}
	if r.NullSyscallNs < 10 || r.NullSyscallNs > 100000 {
		t.Errorf("null syscall %.1f ns is implausible", r.NullSyscallNs)
	}
	if !r.Counting.Checked || len(r.Counting.Events) == 0 {
		t.Errorf("syscall counting not checked: %+v", r.Counting)
	}
	if os.Geteuid() == 0 && !r.Counting.Available {
		t.Errorf("syscall counting unavailable as root: %s", r.Counting.Error)
	}
	if os.Geteuid() == 0 && !r.Counting.RingEvents {
		t.Errorf("io_uring's tracepoints not countable as root: %s", r.Counting.RingEventsReason)
	}
	for _, n := range backend.Names() {
		verdict(t, r, n)
	}
	if v := verdict(t, r, "epoll"); !v.Runnable {
		t.Errorf("epoll not runnable: %s", v.Reason)
	}
	if v := verdict(t, r, "gostd"); !v.Runnable {
		t.Errorf("gostd not runnable: %s", v.Reason)
	}

	iu := r.IOUring
	if !iu.SetupOK {
		// Consistency on a machine without io_uring, then stop: the rest needs it.
		if iu.SetupError == "" || verdict(t, r, "uring").Runnable || verdict(t, r, "sqpoll").Runnable {
			t.Errorf("setup fails but the report is inconsistent: %+v", r.Backends)
		}
		t.Skipf("io_uring setup fails here (%s): %s", iu.SetupErrno, iu.SetupError)
	}
	if iu.SeccompMode != 0 && iu.SeccompMode != 2 {
		t.Errorf("seccomp mode %d", iu.SeccompMode)
	}
	for _, op := range []string{"NOP", "READ", "OPENAT", "CLOSE", "ACCEPT", "RECV", "SEND"} {
		if !slices.Contains(iu.Opcodes, op) {
			t.Errorf("opcode %s missing from %v", op, iu.Opcodes)
		}
	}
	if !slices.Contains(iu.FeatureNames, "SINGLE_MMAP") {
		t.Errorf("features %v", iu.FeatureNames)
	}
	var names []string
	for _, f := range iu.SetupFlags {
		names = append(names, f.Name)
		if f.Name == "SQPOLL" && !f.Accepted {
			t.Errorf("SQPOLL refused: %s %s", f.Errno, f.Reason)
		}
		if !f.Accepted && f.Reason == "" {
			t.Errorf("%s refused without a reason", f.Name)
		}
	}
	if !slices.Equal(names, fingerprint.SetupFlagOrder) {
		t.Errorf("flags probed %v, want %v", names, fingerprint.SetupFlagOrder)
	}
	for _, n := range backend.Names() {
		if v := verdict(t, r, n); !v.Runnable {
			t.Errorf("%s not runnable: %s", n, v.Reason)
		}
	}
	if !fingerprint.KernelAtLeast(r.Kernel.Release, 6, 0) {
		t.Skipf("kernel %s: multishot recv needs 6.0", r.Kernel.Release)
	}
	for name, s := range map[string]Support{"buf_ring": iu.BufRing, "multishot_accept": iu.MultishotAccept, "multishot_recv": iu.MultishotRecv} {
		if !s.Supported || s.How != "tried" {
			t.Errorf("%s on %s: %+v", name, r.Kernel.Release, s)
		}
	}
}

// runChild probes in a child process whose io_uring syscalls fail with errno (mode "EPERM" or "ENOSYS").
func runChild(t *testing.T, mode string) *Report {
	t.Helper()
	out := testsupport.RunChild(t, childEnv, mode)
	var r Report
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("child output: %v\n%s", err, out)
	}
	return &r
}

func TestRunWithIOUringDenied(t *testing.T) {
	for _, c := range []struct{ errno, explains string }{
		{"EPERM", "seccomp filter"},
		{"ENOSYS", "seccomp filter is active"},
	} {
		t.Run(c.errno, func(t *testing.T) {
			r := runChild(t, c.errno)
			iu := r.IOUring
			if iu.SetupOK || iu.SetupErrno != c.errno || !strings.Contains(iu.SetupError, c.explains) || iu.SeccompMode != 2 {
				t.Errorf("io_uring %+v", iu)
			}
			if iu.BufRing.Supported || iu.MultishotAccept.Supported || iu.MultishotRecv.Supported || len(iu.Opcodes) != 0 {
				t.Errorf("capabilities reported without a ring: %+v", iu)
			}
			for _, f := range iu.SetupFlags {
				if f.Accepted {
					t.Errorf("flag %s accepted without a ring", f.Name)
				}
			}
			for _, n := range []string{"uring", "sqpoll"} {
				if v := verdict(t, r, n); v.Runnable || !strings.Contains(v.Reason, iu.SetupError) {
					t.Errorf("%s: %+v", n, v)
				}
			}
			for _, n := range []string{"epoll", "gostd"} {
				if v := verdict(t, r, n); !v.Runnable {
					t.Errorf("%s: %+v", n, v)
				}
			}
		})
	}
}

// report builds a Report by hand for the verdict and rendering logic.
func fakeProbe(setupOK bool, affinity int) (*Report, fingerprint.IOUringProbe) {
	iou := fingerprint.IOUringProbe{}
	iou.IOUring.SetupOK = setupOK
	r := &Report{CPU: CPU{AffinityCount: affinity, Affinity: "0"}}
	r.IOUring.SetupOK = setupOK
	if !setupOK {
		r.IOUring.SetupError = "io_uring is switched off for everyone by sysctl kernel.io_uring_disabled=2 (EPERM)"
		r.IOUring.SetupErrno = "EPERM"
		return r, iou
	}
	iou.Supported = make([]bool, 64)
	for i := range iou.Supported {
		iou.Supported[i] = true
	}
	iou.Flags = []fingerprint.FlagResult{{Name: "SQPOLL", Accepted: true}, {Name: "DEFER_TASKRUN", Accepted: true}}
	r.IOUring.MultishotRecv.Supported = true
	return r, iou
}

func TestVerdictLogic(t *testing.T) {
	r, iou := fakeProbe(false, 4)
	vs := verdicts(r, iou, backend.All())
	r.Backends = vs
	for _, n := range []string{"uring", "sqpoll"} {
		if v := verdict(t, r, n); v.Runnable || !strings.Contains(v.Reason, "io_uring_disabled=2") {
			t.Errorf("%s: %+v", n, v)
		}
	}

	r, iou = fakeProbe(true, 1)
	r.Backends = verdicts(r, iou, backend.All())
	sq := verdict(t, r, "sqpoll")
	if !sq.Runnable || len(sq.Warnings) != 1 || !strings.Contains(sq.Warnings[0], "no core of its own") {
		t.Errorf("sqpoll with 1 CPU: %+v", sq)
	}
	r, iou = fakeProbe(true, 8)
	r.Backends = verdicts(r, iou, backend.All())
	if sq := verdict(t, r, "sqpoll"); !sq.Runnable || len(sq.Warnings) != 0 {
		t.Errorf("sqpoll with 8 CPUs: %+v", sq)
	}

	// SQPOLL refused: uring runs, sqpoll does not, and says why.
	r, iou = fakeProbe(true, 8)
	iou.Flags[0] = fingerprint.FlagResult{Name: "SQPOLL", Errno: "EPERM", Reason: "refused for this user (EPERM)"}
	r.Backends = verdicts(r, iou, backend.All())
	if v := verdict(t, r, "sqpoll"); v.Runnable || !strings.Contains(v.Reason, "refused for this user") {
		t.Errorf("sqpoll refused: %+v", v)
	}
	if v := verdict(t, r, "uring"); !v.Runnable {
		t.Errorf("uring: %+v", v)
	}

	// A kernel without the network opcodes: uring runs file workloads and warns.
	r, iou = fakeProbe(true, 8)
	iou.Supported = iou.Supported[:14] // up to ACCEPT (13): no READ (22), RECV, SEND
	r.Backends = verdicts(r, iou, backend.All())
	if v := verdict(t, r, "uring"); v.Runnable || !strings.Contains(v.Reason, "READ") {
		t.Errorf("uring without READ: %+v", v)
	}
	r, iou = fakeProbe(true, 8)
	iou.Supported[27] = false // RECV
	r.Backends = verdicts(r, iou, backend.All())
	if v := verdict(t, r, "uring"); !v.Runnable || len(v.Warnings) != 1 || !strings.Contains(v.Warnings[0], "RECV") {
		t.Errorf("uring without RECV: %+v", v)
	}
}

func TestRendering(t *testing.T) {
	r := Run(Options{Version: "t", SkipPerf: true, SkipTiming: true})
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	for _, want := range []string{"System\n", "\nio_uring\n", "\nSyscall counting", "\nBackends\n", "  kernel  ",
		"  io_uring_disabled   " + r.IOUring.Disabled, "  setup flags ", "  epoll    runnable"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	for i, line := range strings.Split(out, "\n") {
		if len(line) > lineWidth+40 {
			t.Errorf("line %d is %d characters long: %q", i+1, len(line), line)
		}
	}

	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["schema"] != Schema || m["version"] != float64(SchemaVersion) || m["schema_version"] != float64(SchemaVersion) {
		t.Errorf("header: schema %v version %v schema_version %v", m["schema"], m["version"], m["schema_version"])
	}
	for _, k := range []string{"schema", "version", "schema_version", "time_utc", "tool", "kernel", "cpu", "virt", "mitigations", "io_uring",
		"syscall_counting", "backends", "fingerprint"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	iu := m["io_uring"].(map[string]any)
	for _, k := range []string{"io_uring_disabled", "seccomp_mode", "setup_ok", "features", "last_opcode", "setup_flags",
		"buf_ring", "multishot_accept", "multishot_recv"} {
		if _, ok := iu[k]; !ok {
			t.Errorf("JSON io_uring lacks %q", k)
		}
	}
	b := m["backends"].([]any)[0].(map[string]any)
	for _, k := range []string{"backend", "runnable", "reason"} {
		if _, ok := b[k]; !ok {
			t.Errorf("JSON verdict lacks %q", k)
		}
	}
}

func TestTextHelpers(t *testing.T) {
	if got := wrapWords(strings.Fields("aa bb cc dd"), 5); got != "aa bb\ncc dd" {
		t.Errorf("wrap %q", got)
	}
	if got := groupNames([]string{"task-clock", "syscalls:sys_enter_read", "syscalls:sys_enter_write"}); got != "task-clock, syscalls:sys_enter_{read, write}" {
		t.Errorf("group %q", got)
	}
	for _, v := range []string{"absent", "0", "1", "2"} {
		if !strings.HasPrefix(DisabledMeaning(v), v+" (") {
			t.Errorf("%s: %q", v, DisabledMeaning(v))
		}
	}
}

// extraBackend is a backend the probe has no rule for, or (refused) one whose own check fails.
type extraBackend struct {
	name    string
	refused error
}

func (b extraBackend) Name() string     { return b.name }
func (b extraBackend) Summary() string  { return "an extra backend" }
func (b extraBackend) Available() error { return b.refused }
func (extraBackend) NewFileEngine(backend.FileConfig) (backend.FileEngine, error) {
	return nil, backend.ErrNotSupported
}
func (extraBackend) NewServer(cfg backend.ServerConfig) (backend.Server, error) {
	return nil, backend.ErrNotSupported
}

// Verdicts follow the registry: one per registered backend, in its order; a backend the probe has no rule
// for is judged by its Available check, and a backend whose Available check fails is never runnable.
func TestVerdictsFollowRegistry(t *testing.T) {
	r, iou := fakeProbe(true, 8)
	refused := fmt.Errorf("uring: %w: because", backend.ErrNotSupported)
	reg := []backend.Backend{extraBackend{name: "uring", refused: refused}, extraBackend{name: "zz"},
		extraBackend{name: "yy", refused: refused}}
	vs := verdicts(r, iou, reg)
	var names []string
	for _, v := range vs {
		names = append(names, v.Backend)
	}
	if !slices.Equal(names, []string{"uring", "zz", "yy"}) {
		t.Fatalf("verdicts for %v", names)
	}
	if vs[0].Runnable || vs[0].Reason != refused.Error() {
		t.Errorf("uring refused by its own check: %+v", vs[0])
	}
	if !vs[1].Runnable || vs[1].Reason != "an extra backend" {
		t.Errorf("unknown runnable backend: %+v", vs[1])
	}
	if vs[2].Runnable || vs[2].Reason != refused.Error() {
		t.Errorf("unknown refused backend: %+v", vs[2])
	}

	// Run without Options.Backends gives one verdict per registered backend.
	rep := Run(Options{SkipPerf: true, SkipTiming: true})
	names = names[:0]
	for _, v := range rep.Backends {
		names = append(names, v.Backend)
	}
	if !slices.Equal(names, backend.Names()) {
		t.Errorf("verdicts for %v, registered %v", names, backend.Names())
	}
}

// TestRingEventsVerdict: io_uring's events are countable only when every one of their tracepoints is; the
// reason names the first that is not.
func TestRingEventsVerdict(t *testing.T) {
	rep := perfcount.Report{Usable: true}
	for _, tp := range perfcount.RingTracepoints {
		rep.Events = append(rep.Events, perfcount.EventStatus{Name: tp, OK: true})
	}
	if c := counting(rep); !c.RingEvents || c.RingEventsReason != "" {
		t.Errorf("all countable: %v %q", c.RingEvents, c.RingEventsReason)
	}
	rep.Events[1] = perfcount.EventStatus{Name: perfcount.RingTracepoints[1], FalseZeroRisk: true, Reason: "exclude_kernel=1"}
	if c := counting(rep); c.RingEvents || !strings.Contains(c.RingEventsReason, perfcount.RingTracepoints[1]+": exclude_kernel=1") {
		t.Errorf("one false zero: %v %q", c.RingEvents, c.RingEventsReason)
	}
	rep.Events = rep.Events[:1]
	if c := counting(rep); c.RingEvents || !strings.Contains(c.RingEventsReason, "not probed") {
		t.Errorf("missing: %v %q", c.RingEvents, c.RingEventsReason)
	}
	if c := counting(perfcount.Report{Error: "denied"}); c.RingEvents || !strings.Contains(c.RingEventsReason, "denied") {
		t.Errorf("no counting: %v %q", c.RingEvents, c.RingEventsReason)
	}
}
