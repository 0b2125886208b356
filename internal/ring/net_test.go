package ring

import (
	"bytes"
	"errors"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func loopbackListener(t *testing.T) (fd int, port int) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 64); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, sa.(*unix.SockaddrInet4).Port
}

func TestMultishotAccept(t *testing.T) {
	r := newTestRing(t, Params{Entries: 16}, "io_uring")
	lfd, port := loopbackListener(t)
	const acceptUD = 1000
	queue(t, r, Accept{FD: int32(lfd), Flags: unix.SOCK_CLOEXEC, Multishot: true}, acceptUD)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}

	const conns = 5
	for i := 0; i < conns; i++ {
		c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = unix.Close(c) })
		if err := unix.Connect(c, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port}); err != nil {
			t.Fatal(err)
		}
	}
	got := waitReap(t, r, conns)
	for _, c := range got {
		if c.UserData != acceptUD || c.Res < 0 {
			t.Fatalf("accept CQE %+v: %v", c, c.Err())
		}
		if !c.More() {
			if c.Res == -int32(unix.EINVAL) {
				t.Skip("kernel lacks multishot accept (5.19+)")
			}
			t.Errorf("accept CQE %+v without IORING_CQE_F_MORE", c)
		}
		if _, err := unix.Getpeername(int(c.Res)); err != nil {
			t.Errorf("accepted fd %d: %v", c.Res, err)
		}
		_ = unix.Close(int(c.Res))
	}

	// Cancel the multishot accept: the cancel succeeds and the accept posts
	// a final -ECANCELED without F_MORE.
	queue(t, r, Cancel{UserData: acceptUD}, 2000)
	for _, c := range submitAndReap(t, r, 2) {
		switch c.UserData {
		case 2000:
			if c.Res != 0 {
				t.Errorf("cancel res %d", c.Res)
			}
		case acceptUD:
			if c.Res != -int32(unix.ECANCELED) || c.More() {
				t.Errorf("final accept CQE %+v", c)
			}
		}
	}
}

func TestMultishotRecvBufRing(t *testing.T) {
	r := newTestRing(t, Params{Entries: 16}, "io_uring")
	const group, nbuf, bufSize = 7, 4, 64
	br, err := r.NewBufRing(group, nbuf, bufSize)
	if err != nil {
		if errors.Is(err, ErrNotSupported) {
			t.Skipf("kernel lacks provided buffer rings (IORING_REGISTER_PBUF_RING, 5.19+): %v", err)
		}
		t.Fatal(err)
	}
	var sp [2]int
	sp, err = unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(sp[0]); _ = unix.Close(sp[1]) })

	const recvUD = 77
	arms := 0
	arm := func() {
		queue(t, r, Recv{FD: int32(sp[0]), Multishot: true, BufferSelect: true, BufGroup: group}, recvUD)
		if _, err := r.Submit(); err != nil {
			t.Fatal(err)
		}
		arms++
	}
	arm()

	var sent, recvd []byte
	uses := make(map[uint16]int)
	multishotCQEs := 0
	enobufs := 0
	// handle processes ready CQEs. It recycles buffers at once if recycle,
	// else returns them; rearm reports that the multishot recv ended.
	handle := func(cqes []CQE, recycle bool) (held []uint16, rearm bool) {
		for _, c := range cqes {
			if c.UserData != recvUD {
				t.Fatalf("unexpected CQE %+v", c)
			}
			if c.Res == -int32(unix.EINVAL) && arms == 1 && len(recvd) == 0 {
				t.Skip("kernel lacks multishot recv (6.0+)")
			}
			if c.Res < 0 {
				if c.Res != -int32(unix.ENOBUFS) {
					t.Fatalf("recv CQE %+v: %v", c, c.Err())
				}
				enobufs++
			}
			if data, id, ok := br.Data(c); ok && c.Res > 0 {
				recvd = append(recvd, data...)
				uses[id]++
				if recycle {
					br.Recycle(id)
				} else {
					held = append(held, id)
				}
			} else if c.Res > 0 {
				t.Fatalf("recv CQE %+v carries no buffer", c)
			}
			if c.More() {
				multishotCQEs++
			} else {
				// Terminated (e.g. -ENOBUFS): re-arm once buffers are back.
				rearm = true
			}
		}
		return held, rearm
	}
	cqes := make([]CQE, 16)

	// Phase 1: one message at a time, each recycled at once: 40 messages
	// through 4 buffers.
	for i := 0; i < 40; i++ {
		msg := pattern(50, byte(i))
		sent = append(sent, msg...)
		if _, err := unix.Write(sp[1], msg); err != nil {
			t.Fatal(err)
		}
		for len(recvd) < len(sent) {
			if err := r.WaitCQE(1); err != nil {
				t.Fatal(err)
			}
			_, rearm := handle(cqes[:r.Reap(cqes)], true)
			br.Advance()
			if rearm {
				arm()
			}
		}
	}
	if !bytes.Equal(recvd, sent) {
		t.Fatal("phase 1: received stream differs from sent stream")
	}
	if multishotCQEs < 40 {
		t.Errorf("only %d CQEs with F_MORE for 40 messages", multishotCQEs)
	}

	// Phase 2: a burst bigger than all buffers together, buffers held back:
	// the kernel runs out (-ENOBUFS ends the multishot), we recycle, re-arm
	// and get the rest.
	burst := pattern(nbuf*bufSize*3, 0xee)
	sent = append(sent, burst...)
	if _, err := unix.Write(sp[1], burst); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(recvd) < len(sent) {
		if time.Now().After(deadline) {
			t.Fatalf("phase 2: %d of %d bytes; stats %+v", len(recvd), len(sent), r.Stats())
		}
		if err := r.WaitCQE(1); err != nil {
			t.Fatal(err)
		}
		held, rearm := handle(cqes[:r.Reap(cqes)], false)
		for _, id := range held {
			br.Recycle(id)
		}
		br.Advance()
		if rearm {
			arm()
		}
	}
	if !bytes.Equal(recvd, sent) {
		t.Fatal("phase 2: received stream differs from sent stream")
	}
	if enobufs == 0 || arms < 2 {
		t.Errorf("expected the burst to exhaust the buffers and force a re-arm (enobufs %d, arms %d)", enobufs, arms)
	}
	for id := uint16(0); id < nbuf; id++ {
		if uses[id] < 5 {
			t.Errorf("buffer %d used %d times: buffers were not recycled", id, uses[id])
		}
	}
	t.Logf("buffer uses %v, arms %d, enobufs %d, stats %+v", uses, arms, enobufs, r.Stats())
}

