package ring

import "unsafe"

// Kernel ABI: constants and structure layouts from include/uapi/linux/io_uring.h.
// Layouts are checked against the header in abi_test.go.

// Setup flags (io_uring_params.flags).
const (
	SetupIOPoll        uint32 = 1 << 0
	SetupSQPoll        uint32 = 1 << 1
	SetupSQAff         uint32 = 1 << 2
	SetupCQSize        uint32 = 1 << 3
	SetupClamp         uint32 = 1 << 4
	SetupAttachWQ      uint32 = 1 << 5
	SetupRDisabled     uint32 = 1 << 6
	SetupSubmitAll     uint32 = 1 << 7
	SetupCoopTaskrun   uint32 = 1 << 8
	SetupTaskrunFlag   uint32 = 1 << 9
	SetupSQE128        uint32 = 1 << 10
	SetupCQE32         uint32 = 1 << 11
	SetupSingleIssuer  uint32 = 1 << 12
	SetupDeferTaskrun  uint32 = 1 << 13
	SetupNoMmap        uint32 = 1 << 14
	SetupRegisteredFDO uint32 = 1 << 15 // IORING_SETUP_REGISTERED_FD_ONLY
	SetupNoSQArray     uint32 = 1 << 16
)

// Feature bits (io_uring_params.features).
const (
	FeatSingleMmap     uint32 = 1 << 0
	FeatNoDrop         uint32 = 1 << 1
	FeatSubmitStable   uint32 = 1 << 2
	FeatRWCurPos       uint32 = 1 << 3
	FeatCurPersonality uint32 = 1 << 4
	FeatFastPoll       uint32 = 1 << 5
	FeatPoll32Bits     uint32 = 1 << 6
	FeatSQPollNonfixed uint32 = 1 << 7
	FeatExtArg         uint32 = 1 << 8
	FeatNativeWorkers  uint32 = 1 << 9
	FeatRsrcTags       uint32 = 1 << 10
	FeatCQESkip        uint32 = 1 << 11
	FeatLinkedFile     uint32 = 1 << 12
	FeatRegRegRing     uint32 = 1 << 13
	FeatRecvSendBundle uint32 = 1 << 14
	FeatMinTimeout     uint32 = 1 << 15
	FeatRWAttr         uint32 = 1 << 16
	FeatNoIOWait       uint32 = 1 << 17
)

// SQ ring flags (written by the kernel, read by us).
const (
	sqNeedWakeup uint32 = 1 << 0 // IORING_SQ_NEED_WAKEUP
	sqCQOverflow uint32 = 1 << 1 // IORING_SQ_CQ_OVERFLOW
	sqTaskrun    uint32 = 1 << 2 // IORING_SQ_TASKRUN
)

// io_uring_enter flags.
const (
	enterGetEvents      uint32 = 1 << 0 // IORING_ENTER_GETEVENTS
	enterSQWakeup       uint32 = 1 << 1 // IORING_ENTER_SQ_WAKEUP (NOT 1: that is GETEVENTS)
	enterSQWait         uint32 = 1 << 2 // IORING_ENTER_SQ_WAIT
	enterExtArg         uint32 = 1 << 3 // IORING_ENTER_EXT_ARG
	enterRegisteredRing uint32 = 1 << 4 // IORING_ENTER_REGISTERED_RING
)

// mmap offsets.
const (
	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000
)

// io_uring_register opcodes.
const (
	regBuffers         = 0
	unregBuffers       = 1
	regFiles           = 2
	unregFiles         = 3
	regProbe           = 8
	regFiles2          = 13
	regRingFDs         = 20
	unregRingFDs       = 21
	regPbufRing        = 22
	unregPbufRing      = 23
	rsrcRegSparse      = 1 << 0 // IORING_RSRC_REGISTER_SPARSE
	ioUringOpSupported = 1 << 0 // IO_URING_OP_SUPPORTED
)

