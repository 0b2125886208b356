package fingerprint

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ringbench/ringbench/internal/ring"
	"github.com/ringbench/ringbench/internal/ring/caps"
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

// SetupFlagOrder is the order in which setup flags are probed and reported (caps.Flags).
var SetupFlagOrder = func() []string {
	var names []string
	for _, f := range caps.Flags() {
		names = append(names, f.String())
	}
	return names
}()

// IOUringDisabled reads kernel.io_uring_disabled: "absent" when the sysctl does not exist (kernels before
// 6.6, where nothing disables io_uring this way), else its value ("0", "1", "2"); "" when it exists but
// cannot be read.
func IOUringDisabled() string {
	return caps.ReadDisabled(path("/proc/sys/kernel/io_uring_disabled"))
}

// ErrnoName is the symbolic name of an errno ("EPERM"), or its number.
func ErrnoName(e unix.Errno) string { return caps.ErrnoName(e) }

// ProbeIOUring reports what io_uring this kernel allows this process, from the capability probes in
// package caps (each sets up and closes a small ring once per process). It never fails and never blocks
// on I/O; when io_uring is unavailable the result says why.
func ProbeIOUring() IOUringProbe {
	pr := IOUringProbe{SeccompMode: seccomp.Mode()}
	iu := &pr.IOUring
	iu.Disabled = IOUringDisabled()
	iu.Group = readString("/proc/sys/kernel/io_uring_group")

	if err := caps.Setup(); err != nil {
		pr.SetupErrno = caps.ErrnoOf(err)
		iu.SetupError = caps.Reason(err)
		if pr.SetupErrno != 0 {
			iu.SetupErrno = ErrnoName(pr.SetupErrno)
		}
		reason := "not tried: io_uring setup fails"
		iu.SQPollErr = reason
		for _, name := range SetupFlagOrder {
			pr.Flags = append(pr.Flags, FlagResult{Name: name, Reason: reason})
		}
		return pr
	}
	iu.SetupOK = true
	iu.Features, _ = caps.Features()
	iu.FeatureSet = ring.FeatureNames(iu.Features)
	if sup, last, err := caps.Opcodes(); err == nil {
		pr.Supported = sup
		iu.LastOpcode = int(last)
		for op, ok := range sup {
			if ok {
				iu.Opcodes = append(iu.Opcodes, ring.OpcodeName(uint8(op)))
			}
		}
	}

	for _, f := range caps.Flags() {
		res := FlagResult{Name: f.String(), Accepted: true}
		if err := caps.SetupFlag(f); err != nil {
			res.Accepted = false
			if e := caps.ErrnoOf(err); e != 0 {
				res.Errno = ErrnoName(e)
			}
			res.Reason = caps.Reason(err)
		}
		pr.Flags = append(pr.Flags, res)
		if res.Accepted {
			iu.SetupFlags = append(iu.SetupFlags, res.Name)
		}
		if f == caps.FlagSQPoll {
			iu.SQPoll = res.Accepted
			iu.SQPollErr = res.Reason
		}
	}
	return pr
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
