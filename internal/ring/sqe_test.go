package ring

import (
	"bytes"
	"errors"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Tests of the builders added for the servers (Connect, Shutdown,
// FilesUpdate, Cancel by fd / any / all), of user data packing, and of
// CancelAndDrain, each against a real ring and real sockets.

func socketPair(t *testing.T) [2]int {
	t.Helper()
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(sp[0]); _ = unix.Close(sp[1]) })
	return [2]int{sp[0], sp[1]}
}

// byUD submits, waits for n CQEs and returns them by user data.
func byUD(t *testing.T, r *Ring, n int) map[uint64]CQE {
	t.Helper()
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	out := map[uint64]CQE{}
	for _, c := range reapN(t, r, n, 5*time.Second) {
		if _, dup := out[c.UserData]; dup {
			t.Fatalf("two CQEs with user data %#x", c.UserData)
		}
		out[c.UserData] = c
	}
	return out
}

// sparseTable registers a sparse fixed-file table or skips.
func sparseTable(t *testing.T, r *Ring, n uint32) {
	t.Helper()
	if err := r.RegisterFilesSparse(n); err != nil {
		if errors.Is(err, unix.EINVAL) {
			t.Skipf("kernel lacks sparse file tables (5.19+): %v", err)
		}
		t.Fatal(err)
	}
}

// sockaddr4 writes a struct sockaddr_in for 127.0.0.1:port at p.
func sockaddr4(p unsafe.Pointer, port int) uint32 {
	b := unsafe.Slice((*byte)(p), unix.SizeofSockaddrInet4)
	clear(b)
	*(*uint16)(p) = unix.AF_INET
	b[2], b[3] = byte(port>>8), byte(port)
	copy(b[4:8], []byte{127, 0, 0, 1})
	return unix.SizeofSockaddrInet4
}

func TestConnectPlainAndFixed(t *testing.T) {
	r := newTestRing(t, Params{Entries: 8}, "io_uring")
	lfd, port := loopbackListener(t)
	a := newArena(t, 2, 64)
	addrLen := sockaddr4(a.Ptr(0), port)
	sparseTable(t, r, 4)

	plain, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(plain) })
	fixedRaw, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Install the second socket in slot 2, then connect both.
	slots := (*[1]int32)(a.Ptr(1))
	slots[0] = int32(fixedRaw)
	FilesUpdate{FDs: &slots[0], N: 1, Offset: 2}.Prep(getSQE(t, r))
	got := byUD(t, r, 1)
	_ = unix.Close(fixedRaw) // the table holds its own reference
	if c := got[0]; c.Res != 1 {
		t.Fatalf("FILES_UPDATE res %d (%v)", c.Res, c.Err())
	}

	queue(t, r, Connect{FD: int32(plain), Addr: a.Ptr(0), AddrLen: addrLen}, 1)
	queue(t, r, Connect{FD: 2, Fixed: true, Addr: a.Ptr(0), AddrLen: addrLen}, 2)
	for ud, c := range byUD(t, r, 2) {
		if c.Res != 0 {
			t.Errorf("connect %d: res %d (%v)", ud, c.Res, c.Err())
		}
	}
	for i := 0; i < 2; i++ {
		nfd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
		if err != nil {
			t.Fatalf("accept %d: %v", i, err)
		}
		_ = unix.Close(nfd)
	}
	if sa, err := unix.Getpeername(plain); err != nil || sa.(*unix.SockaddrInet4).Port != port {
		t.Errorf("plain socket peer %v, %v; want port %d", sa, err, port)
	}

	// A refused connection reports the errno.
	_ = unix.Close(lfd)
	refused, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(refused) })
	Connect{FD: int32(refused), Addr: a.Ptr(0), AddrLen: addrLen}.Prep(getSQE(t, r))
	if c := byUD(t, r, 1)[0]; c.Res != -int32(unix.ECONNREFUSED) {
		t.Errorf("connect to a closed port: res %d, want -ECONNREFUSED", c.Res)
	}
}

