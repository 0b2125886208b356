package caps

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ErrSQPollCPU marks a setup the kernel refused because of the CPU asked for the SQPOLL thread
// (IORING_SETUP_SQ_AFF). It does not wrap ErrNotSupported: SQPOLL works here, only not on that CPU.
var ErrSQPollCPU = errors.New("the kernel refused the SQPOLL CPU")

// SQPollCPUError explains a failed setup of an SQPOLL ring pinned to cpu. The kernel accepts any online
// CPU in the process's cpuset (cpuset_cpus_allowed), whatever its affinity mask, and answers EINVAL for
// any other: so an EINVAL from such a setup (after a plain SQPOLL ring was accepted, see SetupFlag) is
// about the CPU, and the error returned wraps ErrSQPollCPU and the errno. Any other error, or cpu < 0,
// comes back as SetupError would return it.
func SQPollCPUError(cpu int, err error) error {
	if err == nil {
		return nil
	}
	if cpu < 0 || ErrnoOf(err) != unix.EINVAL || SetupFlag(FlagSQPoll) != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return err
		}
		return SetupError(err)
	}
	inner := err
	var ce *Error
	if errors.As(err, &ce) && ce.Err != nil {
		inner = ce.Err // drop ErrNotSupported: this is not a missing capability
	}
	return fmt.Errorf("%w %d (EINVAL): it accepts only an online CPU in this process's cpuset "+
		"(cpuset.cpus.effective of its cgroup): %w", ErrSQPollCPU, cpu, inner)
}
