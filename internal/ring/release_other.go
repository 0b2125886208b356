//go:build !amd64

package ring

import "sync/atomic"

// storeRelease32 stores v at addr with (at least) release ordering: where no
// cheaper release store is written out, sync/atomic's sequentially
// consistent store (STLR on arm64) serves.
func storeRelease32(addr *uint32, v uint32) { atomic.StoreUint32(addr, v) }
