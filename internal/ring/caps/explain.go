package caps

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ringbench/ringbench/internal/seccomp"
)

// Env is what besides the errno explains a refused io_uring_setup: the sysctls kernel.io_uring_disabled
// and kernel.io_uring_group, and this process's seccomp mode.
type Env struct {
	// Disabled is kernel.io_uring_disabled: "absent" (no such sysctl: kernels before 6.6), "0", "1", "2",
	// or "" when it exists but cannot be read.
	Disabled string
	// Group is kernel.io_uring_group ("" when absent or unreadable).
	Group string
	// SeccompMode is 0 (none), 1 (strict), 2 (filter) or -1 (unknown).
	SeccompMode int
}

// CurrentEnv reads Env for this process.
func CurrentEnv() Env {
	return Env{Disabled: ReadDisabled("/proc/sys/kernel/io_uring_disabled"),
		Group: readTrimmed("/proc/sys/kernel/io_uring_group"), SeccompMode: seccomp.Mode()}
}

// ReadDisabled reads the io_uring_disabled sysctl at path: "absent" when the file does not exist, its
// value otherwise, "" when it cannot be read.
func ReadDisabled(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "absent"
		}
		return ""
	}
	return strings.TrimSpace(string(b))
}

func readTrimmed(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// ErrnoName is the symbolic name of an errno ("EPERM"), or "errno N".
func ErrnoName(e unix.Errno) string {
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return "errno " + strconv.Itoa(int(e))
}

// Explain says in plain words why io_uring_setup failed with errno: for a plain ring when flag is
// NoFlag, else for a ring asking for flag (a plain ring having worked).
func Explain(errno unix.Errno, flag Flag, env Env) string {
	if flag != NoFlag {
		switch errno {
		case unix.EINVAL:
			s := "this kernel does not know it (added in " + flag.spec().since + ")"
			if n := flag.spec().needs; n != "" {
				s += "; it requires " + n + ", which the probe set too"
			}
			return s
		case unix.EPERM:
			if flag == FlagSQPoll {
				return "refused for this user (EPERM): kernels before 5.11 allow SQPOLL only with CAP_SYS_ADMIN, " +
					"or a security policy forbids it"
			}
			return "refused (EPERM) by a security policy"
		case unix.ENOMEM:
			return "not enough lockable memory for the ring (ENOMEM; RLIMIT_MEMLOCK " + memlockString() + ")"
		}
	}
	switch errno {
	case unix.EPERM:
		switch {
		case env.Disabled == "2":
			return "io_uring is switched off for everyone by sysctl kernel.io_uring_disabled=2 (EPERM)"
		case env.Disabled == "1" && !hasCapSysAdmin() && !inGroup(env.Group):
			who := "no group is set (kernel.io_uring_group=" + env.Group + ")"
			if g, err := strconv.Atoi(env.Group); err == nil && g >= 0 {
				who = "this process is not in kernel.io_uring_group=" + env.Group
			}
			return "sysctl kernel.io_uring_disabled=1 allows io_uring only to CAP_SYS_ADMIN and members of " +
				"kernel.io_uring_group; this process lacks CAP_SYS_ADMIN and " + who + " (EPERM)"
		case env.SeccompMode == 2:
			return "refused by a seccomp filter on this process (EPERM): a container runtime's or sandbox's " +
				"syscall policy blocks io_uring (Seccomp: 2 in /proc/self/status)"
		}
		return "refused by a security policy (EPERM): an LSM such as SELinux or AppArmor, or the container's policy"
	case unix.ENOSYS:
		if env.SeccompMode == 2 {
			return "io_uring_setup does not exist for this process (ENOSYS) while a seccomp filter is active: " +
				"a container or sandbox policy hides io_uring, or the kernel was built without it"
		}
		return "this kernel has no io_uring (ENOSYS): older than 5.1, or built without CONFIG_IO_URING"
	case unix.EINVAL:
		return "the kernel rejected a minimal ring (EINVAL): its io_uring is too old for ringbench"
	case unix.ENOMEM:
		return "not enough lockable memory for a ring (ENOMEM; kernels before 5.12 charge rings to " +
			"RLIMIT_MEMLOCK, here " + memlockString() + "): raise it (ulimit -l)"
	case unix.EMFILE, unix.ENFILE:
		return "no file descriptor left for the ring (" + ErrnoName(errno) + ")"
	case 0:
		return "io_uring setup failed"
	}
	return "io_uring_setup failed: " + errno.Error() + " (" + ErrnoName(errno) + ")"
}

// setupError turns an error from ring.New into an *Error explained by Explain.
func setupError(capability string, flag Flag, err error) *Error {
	e := ErrnoOf(err)
	reason := Explain(e, flag, CurrentEnv())
	if e == 0 {
		reason += ": " + err.Error()
	}
	return &Error{Capability: capability, Reason: reason, Errno: e, Err: err}
}

func memlockString() string {
	var r unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &r); err != nil {
		return "unknown"
	}
	if r.Cur == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return strconv.FormatUint(r.Cur/1024, 10) + " KiB"
}

// hasCapSysAdmin reads CapEff from /proc/self/status.
func hasCapSysAdmin() bool {
	for _, line := range strings.Split(readTrimmed("/proc/self/status"), "\n") {
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

// SetupError turns an error from ring.New with any parameters into an error wrapping ErrNotSupported (and
// the errno) that says why in the words of Explain; nil stays nil. Where the errno alone does not say
// why (EINVAL, say), the ring's own message follows, since it names the entries and flags asked for.
func SetupError(err error) error {
	if err == nil {
		return nil
	}
	e := setupError("io_uring", NoFlag, err)
	switch e.Errno {
	case 0, unix.EPERM, unix.ENOSYS, unix.ENOMEM, unix.EMFILE, unix.ENFILE:
	default:
		e.Reason += " [" + err.Error() + "]"
	}
	return e
}
