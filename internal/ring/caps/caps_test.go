package caps

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ringbench/ringbench/internal/ring"
	"github.com/ringbench/ringbench/internal/seccomp"
)

const childEnv = "RINGBENCH_CAPS_CHILD"

// TestMain lets a test re-execute this binary as a child whose io_uring syscalls a seccomp filter fails
// with the errno named in childEnv; the child prints what every probe says.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		errno := unix.EPERM
		if mode == "ENOSYS" {
			errno = unix.ENOSYS
		}
		if err := seccomp.DenySyscalls(seccomp.IOUringSyscalls, errno); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		for _, c := range allProbes() {
			err := c.probe()
			fmt.Printf("%s|%v|%v|%v\n", c.name, errors.Is(err, ErrNotSupported), errors.Is(err, errno), err)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type namedProbe struct {
	name  string
	probe func() error
}

func allProbes() []namedProbe {
	ps := []namedProbe{
		{"setup", Setup},
		{"opcode READ", func() error { return Opcode(ring.OpRead) }},
		{"buf ring", BufRing},
		{"multishot accept", MultishotAccept},
		{"multishot recv", MultishotRecv},
	}
	for _, f := range Flags() {
		ps = append(ps, namedProbe{"flag " + f.String(), func() error { return SetupFlag(f) }})
	}
	return ps
}

// Every capability exists on the kernel the tests run on (6.18; see the machine notes), unless io_uring
// is refused to the whole process.
func TestProbesHere(t *testing.T) {
	if err := Setup(); err != nil {
		if !errors.Is(err, ErrNotSupported) {
			t.Fatalf("setup fails without ErrNotSupported: %v", err)
		}
		t.Skipf("io_uring not available here: %v", err)
	}
	for _, c := range allProbes() {
		if err := c.probe(); err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	feat, err := Features()
	if err != nil || feat&ring.FeatSingleMmap == 0 {
		t.Errorf("features %#x, %v", feat, err)
	}
	sup, last, err := Opcodes()
	if err != nil || int(last) < int(ring.OpRecv) || len(sup) <= int(last) {
		t.Fatalf("opcodes: last %d, %d entries, %v", last, len(sup), err)
	}
	for _, op := range []uint8{ring.OpNop, ring.OpRead, ring.OpOpenat, ring.OpClose, ring.OpAccept, ring.OpRecv, ring.OpSend} {
		if err := Opcode(op); err != nil {
			t.Errorf("opcode %s: %v", ring.OpcodeName(op), err)
		}
	}
	err = Opcode(255)
	var ce *Error
	if !errors.Is(err, ErrNotSupported) || !errors.As(err, &ce) || ce.Reason != "the kernel lacks IORING_OP_OP_255" {
		t.Errorf("opcode 255: %v", err)
	}
	if err := SetupFlag(numFlags); err == nil || errors.Is(err, ErrNotSupported) {
		t.Errorf("unknown flag: %v", err)
	}
}

// A probe runs once per process: a second call returns the same value without probing again.
func TestProbesAreCached(t *testing.T) {
	for _, c := range allProbes() {
		first, second := c.probe(), c.probe()
		if first != second {
			t.Errorf("%s: %v, then %v", c.name, first, second)
		}
	}
	if baseMemo.runs != 1 || bufRingMemo.runs != 1 || acceptMemo.runs != 1 || recvMemo.runs != 1 {
		t.Errorf("runs: base %d, buf ring %d, accept %d, recv %d", baseMemo.runs, bufRingMemo.runs, acceptMemo.runs, recvMemo.runs)
	}
	for _, f := range Flags() {
		if n := flagMemo[f].runs; n != 1 {
			t.Errorf("flag %s probed %d times", f, n)
		}
	}
}

func TestFlagNames(t *testing.T) {
	var names []string
	for _, f := range Flags() {
		names = append(names, f.String())
	}
	if got := strings.Join(names, " "); got != "SQPOLL SINGLE_ISSUER DEFER_TASKRUN COOP_TASKRUN TASKRUN_FLAG NO_SQARRAY" {
		t.Errorf("flags %s", got)
	}
}

func TestExplain(t *testing.T) {
	cases := []struct {
		errno    unix.Errno
		flag     Flag
		disabled string
		seccomp  int
		want     string
	}{
		{unix.EPERM, NoFlag, "2", 0, "switched off for everyone by sysctl kernel.io_uring_disabled=2 (EPERM)"},
		{unix.EPERM, NoFlag, "0", 2, "refused by a seccomp filter on this process (EPERM)"},
		{unix.EPERM, NoFlag, "absent", 0, "refused by a security policy (EPERM): an LSM"},
		{unix.ENOSYS, NoFlag, "absent", 0, "this kernel has no io_uring (ENOSYS): older than 5.1"},
		{unix.ENOSYS, NoFlag, "absent", 2, "(ENOSYS) while a seccomp filter is active"},
		{unix.EINVAL, NoFlag, "0", 0, "its io_uring is too old"},
		{unix.ENOMEM, NoFlag, "0", 0, "RLIMIT_MEMLOCK, here "},
		{unix.EMFILE, NoFlag, "0", 0, "no file descriptor left for the ring (EMFILE)"},
		{unix.ENFILE, NoFlag, "0", 0, "(ENFILE)"},
		{0, NoFlag, "0", 0, "io_uring setup failed"},
		{unix.EIO, NoFlag, "0", 0, "io_uring_setup failed: input/output error (EIO)"},
		{unix.EINVAL, FlagNoSQArray, "0", 0, "this kernel does not know it (added in 6.6)"},
		{unix.EINVAL, FlagDeferTaskrun, "0", 0, "it requires SINGLE_ISSUER, which the probe set too"},
		{unix.EPERM, FlagSQPoll, "0", 0, "allow SQPOLL only with CAP_SYS_ADMIN"},
		{unix.EPERM, FlagSingleIssuer, "0", 0, "refused (EPERM) by a security policy"},
		{unix.ENOMEM, FlagSQPoll, "0", 0, "not enough lockable memory for the ring (ENOMEM; RLIMIT_MEMLOCK"},
		{unix.EBUSY, FlagSQPoll, "0", 0, "io_uring_setup failed: device or resource busy (EBUSY)"},
	}
	for _, c := range cases {
		env := Env{Disabled: c.disabled, Group: "-1", SeccompMode: c.seccomp}
		if got := Explain(c.errno, c.flag, env); !strings.Contains(got, c.want) {
			t.Errorf("%v flag %v disabled=%s seccomp=%d: %q lacks %q", c.errno, c.flag, c.disabled, c.seccomp, got, c.want)
		}
	}
	// io_uring_disabled=1 only bites a process without CAP_SYS_ADMIN outside the group.
	got := Explain(unix.EPERM, NoFlag, Env{Disabled: "1", Group: "-1"})
	if hasCapSysAdmin() {
		if strings.Contains(got, "io_uring_disabled=1") {
			t.Errorf("blames io_uring_disabled=1 although this process has CAP_SYS_ADMIN: %q", got)
		}
	} else if !strings.Contains(got, "io_uring_disabled=1") || !strings.Contains(got, "no group is set") {
		t.Errorf("%q", got)
	}
}

func TestError(t *testing.T) {
	err := fmt.Errorf("uring: %w", setupError("io_uring", NoFlag, fmt.Errorf("io_uring_setup: %w", unix.ENOSYS)))
	if !errors.Is(err, ErrNotSupported) || !errors.Is(err, unix.ENOSYS) || ErrnoOf(err) != unix.ENOSYS {
		t.Errorf("%v does not wrap ErrNotSupported and ENOSYS", err)
	}
	if !strings.HasPrefix(err.Error(), "uring: not supported here: io_uring: ") || !strings.Contains(Reason(err), "(ENOSYS)") {
		t.Errorf("%q; reason %q", err, Reason(err))
	}
	// Without an errno the underlying error's text is kept.
	e := setupError("io_uring", NoFlag, errors.New("NO_SQARRAY without FEAT_SINGLE_MMAP"))
	if e.Reason != "io_uring setup failed: NO_SQARRAY without FEAT_SINGLE_MMAP" || e.Errno != 0 {
		t.Errorf("%+v", e)
	}
	// SetupError (any ring parameters) keeps the ring's message where the errno alone is vague.
	err = SetupError(fmt.Errorf("io_uring_setup(entries=16384, flags=0x3000): %w", unix.EINVAL))
	if !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "(EINVAL)") || !strings.Contains(err.Error(), "entries=16384") {
		t.Errorf("SetupError EINVAL: %q", err)
	}
	err = SetupError(fmt.Errorf("io_uring_setup(entries=8): %w", unix.EPERM))
	if !errors.Is(err, unix.EPERM) || strings.Contains(err.Error(), "entries=8") {
		t.Errorf("SetupError EPERM: %q", err)
	}
	if SetupError(nil) != nil {
		t.Error("SetupError(nil) is not nil")
	}
	if Reason(errors.New("plain")) != "plain" {
		t.Error("Reason of a plain error")
	}
}

// With io_uring refused by seccomp every probe says not supported, carries the errno and explains it.
func TestProbesWithIOUringDenied(t *testing.T) {
	for _, c := range []struct{ errno, explains string }{
		{"EPERM", "refused by a seccomp filter"},
		{"ENOSYS", "seccomp filter is active"},
	} {
		t.Run(c.errno, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+c.errno)
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child: %v", err)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != len(allProbes()) {
				t.Fatalf("child printed %d lines, want %d:\n%s", len(lines), len(allProbes()), out)
			}
			for _, l := range lines {
				f := strings.SplitN(l, "|", 4)
				if len(f) != 4 || f[1] != "true" || f[2] != "true" || !strings.Contains(f[3], c.explains) {
					t.Errorf("%s", l)
				}
			}
		})
	}
}

