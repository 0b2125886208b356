package fingerprint

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringbench/ringbench/internal/ring"
	"github.com/ringbench/ringbench/internal/seccomp"
)

// FlagResult is whether the kernel accepted one io_uring setup flag for this user.
type FlagResult struct {
	Name     string `json:"name"`
	Accepted bool   `json:"accepted"`
	Errno    string `json:"errno,omitempty"`  // e.g. "EINVAL" when refused
	Reason   string `json:"reason,omitempty"` // plain words when refused
}

// IOUringProbe is what ProbeIOUring found out, in more detail than the fingerprint keeps.
type IOUringProbe struct {
	IOUring IOUring
	// SetupErrno is the errno of a plain io_uring_setup; 0 when it works.
	SetupErrno unix.Errno
	// Flags has one entry per probed setup flag, in the order of SetupFlagOrder.
	Flags []FlagResult
	// Supported is indexed by opcode (nil when setup fails or IORING_REGISTER_PROBE is missing).
	Supported []bool
	// SeccompMode is this process's seccomp mode (0 none, 1 strict, 2 filter, -1 unknown).
	SeccompMode int
}

// flagSpec is one setup flag to probe: the ring parameters that ask for it, the bits that show it was
// granted, and the kernel that introduced it.
type flagSpec struct {
	name   string
	params ring.Params
	bits   uint32
	since  string
	needs  string
}

// SetupFlagOrder is the order in which setup flags are probed and reported.
var SetupFlagOrder = []string{"SQPOLL", "SINGLE_ISSUER", "DEFER_TASKRUN", "COOP_TASKRUN", "TASKRUN_FLAG", "NO_SQARRAY"}

func flagSpecs() []flagSpec {
	p := func(f func(*ring.Params)) ring.Params {
		q := ring.Params{Entries: 8, SQThreadCPU: -1, NoFallback: true}
		f(&q)
		return q
	}
	return []flagSpec{
		{name: "SQPOLL", since: "5.1 (5.11 without CAP_SYS_ADMIN)", bits: ring.SetupSQPoll,
			params: p(func(q *ring.Params) { q.SQPoll = true; q.SQThreadIdle = 10 * time.Millisecond })},
		{name: "SINGLE_ISSUER", since: "6.0", bits: ring.SetupSingleIssuer,
			params: p(func(q *ring.Params) { q.SingleIssuer = true })},
		{name: "DEFER_TASKRUN", since: "6.1", needs: "SINGLE_ISSUER", bits: ring.SetupDeferTaskrun,
			params: p(func(q *ring.Params) { q.SingleIssuer = true; q.DeferTaskrun = true })},
		// The ring package asks for COOP_TASKRUN together with TASKRUN_FLAG, the way the backends use them;
		// each is reported from the flags the kernel kept.
		{name: "COOP_TASKRUN", since: "5.19", bits: ring.SetupCoopTaskrun,
			params: p(func(q *ring.Params) { q.CoopTaskrun = true })},
		{name: "TASKRUN_FLAG", since: "5.19", needs: "COOP_TASKRUN", bits: ring.SetupTaskrunFlag,
			params: p(func(q *ring.Params) { q.CoopTaskrun = true })},
		{name: "NO_SQARRAY", since: "6.6", bits: ring.SetupNoSQArray,
			params: p(func(q *ring.Params) { q.NoSQArray = true })},
	}
}

// IOUringDisabled reads kernel.io_uring_disabled: "absent" when the sysctl does not exist (kernels before
// 6.6, where nothing disables io_uring this way), else its value ("0", "1", "2"); "" when it exists but
// cannot be read.
func IOUringDisabled() string {
	p := path("/proc/sys/kernel/io_uring_disabled")
	b, err := os.ReadFile(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "absent"
		}
		return ""
	}
	return strings.TrimSpace(string(b))
}

// errnoOf extracts the errno an error wraps (0 when none).
func errnoOf(err error) unix.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return e
	}
	return 0
}

// ErrnoName is the symbolic name of an errno ("EPERM"), or its number.
func ErrnoName(e unix.Errno) string {
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return "errno " + strconv.Itoa(int(e))
}

// ProbeIOUring finds out what io_uring this kernel allows this process: it sets up and closes a few small
// rings. It never fails and never blocks on I/O; when io_uring is unavailable the result says why.
func ProbeIOUring() IOUringProbe {
	pr := IOUringProbe{SeccompMode: seccomp.Mode()}
	iu := &pr.IOUring
	iu.Disabled = IOUringDisabled()
	iu.Group = readString("/proc/sys/kernel/io_uring_group")

	// Rings with SINGLE_ISSUER belong to the thread that made them: keep every setup and close on one thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	r, err := ring.New(ring.Params{Entries: 8, SQThreadCPU: -1})
	if err != nil {
		pr.SetupErrno = errnoOf(err)
		iu.SetupError = ExplainSetupError(pr.SetupErrno, iu.Disabled, iu.Group, pr.SeccompMode)
		if pr.SetupErrno != 0 {
			iu.SetupErrno = ErrnoName(pr.SetupErrno)
		} else {
			iu.SetupError += ": " + err.Error()
		}
		reason := "not tried: io_uring setup fails"
		iu.SQPollErr = reason
		for _, name := range SetupFlagOrder {
			pr.Flags = append(pr.Flags, FlagResult{Name: name, Reason: reason})
		}
		return pr
	}
	iu.SetupOK = true
	iu.Features = r.Features()
	iu.FeatureSet = ring.FeatureNames(iu.Features)
	if sup, last, err := r.ProbeOpcodes(); err == nil {
		pr.Supported = sup
		iu.LastOpcode = int(last)
		for op, ok := range sup {
			if ok {
				iu.Opcodes = append(iu.Opcodes, ring.OpcodeName(uint8(op)))
			}
		}
	}
	r.Close()

	for _, f := range flagSpecs() {
		res := FlagResult{Name: f.name}
		fr, err := ring.New(f.params)
		switch {
		case err == nil && fr.SetupFlags()&f.bits == f.bits:
			res.Accepted = true
		case err == nil:
			res.Reason = fmt.Sprintf("the ring was set up without it (flags %#x)", fr.SetupFlags())
		default:
			e := errnoOf(err)
			if e != 0 {
				res.Errno = ErrnoName(e)
			}
			res.Reason = explainFlagError(f, e, err)
		}
		if fr != nil {
			fr.Close()
		}
		pr.Flags = append(pr.Flags, res)
		if res.Accepted {
			iu.SetupFlags = append(iu.SetupFlags, f.name)
		}
		if f.name == "SQPOLL" {
			iu.SQPoll = res.Accepted
			iu.SQPollErr = res.Reason
		}
	}
	return pr
}

