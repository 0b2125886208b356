package kmatrix

import (
	"encoding/json"
	"fmt"
)

// CapsSchema names the output of `kmatrix caps`.
const CapsSchema = "ringbench/kmatrix-caps"

// Cap is one capability tried for real in the guest.
type Cap struct {
	Supported bool `json:"supported"`
	// Detail says what happened: the errno or the completion that decided it.
	Detail string `json:"detail"`
}

// Caps are the io_uring capabilities the feature matrix shows beside the probe's report: a provided buffer
// ring (IORING_REGISTER_PBUF_RING, 5.19+) and multishot recv (IORING_RECV_MULTISHOT, 6.0+), each
// exercised on a real ring rather than inferred from the kernel version. They fill in the row when the
// probe's output is missing.
type Caps struct {
	Schema        string `json:"schema"`
	BufRing       Cap    `json:"buf_ring"`
	MultishotRecv Cap    `json:"multishot_recv"`
}

// BlockCaps is the guest block holding `kmatrix caps` output.
const BlockCaps = "caps"

func (c Cap) cell() string {
	if c.Supported {
		return "yes"
	}
	if c.Detail != "" {
		return "no (" + c.Detail + ")"
	}
	return "no"
}

func decodeCaps(data []byte) (*Caps, error) {
	var c Caps
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("caps output is not JSON: %v", err)
	}
	if c.Schema != CapsSchema {
		return nil, fmt.Errorf("caps output has schema %q, want %q", c.Schema, CapsSchema)
	}
	return &c, nil
}
