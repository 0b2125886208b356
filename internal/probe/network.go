package probe

import (
	"errors"
	"fmt"

	"github.com/ringbench/ringbench/internal/fingerprint"
	"github.com/ringbench/ringbench/internal/ring"
	"github.com/ringbench/ringbench/internal/ring/caps"
)

// tryNetworking reports buffer-ring, multishot-accept and multishot-recv support from the capability
// probes (package caps), which try them on loopback TCP with a real ring; where trying was impossible it
// decides from the opcode probe and the kernel release (buffer rings and multishot accept: 5.19,
// multishot recv: 6.0).
func tryNetworking(iou fingerprint.IOUringProbe, release string) (buf, acc, recv Support) {
	if !iou.IOUring.SetupOK {
		no := Support{How: "not tried", Detail: "io_uring setup fails"}
		return no, no, no
	}
	hasAccept := opcodeSupported(iou.Supported, ring.OpAccept)
	hasRecv := opcodeSupported(iou.Supported, ring.OpRecv)
	byVersion := func(ok bool, what, since string, why string) Support {
		s := Support{Supported: ok, How: "kernel version"}
		if ok {
			s.Detail = fmt.Sprintf("kernel %s has %s (%s+); not tried: %s", release, what, since, why)
		} else {
			s.Detail = fmt.Sprintf("kernel %s: %s needs %s; not tried: %s", release, what, since, why)
		}
		return s
	}
	bufByVersion := func(why string) Support {
		return byVersion(fingerprint.KernelAtLeast(release, 5, 19), "provided-buffer rings", "5.19", why)
	}
	accByVersion := func(why string) Support {
		if !hasAccept {
			return Support{How: "opcode probe", Detail: "the kernel has no ACCEPT opcode"}
		}
		return byVersion(fingerprint.KernelAtLeast(release, 5, 19), "multishot accept", "5.19", why)
	}
	recvByVersion := func(why string) Support {
		if !hasRecv {
			return Support{How: "opcode probe", Detail: "the kernel has no RECV opcode"}
		}
		return byVersion(fingerprint.KernelAtLeast(release, 6, 0), "multishot recv", "6.0", why)
	}

	buf = fromCaps(caps.BufRing(), bufByVersion,
		"registered a ring of 8 provided buffers (IORING_REGISTER_PBUF_RING)")
	if !hasAccept {
		acc = accByVersion("")
	} else {
		acc = fromCaps(caps.MultishotAccept(), accByVersion,
			"one ACCEPT request accepted 2 loopback connections and stayed armed (CQE_F_MORE)")
	}
	switch {
	case !hasRecv:
		recv = recvByVersion("")
	case !buf.Supported:
		recv = recvByVersion("it needs a provided-buffer ring, and registering one failed")
	default:
		recv = fromCaps(caps.MultishotRecv(), recvByVersion,
			"one RECV request delivered 2 messages into provided buffers and stayed armed (CQE_F_MORE)")
	}
	return buf, acc, recv
}

// fromCaps turns a capability probe's answer into a Support: tried and working, tried and refused (the
// reason), or decided by byVersion when the probe could not try.
func fromCaps(err error, byVersion func(why string) Support, works string) Support {
	switch {
	case err == nil:
		return Support{Supported: true, How: "tried", Detail: works}
	case errors.Is(err, caps.ErrNotSupported):
		return Support{How: "tried", Detail: caps.Reason(err)}
	}
	return byVersion(err.Error())
}