func TestShutdownEndsPendingRecv(t *testing.T) {
	r := newTestRing(t, Params{Entries: 8}, "io_uring")
	a := newArena(t, 2, 64)
	for _, fixed := range []bool{false, true} {
		sp := socketPair(t)
		fd := int32(sp[0])
		if fixed {
			if err := r.RegisterFiles([]int32{int32(sp[0])}); err != nil {
				t.Fatal(err)
			}
			fd = 0
		}
		queue(t, r, Recv{FD: fd, Fixed: fixed, Buf: a.Ptr(0), Len: 64}, 1)
		if _, err := r.Submit(); err != nil {
			t.Fatal(err)
		}
		if r.CQReady() != 0 {
			t.Fatal("recv completed with no data sent")
		}
		queue(t, r, Shutdown{FD: fd, Fixed: fixed, How: unix.SHUT_RDWR}, 2)
		got := byUD(t, r, 2)
		if c := got[2]; c.Res != 0 {
			t.Errorf("fixed=%v: shutdown res %d (%v)", fixed, c.Res, c.Err())
		}
		if c := got[1]; c.Res != 0 {
			t.Errorf("fixed=%v: recv after shutdown res %d, want 0 (EOF)", fixed, c.Res)
		}
		// The peer sees end of file too.
		if n, err := unix.Read(sp[1], a.Slot(1)); n != 0 || err != nil {
			t.Errorf("fixed=%v: peer read %d, %v; want EOF", fixed, n, err)
		}
		if fixed {
			if err := r.UnregisterFiles(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestFilesUpdateSparseTable(t *testing.T) {
	r := newTestRing(t, Params{Entries: 8}, "io_uring")
	sparseTable(t, r, 8)
	a := newArena(t, 3, 64)
	sp1, sp2 := socketPair(t), socketPair(t)
	fds := unsafe.Slice((*int32)(a.Ptr(0)), 2)
	fds[0], fds[1] = int32(sp1[0]), int32(sp2[0])

	// Explicit slots 3 and 4.
	FilesUpdate{FDs: &fds[0], N: 2, Offset: 3}.Prep(getSQE(t, r))
	if c := byUD(t, r, 1)[0]; c.Res != 2 {
		t.Fatalf("FILES_UPDATE at 3: res %d (%v)", c.Res, c.Err())
	}
	// Kernel-picked slot, written back over the descriptor.
	alloc := (*int32)(a.Ptr(1))
	*alloc = int32(sp1[0])
	FilesUpdate{FDs: alloc, N: 1, Offset: FileIndexAlloc}.Prep(getSQE(t, r))
	if c := byUD(t, r, 1)[0]; c.Res != 1 {
		t.Fatalf("FILES_UPDATE alloc: res %d (%v)", c.Res, c.Err())
	}
	slot := *alloc
	if slot < 0 || slot >= 8 || slot == 3 || slot == 4 {
		t.Fatalf("allocated slot %d (3 and 4 are taken)", slot)
	}

	// Each slot sends on the socket it was given.
	msg := []byte("via slot")
	copy(a.Slot(2), msg)
	for i, sl := range []int32{3, 4, slot} {
		queue(t, r, Send{FD: sl, Fixed: true, Buf: a.Ptr(2), Len: uint32(len(msg))}, uint64(i))
	}
	for ud, c := range byUD(t, r, 3) {
		if c.Res != int32(len(msg)) {
			t.Errorf("send %d: res %d (%v)", ud, c.Res, c.Err())
		}
	}
	buf := make([]byte, 64)
	for _, want := range []struct {
		fd, n int
	}{{sp1[1], 2 * len(msg)}, {sp2[1], len(msg)}} {
		n, err := unix.Read(want.fd, buf)
		if err != nil || n != want.n {
			t.Errorf("peer read %d, %v; want %d", n, err, want.n)
		}
	}

	// -1 clears a slot: it then names no file.
	*alloc = -1
	FilesUpdate{FDs: alloc, N: 1, Offset: 3}.Prep(getSQE(t, r))
	if c := byUD(t, r, 1)[0]; c.Res != 1 {
		t.Fatalf("FILES_UPDATE clear: res %d (%v)", c.Res, c.Err())
	}
	Send{FD: 3, Fixed: true, Buf: a.Ptr(2), Len: 1}.Prep(getSQE(t, r))
	if c := byUD(t, r, 1)[0]; c.Res != -int32(unix.EBADF) {
		t.Errorf("send on a cleared slot: res %d, want -EBADF", c.Res)
	}
}

func TestCancelPendingRecvs(t *testing.T) {
	r := newTestRing(t, Params{Entries: 16}, "io_uring")
	a := newArena(t, 6, 64)
	sp1, sp2, sp3 := socketPair(t), socketPair(t), socketPair(t)
	if err := r.RegisterFiles([]int32{int32(sp3[0])}); err != nil {
		t.Fatal(err)
	}
	recv := func(ud uint64, fd int32, fixed bool) {
		queue(t, r, Recv{FD: fd, Fixed: fixed, Buf: a.Ptr(int(ud - 1)), Len: 64}, ud)
	}
	// 1: alone on sp1; 2, 3: both on sp2; 4: on fixed slot 0 (sp3); 5: sp1 again.
	recv(1, int32(sp1[0]), false)
	recv(2, int32(sp2[0]), false)
	recv(3, int32(sp2[0]), false)
	recv(4, 0, true)
	recv(5, int32(sp1[0]), false)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	expect := func(step string, got map[uint64]CQE, cancelUD uint64, cancelRes int32, cancelled ...uint64) {
		t.Helper()
		if c := got[cancelUD]; c.Res != cancelRes {
			t.Errorf("%s: cancel res %d (%v), want %d", step, c.Res, c.Err(), cancelRes)
		}
		for _, ud := range cancelled {
			if c, ok := got[ud]; !ok || c.Res != -int32(unix.ECANCELED) {
				t.Errorf("%s: recv %d: %+v, want -ECANCELED", step, ud, c)
			}
		}
	}

	// By user data: just that one.
	queue(t, r, Cancel{UserData: 1}, 100)
	expect("by user data", byUD(t, r, 2), 100, 0, 1)

	// By fd, all of them: both recvs on sp2.
	queue(t, r, Cancel{FD: int32(sp2[0]), Flags: CancelFD | CancelAll}, 101)
	expect("by fd", byUD(t, r, 3), 101, 2, 2, 3)

	// By registered slot.
	queue(t, r, Cancel{FD: 0, Flags: CancelFD | CancelFDFixed}, 102)
	expect("by fixed slot", byUD(t, r, 2), 102, 0, 4)

	// Nothing left on sp2: -ENOENT.
	queue(t, r, Cancel{FD: int32(sp2[0]), Flags: CancelFD}, 103)
	expect("nothing to cancel", byUD(t, r, 1), 103, -int32(unix.ENOENT))

	// Any, all: whatever is left (recv 5).
	queue(t, r, Cancel{Flags: CancelAny | CancelAll}, 104)
	expect("any, all", byUD(t, r, 2), 104, 1, 5)

	// The sockets still work: nothing else was cancelled by mistake.
	copy(a.Slot(5), "x")
	if _, err := unix.Write(sp1[1], []byte("x")); err != nil {
		t.Fatal(err)
	}
	recv(6, int32(sp1[0]), false)
	if c := byUD(t, r, 1)[6]; c.Res != 1 || !bytes.Equal(a.Slot(5)[:1], []byte("x")) {
		t.Errorf("recv after the cancels: %+v", c)
	}
}

func TestPackUD(t *testing.T) {
	for _, tc := range []struct {
		kind    uint8
		gen, id uint32
	}{{0, 0, 0}, {1, 0, 7}, {255, 1<<24 - 1, ^uint32(0)}, {8, 12345, 1 << 31}} {
		u := PackUD(tc.kind, tc.gen, tc.id)
		k, g, i := UnpackUD(u)
		if k != tc.kind || g != tc.gen || i != tc.id {
			t.Errorf("PackUD(%d, %d, %d) = %#x unpacks to %d, %d, %d", tc.kind, tc.gen, tc.id, u, k, g, i)
		}
	}
	// The layout the engines relied on before: kind<<56 | id.
	if got := PackUD(3, 0, 42); got != 3<<56|42 {
		t.Errorf("PackUD(3, 0, 42) = %#x", got)
	}
	// Generations wrap at 24 bits instead of spilling into the kind.
	if k, g, _ := UnpackUD(PackUD(1, 1<<24|5, 0)); k != 1 || g != 5 {
		t.Errorf("generation overflow: kind %d gen %d", k, g)
	}
}

func TestCancelAndDrain(t *testing.T) {
	for _, p := range []struct {
		name string
		p    Params
	}{{"plain", Params{Entries: 8}}, {"sqpoll", Params{Entries: 8, SQPoll: true, SQThreadCPU: -1}}} {
		t.Run(p.name, func(t *testing.T) {
			r := newTestRing(t, p.p, p.name)
			a := newArena(t, 12, 64)
			sp := socketPair(t)
			inflight := 0
			// More requests than the SQ holds: some are reaped while queueing.
			for i := 0; i < 12; i++ {
				s := getSQE(t, r)
				if i%4 == 3 {
					PollAdd{FD: int32(sp[0]), Events: unix.POLLIN, Multishot: true}.Prep(s)
				} else {
					Recv{FD: int32(sp[0]), Buf: a.Ptr(i), Len: 64}.Prep(s)
				}
				s.SetUserData(uint64(i))
				inflight++
				if r.SQSpace() == 0 {
					if _, err := r.Submit(); err != nil {
						t.Fatal(err)
					}
				}
			}
			// One more, filled but not submitted: CancelAndDrain submits it.
			Recv{FD: int32(sp[0]), Buf: a.Ptr(0), Len: 64}.Prep(getSQE(t, r))
			inflight++
			start := time.Now()
			if err := r.CancelAndDrain(999, &inflight, make([]CQE, 4), 5*time.Second); err != nil {
				t.Fatalf("CancelAndDrain: %v (inflight %d)", err, inflight)
			}
			if inflight != 0 {
				t.Errorf("inflight %d after a drain", inflight)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("drain took %v", el)
			}
			if n := r.CQReady(); n != 0 {
				t.Errorf("%d CQEs left after the drain", n)
			}
		})
	}
}

func TestCancelAndDrainTimeout(t *testing.T) {
	r := newTestRing(t, Params{Entries: 8}, "io_uring")
	// A timer the cancel does not reach in time: a zero budget.
	ts := &unix.Timespec{Sec: 10}
	Timeout{TS: ts}.Prep(getSQE(t, r))
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	inflight := 1
	err := r.CancelAndDrain(999, &inflight, nil, 0)
	if !errors.Is(err, ErrDrainTimeout) {
		t.Fatalf("CancelAndDrain with no time: %v, want ErrDrainTimeout", err)
	}
	// Given time, the same drain completes.
	if err := r.CancelAndDrain(998, &inflight, nil, 5*time.Second); err != nil || inflight != 0 {
		t.Fatalf("second drain: %v, inflight %d", err, inflight)
	}
}
