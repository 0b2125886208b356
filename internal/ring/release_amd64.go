package ring

// storeRelease32 stores v at addr with release ordering and nothing more: a
// plain MOV on amd64, where sync/atomic's StoreUint32 is an XCHG, a full
// barrier that costs tens of cycles on every publish and reap. It is in
// assembly so that the compiler, which cannot see into it, keeps every
// memory access of the caller on its side of the call (a compiler barrier),
// and the CPU's total store order keeps them there too.
//
//go:noescape
func storeRelease32(addr *uint32, v uint32)
