package ring

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Expected values are from include/uapi/linux/io_uring.h (struct
// io_uring_sqe, io_uring_cqe, io_uring_params, io_sqring_offsets, ...).
func TestABILayout(t *testing.T) {
	var s SQE
	var p params
	var kp kernelTimespec
	checks := []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof(io_uring_sqe)", unsafe.Sizeof(s), 64},
		{"sizeof(io_uring_cqe)", unsafe.Sizeof(CQE{}), 16},
		{"sizeof(io_uring_params)", unsafe.Sizeof(p), 120},
		{"sizeof(io_sqring_offsets)", unsafe.Sizeof(sqringOffsets{}), 40},
		{"sizeof(io_cqring_offsets)", unsafe.Sizeof(cqringOffsets{}), 40},
		{"sizeof(io_uring_rsrc_register)", unsafe.Sizeof(rsrcRegister{}), 32},
		{"sizeof(io_uring_rsrc_update)", unsafe.Sizeof(rsrcUpdate{}), 16},
		{"sizeof(io_uring_probe)", unsafe.Sizeof(probeHdr{}), 16},
		{"sizeof(io_uring_probe_op)", unsafe.Sizeof(probeOp{}), 8},
		{"sizeof(io_uring_buf)", unsafe.Sizeof(bufEntry{}), 16},
		{"sizeof(io_uring_buf_reg)", unsafe.Sizeof(bufReg{}), 40},
		{"sizeof(io_uring_getevents_arg)", unsafe.Sizeof(geteventsArg{}), 24},
		{"sizeof(__kernel_timespec)", unsafe.Sizeof(kp), 16},
		{"sizeof(unix.Timespec) (Timeout.TS)", unsafe.Sizeof(unix.Timespec{}), 16},

		{"sqe.opcode", unsafe.Offsetof(s.Opcode), 0},
		{"sqe.flags", unsafe.Offsetof(s.Flags), 1},
		{"sqe.ioprio", unsafe.Offsetof(s.IoPrio), 2},
		{"sqe.fd", unsafe.Offsetof(s.Fd), 4},
		{"sqe.off", unsafe.Offsetof(s.Off), 8},
		{"sqe.addr", unsafe.Offsetof(s.Addr), 16},
		{"sqe.len", unsafe.Offsetof(s.Len), 24},
		{"sqe.rw_flags", unsafe.Offsetof(s.OpFlags), 28},
		{"sqe.user_data", unsafe.Offsetof(s.UserData), 32},
		{"sqe.buf_index", unsafe.Offsetof(s.BufIndex), 40},
		{"sqe.personality", unsafe.Offsetof(s.Personality), 42},
		{"sqe.file_index", unsafe.Offsetof(s.FileIndex), 44},
		{"sqe.addr3", unsafe.Offsetof(s.Addr3), 48},

		{"cqe.res", unsafe.Offsetof(CQE{}.Res), 8},
		{"cqe.flags", unsafe.Offsetof(CQE{}.Flags), 12},

		{"params.sq_thread_idle", unsafe.Offsetof(p.SQThreadIdle), 16},
		{"params.features", unsafe.Offsetof(p.Features), 20},
		{"params.wq_fd", unsafe.Offsetof(p.WQFd), 24},
		{"params.sq_off", unsafe.Offsetof(p.SQOff), 40},
		{"params.cq_off", unsafe.Offsetof(p.CQOff), 80},
		{"sq_off.array", unsafe.Offsetof(p.SQOff.Array), 24},
		{"cq_off.cqes", unsafe.Offsetof(p.CQOff.CQEs), 20},
		{"cq_off.flags", unsafe.Offsetof(p.CQOff.Flags), 24},

		{"io_uring_buf.bid", unsafe.Offsetof(bufEntry{}.Bid), 12},
		{"io_uring_buf_ring.tail (= bufs[0].resv)", unsafe.Offsetof(bufEntry{}.Resv), 14},
		{"io_uring_buf_reg.bgid", unsafe.Offsetof(bufReg{}.Bgid), 12},
		{"io_uring_getevents_arg.ts", unsafe.Offsetof(geteventsArg{}.Ts), 16},
		{"io_uring_rsrc_register.data", unsafe.Offsetof(rsrcRegister{}.Data), 16},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}

	consts := []struct {
		name      string
		got, want uint64
	}{
		{"IORING_ENTER_SQ_WAKEUP", uint64(enterSQWakeup), 2},
		{"IORING_ENTER_GETEVENTS", uint64(enterGetEvents), 1},
		{"IORING_SQ_NEED_WAKEUP", uint64(sqNeedWakeup), 1},
		{"IORING_SQ_CQ_OVERFLOW", uint64(sqCQOverflow), 2},
		{"IORING_SETUP_NO_SQARRAY", uint64(SetupNoSQArray), 1 << 16},
		{"IORING_SETUP_DEFER_TASKRUN", uint64(SetupDeferTaskrun), 1 << 13},
		{"IORING_OFF_SQES", offSQEs, 0x10000000},
		{"IORING_OP_READ", uint64(OpRead), 22},
		{"IORING_OP_RECV", uint64(OpRecv), 27},
		{"IORING_OP_PIPE", uint64(OpPipe), 62},
		{"IORING_REGISTER_PBUF_RING", regPbufRing, 22},
		{"IOSQE_CQE_SKIP_SUCCESS", uint64(FlagCQESkipSuccess), 64},
	}
	for _, c := range consts {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if OpcodeName(OpRead) != "READ" || OpcodeName(OpPipe) != "PIPE" || OpcodeName(200) != "OP_200" {
		t.Errorf("OpcodeName: %q %q %q", OpcodeName(OpRead), OpcodeName(OpPipe), OpcodeName(200))
	}
	if got := FeatureNames(FeatSingleMmap | FeatNoIOWait | 1<<20); len(got) != 3 || got[0] != "SINGLE_MMAP" || got[1] != "NO_IOWAIT" || got[2] != "BIT20" {
		t.Errorf("FeatureNames = %v", got)
	}
}

// The builders must put each field where the kernel reads it.
func TestBuilders(t *testing.T) {
	a := newArena(t, 1, 4096)
	buf := a.Ptr(0)
	var s SQE
	Read{FD: 3, Buf: buf, Len: 4096, Offset: 8192, Fixed: true}.Prep(&s)
	s.SetFlags(FlagIOLink)
	s.SetUserData(99)
	if s.Opcode != OpRead || s.Fd != 3 || s.Addr != uint64(uintptr(buf)) || s.Len != 4096 || s.Off != 8192 ||
		s.Flags != FlagFixedFile|FlagIOLink || s.UserData != 99 {
		t.Errorf("Read: %+v", s)
	}
	s = SQE{}
	WriteFixed{FD: 2, Buf: buf, Len: 512, Offset: 4096, BufIndex: 6, RWFlags: unix.RWF_DSYNC}.Prep(&s)
	if s.Opcode != OpWriteFixed || s.Fd != 2 || s.Addr != uint64(uintptr(buf)) || s.Len != 512 || s.Off != 4096 ||
		s.BufIndex != 6 || s.OpFlags != unix.RWF_DSYNC || s.Flags != 0 {
		t.Errorf("WriteFixed: %+v", s)
	}
	s = SQE{}
	Recv{FD: 5, Multishot: true, BufferSelect: true, BufGroup: 7}.Prep(&s)
	if s.Opcode != OpRecv || s.IoPrio != recvMultishot || s.Flags != FlagBufferSelect || s.BufIndex != 7 {
		t.Errorf("Recv: %+v", s)
	}
	s = SQE{}
	Accept{FD: 4, Multishot: true, Flags: unix.SOCK_CLOEXEC}.Prep(&s)
	if s.Opcode != OpAccept || s.IoPrio != acceptMultishot || s.OpFlags != unix.SOCK_CLOEXEC {
		t.Errorf("Accept: %+v", s)
	}
	s = SQE{}
	Close{FD: 9, FileIndex: 3}.Prep(&s)
	if s.Opcode != OpClose || s.Fd != 0 || s.FileIndex != 3 {
		t.Errorf("Close direct: %+v", s)
	}
	c := CQE{Flags: CQEFBuffer | CQEFMore | 5<<16, Res: -int32(unix.ENOBUFS)}
	if id, ok := c.BufferID(); !ok || id != 5 || !c.More() || c.Err() != unix.ENOBUFS {
		t.Errorf("CQE helpers: %d %v %v %v", id, ok, c.More(), c.Err())
	}
}