// SQE flags (IOSQE_*), for SQE.SetFlags.
const (
	FlagFixedFile      uint8 = 1 << 0 // fd is an index into the registered file table
	FlagIODrain        uint8 = 1 << 1 // issue after all earlier requests complete
	FlagIOLink         uint8 = 1 << 2 // next SQE starts after this one succeeds
	FlagIOHardlink     uint8 = 1 << 3 // like IOLink, but the chain survives a failure
	FlagAsync          uint8 = 1 << 4 // always punt to io-wq
	FlagBufferSelect   uint8 = 1 << 5 // pick a buffer from sqe.buf_group
	FlagCQESkipSuccess uint8 = 1 << 6 // no CQE when the request succeeds
)

// CQE flags.
const (
	CQEFBuffer       uint32 = 1 << 0 // upper 16 bits of flags carry the buffer id
	CQEFMore         uint32 = 1 << 1 // multishot request is still armed
	CQEFSockNonempty uint32 = 1 << 2 // more data to read after this recv
	CQEFNotif        uint32 = 1 << 3 // zero-copy send notification
	cqeBufferShift          = 16
)

// Opcodes (enum io_uring_op).
const (
	OpNop            uint8 = 0
	OpReadv          uint8 = 1
	OpWritev         uint8 = 2
	OpFsync          uint8 = 3
	OpReadFixed      uint8 = 4
	OpWriteFixed     uint8 = 5
	OpPollAdd        uint8 = 6
	OpPollRemove     uint8 = 7
	OpSyncFileRange  uint8 = 8
	OpSendmsg        uint8 = 9
	OpRecvmsg        uint8 = 10
	OpTimeout        uint8 = 11
	OpTimeoutRemove  uint8 = 12
	OpAccept         uint8 = 13
	OpAsyncCancel    uint8 = 14
	OpLinkTimeout    uint8 = 15
	OpConnect        uint8 = 16
	OpFallocate      uint8 = 17
	OpOpenat         uint8 = 18
	OpClose          uint8 = 19
	OpFilesUpdate    uint8 = 20
	OpStatx          uint8 = 21
	OpRead           uint8 = 22
	OpWrite          uint8 = 23
	OpFadvise        uint8 = 24
	OpMadvise        uint8 = 25
	OpSend           uint8 = 26
	OpRecv           uint8 = 27
	OpOpenat2        uint8 = 28
	OpEpollCtl       uint8 = 29
	OpSplice         uint8 = 30
	OpProvideBuffers uint8 = 31
	OpRemoveBuffers  uint8 = 32
	OpTee            uint8 = 33
	OpShutdown       uint8 = 34
	OpRenameat       uint8 = 35
	OpUnlinkat       uint8 = 36
	OpMkdirat        uint8 = 37
	OpSymlinkat      uint8 = 38
	OpLinkat         uint8 = 39
	OpMsgRing        uint8 = 40
	OpFsetxattr      uint8 = 41
	OpSetxattr       uint8 = 42
	OpFgetxattr      uint8 = 43
	OpGetxattr       uint8 = 44
	OpSocket         uint8 = 45
	OpUringCmd       uint8 = 46
	OpSendZC         uint8 = 47
	OpSendmsgZC      uint8 = 48
	OpReadMultishot  uint8 = 49
	OpWaitid         uint8 = 50
	OpFutexWait      uint8 = 51
	OpFutexWake      uint8 = 52
	OpFutexWaitv     uint8 = 53
	OpFixedFdInstall uint8 = 54
	OpFtruncate      uint8 = 55
	OpBind           uint8 = 56
	OpListen         uint8 = 57
	OpRecvZC         uint8 = 58
	OpEpollWait      uint8 = 59
	OpReadvFixed     uint8 = 60
	OpWritevFixed    uint8 = 61
	OpPipe           uint8 = 62
)

