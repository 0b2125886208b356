#include "textflag.h"

// func storeRelease32(addr *uint32, v uint32)
// A plain MOVL: on amd64 (TSO) a store is never reordered with earlier loads
// or stores, so it is a store-release. See release_amd64.go.
TEXT ·storeRelease32(SB), NOSPLIT, $0-12
	MOVQ	addr+0(FP), AX
	MOVL	v+8(FP), BX
	MOVL	BX, 0(AX)
	RET
