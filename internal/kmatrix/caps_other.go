//go:build !linux

package kmatrix

// ProbeCaps reports nothing outside Linux: io_uring is Linux's.
func ProbeCaps() Caps {
	return Caps{Schema: CapsSchema, BufRing: Cap{Detail: "not Linux"}, MultishotRecv: Cap{Detail: "not Linux"}}
}