// TestSQPollCPUError: a real SQPOLL ring pinned to a CPU that does not exist is refused with EINVAL,
// explained as the CPU's fault, not as SQPOLL missing.
func TestSQPollCPUError(t *testing.T) {
	if err := SetupFlag(FlagSQPoll); err != nil {
		t.Skip(err)
	}
	const cpu = 1000
	_, err := ring.New(ring.Params{Entries: 8, SQPoll: true, SQThreadCPU: cpu})
	if !errors.Is(err, unix.EINVAL) {
		t.Fatalf("SQPOLL on CPU %d: %v, want EINVAL", cpu, err)
	}
	got := SQPollCPUError(cpu, SetupError(err))
	if !errors.Is(got, ErrSQPollCPU) || !errors.Is(got, unix.EINVAL) || errors.Is(got, ErrNotSupported) {
		t.Fatalf("SQPollCPUError = %v: want ErrSQPollCPU and EINVAL, not ErrNotSupported", got)
	}
	if !strings.Contains(got.Error(), "CPU 1000 (EINVAL)") {
		t.Errorf("SQPollCPUError = %q, want it to name the CPU", got)
	}
	if e := SQPollCPUError(-1, unix.ENOMEM); !errors.Is(e, ErrNotSupported) {
		t.Errorf("unpinned ENOMEM: %v, want SetupError's", e)
	}
}