// The buffer ring tail is the u16 at byte offset 14 of the ring, sharing
// a word with bufs[0].bid. Advance must set it without disturbing bid.
func TestBufRingTailWord(t *testing.T) {
	r := newTestRing(t, Params{Entries: 4}, "io_uring")
	br, err := r.NewBufRing(3, 8, 128)
	if err != nil {
		if errors.Is(err, ErrNotSupported) {
			t.Skipf("kernel lacks provided buffer rings (5.19+): %v", err)
		}
		t.Fatal(err)
	}
	tail := (*uint16)(unsafe.Add(unsafe.Pointer(&br.ringMem[0]), 14))
	if *tail != 8 || br.bufs[0].Bid != 0 {
		t.Fatalf("after setup tail %d bid0 %d, want 8/0", *tail, br.bufs[0].Bid)
	}
	// Nothing consumes here; this only checks the layout. Wrap around: slot
	// 0 gets buffer 5.
	for i := 0; i < 8; i++ {
		br.Recycle(uint16((i + 5) % 8))
	}
	br.Advance()
	if *tail != 16 || br.bufs[0].Bid != 5 {
		t.Fatalf("after wrap tail %d bid0 %d, want 16/5", *tail, br.bufs[0].Bid)
	}
	if atomic.LoadUint32(br.tailWord)>>16 != 16 && littleEndian {
		t.Fatal("tail word layout")
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	if len(r.bufRings) != 0 {
		t.Fatal("closed BufRing still tracked by the ring")
	}
}

func TestSendAndPollAdd(t *testing.T) {
	r := newTestRing(t, Params{Entries: 8}, "io_uring")
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(sp[0]); _ = unix.Close(sp[1]) })
	a := newArena(t, 2, 256)
	msg := pattern(100, 3)
	copy(a.Slot(0), msg)

	queue(t, r, PollAdd{FD: int32(sp[0]), Events: unix.POLLIN}, 1)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	if n := r.CQReady(); n != 0 {
		t.Fatalf("poll completed before any data: %d CQEs", n)
	}
	queue(t, r, Send{FD: int32(sp[1]), Buf: a.Ptr(0), Len: uint32(len(msg))}, 2)
	for _, c := range submitAndReap(t, r, 2) {
		switch c.UserData {
		case 1:
			if c.Res < 0 || c.Res&unix.POLLIN == 0 {
				t.Errorf("poll CQE %+v", c)
			}
		case 2:
			if c.Res != int32(len(msg)) {
				t.Errorf("send CQE %+v: %v", c, c.Err())
			}
		}
	}
	Recv{FD: int32(sp[0]), Buf: a.Ptr(1), Len: 256}.Prep(getSQE(t, r))
	c := submitAndReap(t, r, 1)[0]
	if c.Res != int32(len(msg)) || !bytes.Equal(a.Slot(1)[:len(msg)], msg) {
		t.Fatalf("recv CQE %+v, data equal %v", c, bytes.Equal(a.Slot(1)[:len(msg)], msg))
	}
}