func explainFlagError(f flagSpec, e unix.Errno, err error) string {
	switch e {
	case unix.EINVAL:
		s := "this kernel does not know it (added in " + f.since + ")"
		if f.needs != "" {
			s += "; it requires " + f.needs + ", which the probe set too"
		}
		return s
	case unix.EPERM:
		if f.name == "SQPOLL" {
			return "refused for this user (EPERM): kernels before 5.11 allow SQPOLL only with CAP_SYS_ADMIN, " +
				"or a security policy forbids it"
		}
		return "refused (EPERM) by a security policy"
	case unix.ENOMEM:
		return "not enough lockable memory for the ring (ENOMEM; RLIMIT_MEMLOCK " + memlockString() + ")"
	case 0:
		return err.Error()
	}
	return "io_uring_setup failed: " + e.Error() + " (" + ErrnoName(e) + ")"
}

func memlockString() string {
	v := rlimit(unix.RLIMIT_MEMLOCK)
	if v < 0 {
		return "unlimited"
	}
	return strconv.FormatInt(v/1024, 10) + " KiB"
}

// hasCapSysAdmin reads CapEff from /proc/self/status.
func hasCapSysAdmin() bool {
	for _, line := range strings.Split(readString("/proc/self/status"), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && caps&(1<<unix.CAP_SYS_ADMIN) != 0
		}
	}
	return false
}

// inGroup reports whether this process has gid among its groups.
func inGroup(gid string) bool {
	g, err := strconv.Atoi(gid)
	if err != nil || g < 0 {
		return false
	}
	if os.Getegid() == g {
		return true
	}
	groups, _ := os.Getgroups()
	for _, x := range groups {
		if x == g {
			return true
		}
	}
	return false
}

// ExplainSetupError says in plain words why io_uring_setup failed with errno, given the sysctls
// kernel.io_uring_disabled and io_uring_group and this process's seccomp mode.
func ExplainSetupError(errno unix.Errno, disabled, group string, seccompMode int) string {
	switch errno {
	case unix.EPERM:
		switch {
		case disabled == "2":
			return "io_uring is switched off for everyone by sysctl kernel.io_uring_disabled=2 (EPERM)"
		case disabled == "1" && !hasCapSysAdmin() && !inGroup(group):
			who := "no group is set (kernel.io_uring_group=" + group + ")"
			if g, err := strconv.Atoi(group); err == nil && g >= 0 {
				who = "this process is not in kernel.io_uring_group=" + group
			}
			return "sysctl kernel.io_uring_disabled=1 allows io_uring only to CAP_SYS_ADMIN and members of " +
				"kernel.io_uring_group; this process lacks CAP_SYS_ADMIN and " + who + " (EPERM)"
		case seccompMode == 2:
			return "refused by a seccomp filter on this process (EPERM): a container runtime's or sandbox's " +
				"syscall policy blocks io_uring (Seccomp: 2 in /proc/self/status)"
		}
		return "refused by a security policy (EPERM): an LSM such as SELinux or AppArmor, or the container's policy"
	case unix.ENOSYS:
		if seccompMode == 2 {
			return "io_uring_setup does not exist for this process (ENOSYS) while a seccomp filter is active: " +
				"a container or sandbox policy hides io_uring, or the kernel was built without it"
		}
		return "this kernel has no io_uring (ENOSYS): older than 5.1, or built without CONFIG_IO_URING"
	case unix.EINVAL:
		return "the kernel rejected a minimal ring (EINVAL): its io_uring is too old for ringbench"
	case unix.ENOMEM:
		return "not enough lockable memory for a ring (ENOMEM; kernels before 5.12 charge rings to " +
			"RLIMIT_MEMLOCK, here " + memlockString() + ")"
	case unix.EMFILE, unix.ENFILE:
		return "no file descriptor left for the ring (" + ErrnoName(errno) + ")"
	case 0:
		return "io_uring setup failed"
	}
	return "io_uring_setup failed: " + errno.Error() + " (" + ErrnoName(errno) + ")"
}

// KernelVersion parses the major and minor numbers of a release such as "6.18.44-fc-v445".
func KernelVersion(release string) (major, minor int, ok bool) {
	a, rest, found := strings.Cut(release, ".")
	if !found {
		return 0, 0, false
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	maj, err1 := strconv.Atoi(a)
	mnr, err2 := strconv.Atoi(rest[:end])
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return maj, mnr, true
}

// KernelAtLeast reports whether release is at least major.minor; false when it cannot be parsed.
func KernelAtLeast(release string, major, minor int) bool {
	ma, mi, ok := KernelVersion(release)
	return ok && (ma > major || ma == major && mi >= minor)
}
