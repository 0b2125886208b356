package ring

import "unsafe"

// Builders that act on other requests and on the registered-file table.

// Flags for Cancel.Flags (IORING_ASYNC_CANCEL_*).
const (
	CancelAll      uint32 = 1 << 0 // every matching request, not just the first (5.19+); Res = how many
	CancelFD       uint32 = 1 << 1 // match by file (Cancel.FD) instead of user data (5.19+)
	CancelAny      uint32 = 1 << 2 // match any request (with CancelAll: everything in flight); not with CancelFD
	CancelFDFixed  uint32 = 1 << 3 // with CancelFD: Cancel.FD is a registered-file slot
	CancelUserData uint32 = 1 << 4 // match by user data as well (with CancelFD) (6.6+)
	CancelOp       uint32 = 1 << 5 // match by opcode (6.6+; not built here)
)

// Cancel is IORING_OP_ASYNC_CANCEL. By default it cancels the request whose
// user data is UserData (e.g. to stop a multishot accept/recv); Flags widen
// the match: CancelFD (requests on FD; add CancelFDFixed for a registered
// slot), CancelAny (any request), CancelAll (all matches instead of the
// first). Res is 0 (or, with CancelAll, the number cancelled), -ENOENT or
// -EALREADY. Each cancelled request completes with -ECANCELED (or -EINTR).
type Cancel struct {
	UserData uint64
	FD       int32 // with CancelFD
	Flags    uint32
}

// Prep fills s.
func (o Cancel) Prep(s *SQE) {
	fd := int32(-1)
	if o.Flags&CancelFD != 0 {
		fd = o.FD
	}
	s.prep(OpAsyncCancel, false, fd, o.UserData, 0, 0)
	s.OpFlags = o.Flags
}

// FilesUpdate is IORING_OP_FILES_UPDATE (5.6+): installs the N descriptors
// at FDs (an int32 array, off-heap or pinned until completion) into the
// registered-file table from slot Offset on; -1 clears a slot. With Offset
// FileIndexAlloc (5.19+) the kernel picks free slots and writes each chosen
// slot back over its descriptor in FDs. Res is the number installed or
// -errno. The table keeps its own reference: the caller may close the fds.
type FilesUpdate struct {
	FDs    *int32
	N      uint32
	Offset uint32
}

// Prep fills s.
func (o FilesUpdate) Prep(s *SQE) {
	s.prep(OpFilesUpdate, false, -1, ptr(unsafe.Pointer(o.FDs)), o.N, uint64(o.Offset))
}
