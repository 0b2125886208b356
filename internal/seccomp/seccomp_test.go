package seccomp

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// childEnv makes the test binary act as a child that installs a filter and reports what it sees.
const childEnv = "RINGBENCH_SECCOMP_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// ioUringSetup calls io_uring_setup directly and closes the ring when one was made.
func ioUringSetup() unix.Errno {
	var params [120]byte
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafe.Pointer(&params[0])), 0)
	if e == 0 {
		unix.Close(int(fd))
	}
	return e
}

func errName(e unix.Errno) string {
	if e == 0 {
		return "OK"
	}
	return unix.ErrnoName(e)
}

// child runs in a re-executed test binary: it reports io_uring_setup before the filter, installs the filter,
// then reports io_uring_setup from this thread and from a thread that existed before the filter (TSYNC),
// and checks that other syscalls still work.
func child(mode string) int {
	errno := unix.EPERM
	if mode == "ENOSYS" {
		errno = unix.ENOSYS
	}
	fmt.Printf("before=%s\n", errName(ioUringSetup()))
	fmt.Printf("mode_before=%d\n", Mode())

	// A thread that exists before the filter is installed.
	ask, answer := make(chan struct{}), make(chan unix.Errno)
	go func() {
		runtime.LockOSThread()
		<-ask
		answer <- ioUringSetup()
	}()
	time.Sleep(10 * time.Millisecond)

	if err := DenySyscalls(IOUringSyscalls, errno); err != nil {
		fmt.Printf("install=%v\n", err)
		return 1
	}
	fmt.Printf("after=%s\n", errName(ioUringSetup()))
	ask <- struct{}{}
	fmt.Printf("other_thread=%s\n", errName(<-answer))
	_, _, e := unix.Syscall6(unix.SYS_IO_URING_ENTER, 0, 0, 0, 0, 0, 0)
	fmt.Printf("enter=%s\n", errName(e))
	_, _, e = unix.Syscall6(unix.SYS_IO_URING_REGISTER, 0, 0, 0, 0, 0, 0)
	fmt.Printf("register=%s\n", errName(e))
	fmt.Printf("mode_after=%d\n", Mode())
	// Everything else is allowed.
	f, err := os.Open("/proc/self/status")
	if err != nil {
		fmt.Printf("open=%v\n", err)
		return 1
	}
	f.Close()
	fmt.Printf("getpid_ok=%v\n", unix.Getpid() == os.Getpid())
	nnp, err := unix.PrctlRetInt(unix.PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)
	fmt.Printf("no_new_privs=%d err=%v\n", nnp, err)
	return 0
}

func runChild(t *testing.T, mode string) map[string]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", mode, err, out)
	}
	kv := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		kv[k] = v
	}
	if kv["before"] != "OK" {
		t.Skipf("io_uring_setup already fails before any filter (%s): the kernel or a policy has io_uring off", kv["before"])
	}
	return kv
}

func testDeny(t *testing.T, mode string) {
	kv := runChild(t, mode)
	want := map[string]string{
		"after":        mode,
		"other_thread": mode, // TSYNC reached a thread that existed before the filter
		"enter":        mode,
		"register":     mode,
		"mode_after":   "2",
		"getpid_ok":    "true",
		"no_new_privs": "1 err=<nil>",
	}
	for k, v := range want {
		if kv[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, kv[k], v, kv)
		}
	}
	if kv["mode_before"] == "2" {
		t.Logf("note: the test already ran under a seccomp filter")
	}
}

func TestDenyIOUringEPERM(t *testing.T)  { testDeny(t, "EPERM") }
func TestDenyIOUringENOSYS(t *testing.T) { testDeny(t, "ENOSYS") }

func TestFilterShape(t *testing.T) {
	if AuditArch() == 0 {
		t.Skipf("seccomp filters not supported on %s", runtime.GOARCH)
	}
	prog, err := Filter(IOUringSyscalls, unix.EPERM)
	if err != nil {
		t.Fatal(err)
	}
	perArch := 1
	if runtime.GOARCH == "amd64" {
		perArch = 2 // native and x32 numbers
	}
	n := len(IOUringSyscalls) * perArch
	if len(prog) != n+5 {
		t.Fatalf("program has %d instructions, want %d", len(prog), n+5)
	}
	// Every conditional jump must land inside the program, and matches must land on the deny return.
	deny := len(prog) - 1
	for i, ins := range prog {
		if ins.Code == unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K {
			for _, off := range []uint8{ins.Jt, ins.Jf} {
				if i+1+int(off) > deny {
					t.Errorf("instruction %d jumps past the end", i)
				}
			}
			if i >= 3 && i+1+int(ins.Jt) != deny {
				t.Errorf("instruction %d: a match jumps to %d, want the deny return %d", i, i+1+int(ins.Jt), deny)
			}
		}
	}
	if prog[1].K != AuditArch() || 2+int(prog[1].Jf) != deny {
		t.Errorf("arch check %+v: a foreign arch must go to deny", prog[1])
	}
	if prog[deny].K != unix.SECCOMP_RET_ERRNO|uint32(unix.EPERM) || prog[deny-1].K != unix.SECCOMP_RET_ALLOW {
		t.Errorf("returns: %+v %+v", prog[deny-1], prog[deny])
	}
}

func TestFilterRejectsBadInput(t *testing.T) {
	if _, err := Filter(nil, unix.EPERM); err == nil {
		t.Error("empty list accepted")
	}
	if _, err := Filter(IOUringSyscalls, 0); err == nil {
		t.Error("errno 0 accepted")
	}
	if _, err := Filter(IOUringSyscalls, unix.Errno(70000)); err == nil {
		t.Error("errno above 0xffff accepted")
	}
	many := make([]uintptr, maxDenied+1)
	if _, err := Filter(many, unix.EPERM); err == nil || errors.Is(err, unix.EPERM) {
		t.Errorf("too long a list: %v", err)
	}
}

func TestParseSeccompMode(t *testing.T) {
	if got := parseSeccompMode("Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t1\n"); got != 2 {
		t.Errorf("got %d", got)
	}
	if got := parseSeccompMode("Name:\tx\n"); got != -1 {
		t.Errorf("missing field: got %d", got)
	}
	if m := Mode(); m < 0 {
		t.Errorf("Mode() = %d on Linux", m)
	}
}