// Per-opcode flag values.
const (
	acceptMultishot   uint16 = 1 << 0 // IORING_ACCEPT_MULTISHOT, in sqe.ioprio
	recvsendPollFirst uint16 = 1 << 0 // IORING_RECVSEND_POLL_FIRST, in sqe.ioprio
	recvMultishot     uint16 = 1 << 1 // IORING_RECV_MULTISHOT, in sqe.ioprio
	recvsendFixedBuf  uint16 = 1 << 2 // IORING_RECVSEND_FIXED_BUF, in sqe.ioprio
	pollAddMulti      uint32 = 1 << 0 // IORING_POLL_ADD_MULTI, in sqe.len

	// TimeoutAbs etc. are IORING_TIMEOUT_* values for Timeout.Flags.
	TimeoutAbs          uint32 = 1 << 0
	TimeoutBoottime     uint32 = 1 << 2
	TimeoutRealtime     uint32 = 1 << 3
	TimeoutETimeSuccess uint32 = 1 << 5
	TimeoutMultishot    uint32 = 1 << 6

	// FileIndexAlloc asks OpenAt/Accept to pick a free fixed-file slot
	// (IORING_FILE_INDEX_ALLOC); the slot number comes back in CQE.Res.
	FileIndexAlloc uint32 = ^uint32(0)
)

// sqringOffsets is struct io_sqring_offsets.
type sqringOffsets struct {
	Head, Tail, RingMask, RingEntries, Flags, Dropped, Array, Resv1 uint32
	UserAddr                                                        uint64
}

// cqringOffsets is struct io_cqring_offsets.
type cqringOffsets struct {
	Head, Tail, RingMask, RingEntries, Overflow, CQEs, Flags, Resv1 uint32
	UserAddr                                                        uint64
}

// params is struct io_uring_params (120 bytes).
type params struct {
	SQEntries    uint32
	CQEntries    uint32
	Flags        uint32
	SQThreadCPU  uint32
	SQThreadIdle uint32
	Features     uint32
	WQFd         uint32
	Resv         [3]uint32
	SQOff        sqringOffsets
	CQOff        cqringOffsets
}

// rsrcRegister is struct io_uring_rsrc_register.
type rsrcRegister struct {
	Nr    uint32
	Flags uint32
	Resv2 uint64
	Data  uint64
	Tags  uint64
}

// rsrcUpdate is struct io_uring_rsrc_update.
type rsrcUpdate struct {
	Offset uint32
	Resv   uint32
	Data   uint64
}

// probeHdr is struct io_uring_probe without the flexible ops array.
type probeHdr struct {
	LastOp uint8
	OpsLen uint8
	Resv   uint16
	Resv2  [3]uint32
}

// probeOp is struct io_uring_probe_op.
type probeOp struct {
	Op    uint8
	Resv  uint8
	Flags uint16
	Resv2 uint32
}

// bufReg is struct io_uring_buf_reg.
type bufReg struct {
	RingAddr    uint64
	RingEntries uint32
	Bgid        uint16
	Flags       uint16
	Resv        [3]uint64
}

// bufEntry is struct io_uring_buf. In a provided-buffer ring, the ring's
// 16-bit tail overlays bufs[0].resv (byte offset 14).
type bufEntry struct {
	Addr uint64
	Len  uint32
	Bid  uint16
	Resv uint16
}

// geteventsArg is struct io_uring_getevents_arg (IORING_ENTER_EXT_ARG).
type geteventsArg struct {
	Sigmask   uint64
	SigmaskSz uint32
	MinWaitUs uint32 // "pad" before 6.12
	Ts        uint64
}

// kernelTimespec is struct __kernel_timespec.
type kernelTimespec struct {
	Sec  int64
	Nsec int64
}

const (
	sizeofSQE    = unsafe.Sizeof(SQE{})
	sizeofCQE    = unsafe.Sizeof(CQE{})
	sizeofParams = unsafe.Sizeof(params{})
)

// littleEndian is true on little-endian machines; BufRing needs it to place
// its 16-bit tail inside a 32-bit word.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()
