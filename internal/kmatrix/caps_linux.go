//go:build linux

package kmatrix

import (
	"github.com/ringbench/ringbench/internal/ring/caps"
)

// ProbeCaps tries a provided buffer ring and a multishot recv on this kernel, with the capability probes
// that the backends and `ringbench probe` use (internal/ring/caps).
func ProbeCaps() Caps {
	return Caps{Schema: CapsSchema,
		BufRing:       capOf(caps.BufRing(), "registered 8 provided buffers"),
		MultishotRecv: capOf(caps.MultishotRecv(), "2 messages on one armed recv")}
}

// capOf turns a probe's answer into a Cap: works when err is nil, else the error says why not (or why
// the probe could not decide).
func capOf(err error, works string) Cap {
	if err != nil {
		return Cap{Detail: err.Error()}
	}
	return Cap{Supported: true, Detail: works}
}
