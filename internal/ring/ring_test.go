package ring

import (
	"bytes"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestSetupDefaults(t *testing.T) {
	r := newTestRing(t, Params{Entries: 64}, "io_uring")
	if r.SQEntries() != 64 || r.CQEntries() != 128 {
		t.Errorf("entries: sq %d cq %d, want 64/128", r.SQEntries(), r.CQEntries())
	}
	if r.Fd() < 0 {
		t.Errorf("fd %d", r.Fd())
	}
	if r.SetupFlags() != 0 {
		t.Errorf("setup flags %#x, want 0", r.SetupFlags())
	}
	for _, f := range []uint32{FeatSingleMmap, FeatNoDrop} {
		if r.Features()&f == 0 {
			t.Errorf("feature %v missing from %v", FeatureNames(f), FeatureNames(r.Features()))
		}
	}
	t.Logf("features %#x %v", r.Features(), FeatureNames(r.Features()))

	r2 := newTestRing(t, Params{Entries: 8, CQEntries: 64}, "CQSIZE")
	if r2.CQEntries() != 64 || r2.SetupFlags()&SetupCQSize == 0 {
		t.Errorf("CQSIZE: cq %d flags %v", r2.CQEntries(), SetupFlagNames(r2.SetupFlags()))
	}
	if err := r2.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := r2.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Every configuration the backends use must carry plain NOPs through.
func TestNopAllConfigs(t *testing.T) {
	configs := []struct {
		name     string
		p        Params
		need     string
		flag     uint32
		register bool
	}{
		{"plain", Params{}, "io_uring", 0, false},
		{"no_sqarray", Params{NoSQArray: true, NoFallback: true}, "IORING_SETUP_NO_SQARRAY (6.6+)", SetupNoSQArray, false},
		{"coop_taskrun", Params{CoopTaskrun: true, NoFallback: true}, "IORING_SETUP_COOP_TASKRUN (5.19+)", SetupCoopTaskrun | SetupTaskrunFlag, false},
		{"single_issuer", Params{SingleIssuer: true, NoFallback: true}, "IORING_SETUP_SINGLE_ISSUER (6.0+)", SetupSingleIssuer, false},
		{"defer_taskrun", Params{DeferTaskrun: true, NoFallback: true}, "IORING_SETUP_DEFER_TASKRUN (6.1+)", SetupDeferTaskrun | SetupSingleIssuer, false},
		{"defer_nosqarray", Params{DeferTaskrun: true, NoSQArray: true, NoFallback: true}, "DEFER_TASKRUN|NO_SQARRAY", SetupDeferTaskrun | SetupNoSQArray, false},
		{"sqpoll", Params{SQPoll: true, SQThreadCPU: -1, NoFallback: true}, "IORING_SETUP_SQPOLL", SetupSQPoll, false},
		{"registered_ring", Params{}, "IORING_REGISTER_RING_FDS (5.18+)", 0, true},
	}
	for _, c := range configs {
		t.Run(c.name, func(t *testing.T) {
			// Single-issuer rings and registered ring fds belong to a thread.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			p := c.p
			p.Entries = 16
			r, err := New(p)
			if err != nil {
				if errors.Is(err, ErrNotSupported) {
					t.Skipf("kernel lacks %s: %v", c.need, err)
				}
				t.Fatal(err)
			}
			defer r.Close() // before UnlockOSThread (defers run LIFO)
			if r.SetupFlags()&c.flag != c.flag {
				t.Fatalf("flags %v, want %v", SetupFlagNames(r.SetupFlags()), SetupFlagNames(c.flag))
			}
			if c.register {
				if err := r.RegisterRingFD(); err != nil {
					if errors.Is(err, ErrNotSupported) {
						t.Skipf("kernel lacks %s: %v", c.need, err)
					}
					t.Fatal(err)
				}
				if !r.RingFDRegistered() {
					t.Fatal("RegisterRingFD: not registered")
				}
			}
			cqes := make([]CQE, 32)
			seen := make(map[uint64]bool)
			for round := 0; round < 10; round++ {
				for i := 0; i < 10; i++ {
					queue(t, r, Nop{}, uint64(round*10+i+1))
				}
				if n, err := r.SubmitAndWait(10); err != nil || n != 10 {
					t.Fatalf("SubmitAndWait = %d, %v", n, err)
				}
				if n := r.Reap(cqes); n != 10 {
					t.Fatalf("Reap = %d, want 10", n)
				}
				for _, c := range cqes[:10] {
					if c.Res != 0 || seen[c.UserData] || c.UserData == 0 || c.UserData > 100 {
						t.Fatalf("bad CQE %+v", c)
					}
					seen[c.UserData] = true
				}
			}
			// An SQPOLL thread may post the CQEs before it moves the SQ head past their SQEs.
			for deadline := time.Now().Add(10 * time.Second); r.Pending() != 0 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			st := r.Stats()
			if st.SQEsSubmitted != 100 || st.CQEsReaped != 100 || r.Pending() != 0 {
				t.Errorf("stats %+v pending %d", st, r.Pending())
			}
			t.Logf("flags %v stats %+v", SetupFlagNames(r.SetupFlags()), st)
		})
	}
}

func TestReadWriteRoundTrip(t *testing.T) {
	r := newTestRing(t, Params{Entries: 8}, "io_uring")
	a := newArena(t, 4, 4096)
	path := tempFile(t, make([]byte, 3*4096))
	fd := openRaw(t, path, unix.O_RDWR)

	want := pattern(4096, 0x5a)
	copy(a.Slot(0), want)
	queue(t, r, Write{FD: int32(fd), Buf: a.Ptr(0), Len: 4096, Offset: 4096}, 1)
	queue(t, r, Nop{}, 2)
	if _, err := r.SubmitAndWait(2); err != nil {
		t.Fatal(err)
	}
	for _, c := range reapN(t, r, 2, time.Second) {
		if c.UserData == 1 && c.Res != 4096 {
			t.Fatalf("write res %d", c.Res)
		}
	}
	// Read it back through io_uring and through pread.
	queue(t, r, Read{FD: int32(fd), Buf: a.Ptr(1), Len: 4096, Offset: 4096}, 3)
	if _, err := r.SubmitAndWait(1); err != nil {
		t.Fatal(err)
	}
	c := reapN(t, r, 1, time.Second)[0]
	if c.UserData != 3 || c.Res != 4096 || !bytes.Equal(a.Slot(1), want) {
		t.Fatalf("read back: %+v, data equal %v", c, bytes.Equal(a.Slot(1), want))
	}
	got := make([]byte, 4096)
	if n, err := unix.Pread(fd, got, 4096); err != nil || n != 4096 || !bytes.Equal(got, want) {
		t.Fatalf("pread after io_uring write: %d %v equal=%v", n, err, bytes.Equal(got, want))
	}

	// Fixed file + fixed buffers: READ_FIXED / WRITE_FIXED on a registered fd.
	if err := r.RegisterFiles([]int32{-1, int32(fd)}); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterBuffers(a.Iovecs()); err != nil {
		t.Fatal(err)
	}
	want2 := pattern(4096, 0xc3)
	copy(a.Slot(2), want2)
	queue(t, r, WriteFixed{FD: 1, Fixed: true, Buf: a.Ptr(2), Len: 4096, Offset: 8192, BufIndex: 2}, 4).SetFlags(FlagIOLink)
	queue(t, r, ReadFixed{FD: 1, Fixed: true, Buf: a.Ptr(3), Len: 4096, Offset: 8192, BufIndex: 3}, 5)
	if _, err := r.SubmitAndWait(2); err != nil {
		t.Fatal(err)
	}
	for _, c := range reapN(t, r, 2, time.Second) {
		if c.Res != 4096 {
			t.Fatalf("fixed I/O %+v: %v", c, c.Err())
		}
	}
	if !bytes.Equal(a.Slot(3), want2) {
		t.Fatal("READ_FIXED data mismatch")
	}
	if err := r.UnregisterBuffers(); err != nil {
		t.Fatal(err)
	}
	if err := r.UnregisterFiles(); err != nil {
		t.Fatal(err)
	}
}

func TestLinkedOpenReadClose(t *testing.T) {
	r := newTestRing(t, Params{Entries: 8}, "io_uring")
	if err := r.RegisterFilesSparse(4); err != nil {
		if errors.Is(err, ErrNotSupported) {
			t.Skipf("kernel lacks sparse file tables (IORING_REGISTER_FILES2, 5.19+): %v", err)
		}
		t.Fatal(err)
	}
	a := newArena(t, 3, 4096)
	want := pattern(3000, 0x11)
	path := tempFile(t, want)
	const slot = 2

	chain := func(p *byte) []CQE {
		s := getSQE(t, r)
		OpenAt{DirFD: unix.AT_FDCWD, Path: p, Flags: unix.O_RDONLY, FileIndex: slot + 1}.Prep(s)
		s.SetFlags(FlagIOLink)
		s.SetUserData(1)
		s = getSQE(t, r)
		// Exactly the file size: in a chain a short read counts as a
		// failure and would cancel the CLOSE.
		Read{FD: slot, Fixed: true, Buf: a.Ptr(1), Len: uint32(len(want)), Offset: 0}.Prep(s)
		s.SetFlags(FlagIOLink)
		s.SetUserData(2)
		queue(t, r, Close{FileIndex: slot + 1}, 3)
		if n, err := r.SubmitAndWait(3); err != nil || n != 3 {
			t.Fatalf("SubmitAndWait = %d, %v", n, err)
		}
		res := make([]CQE, 4)
		for _, c := range reapN(t, r, 3, time.Second) {
			res[c.UserData] = c
		}
		return res
	}

	res := chain(cString(t, a, 0, path))
	if res[1].Res != 0 || res[2].Res != int32(len(want)) || res[3].Res != 0 {
		t.Fatalf("open/read/close = %d/%d/%d", res[1].Res, res[2].Res, res[3].Res)
	}
	if !bytes.Equal(a.Slot(1)[:len(want)], want) {
		t.Fatal("data read through the fixed slot differs")
	}

	res = chain(cString(t, a, 0, path+".does-not-exist"))
	if res[1].Res != -int32(unix.ENOENT) || res[2].Res != -int32(unix.ECANCELED) || res[3].Res != -int32(unix.ECANCELED) {
		t.Fatalf("failed chain = %d/%d/%d, want -ENOENT/-ECANCELED/-ECANCELED", res[1].Res, res[2].Res, res[3].Res)
	}
}

// More requests in flight than CQ entries: with FEAT_NODROP the kernel
// keeps the overflow and Reap must flush it; nothing may be lost.
func TestCQOverflow(t *testing.T) {
	for _, noArr := range []bool{false, true} {
		name := "sqarray"
		if noArr {
			name = "no_sqarray"
		}
		t.Run(name, func(t *testing.T) {
			r := newTestRing(t, Params{Entries: 16, CQEntries: 16, NoSQArray: noArr}, "io_uring")
			if r.Features()&FeatNoDrop == 0 {
				t.Skip("kernel lacks IORING_FEAT_NODROP: overflowed CQEs would be dropped")
			}
			const total = 48
			for i := 0; i < total; i++ {
				s := r.GetSQE()
				if s == nil {
					if _, err := r.Submit(); err != nil {
						t.Fatal(err)
					}
					s = getSQE(t, r)
				}
				Nop{}.Prep(s)
				s.SetUserData(uint64(i + 1))
			}
			if _, err := r.Submit(); err != nil {
				t.Fatal(err)
			}
			if f := atomic.LoadUint32(r.sqFlags); f&sqCQOverflow == 0 {
				t.Errorf("IORING_SQ_CQ_OVERFLOW not set after %d NOPs into a %d-entry CQ (sq flags %#x)", total, r.CQEntries(), f)
			}
			seen := make(map[uint64]int)
			for _, c := range reapN(t, r, total, 2*time.Second) {
				seen[c.UserData]++
			}
			for i := 1; i <= total; i++ {
				if seen[uint64(i)] != 1 {
					t.Errorf("user data %d seen %d times", i, seen[uint64(i)])
				}
			}
			if n := r.Reap(make([]CQE, 4)); n != 0 {
				t.Errorf("extra CQEs: %d", n)
			}
			if atomic.LoadUint32(r.sqFlags)&sqCQOverflow != 0 {
				t.Error("overflow flag still set")
			}
			t.Logf("stats %+v", r.Stats())
			if r.Stats().OverflowFlushes == 0 {
				t.Error("no overflow flush counted")
			}
		})
	}
}

// With NO_SQARRAY the kernel reports sq_off.array = 0; the mapping must still
// cover the whole CQ. 512 CQEs of 16 bytes span several pages.
func TestNoSQArrayMapping(t *testing.T) {
	r := newTestRing(t, Params{Entries: 256, NoSQArray: true, NoFallback: true}, "IORING_SETUP_NO_SQARRAY (6.6+)")
	end := uintptr(unsafe.Pointer(&r.cqes[len(r.cqes)-1])) + sizeofCQE
	base := uintptr(unsafe.Pointer(&r.sqRingMem[0]))
	if end > base+uintptr(len(r.sqRingMem)) {
		t.Fatalf("CQ array ends %d bytes past the %d-byte mapping", end-base-uintptr(len(r.sqRingMem)), len(r.sqRingMem))
	}
	if len(r.sqRingMem) <= 4096 {
		t.Fatalf("mapping of %d bytes cannot hold %d CQEs", len(r.sqRingMem), r.CQEntries())
	}
	// Fill every CQ slot (touching all pages) twice over.
	cqes := make([]CQE, 512)
	for round := 0; round < 2; round++ {
		for batch := 0; batch < 2; batch++ {
			for i := 0; i < 256; i++ {
				queue(t, r, Nop{}, uint64(batch*256+i))
			}
			if _, err := r.Submit(); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.WaitCQE(512); err != nil {
			t.Fatal(err)
		}
		if n := r.Reap(cqes); n != 512 {
			t.Fatalf("reaped %d of 512", n)
		}
		for i, c := range cqes {
			if c.UserData != uint64(i) {
				t.Fatalf("cqe %d has user data %d", i, c.UserData)
			}
		}
	}
}

// An SQE that fails to prepare stops the batch (no SUBMIT_ALL): Submit must
// carry on with the rest.
func TestShortSubmit(t *testing.T) {
	r := newTestRing(t, Params{Entries: 16}, "io_uring")
	for i := 0; i < 7; i++ {
		s := getSQE(t, r)
		Nop{}.Prep(s)
		if i == 3 {
			s.Opcode = 250 // invalid opcode
		}
		s.SetUserData(uint64(i))
	}
	n, err := r.Submit()
	if err != nil || n != 7 {
		t.Fatalf("Submit = %d, %v; want 7", n, err)
	}
	if st := r.Stats(); st.SubmitEnters < 2 {
		t.Errorf("expected the short submit to take 2 enters, stats %+v", st)
	}
	for _, c := range reapN(t, r, 7, time.Second) {
		want := int32(0)
		if c.UserData == 3 {
			want = -int32(unix.EINVAL)
		}
		if c.Res != want {
			t.Errorf("cqe %d res %d, want %d", c.UserData, c.Res, want)
		}
	}
}

func TestTimeoutAndWaitTimeout(t *testing.T) {
	r := newTestRing(t, Params{Entries: 8}, "io_uring")
	a := newArena(t, 1, 64)
	ts := (*unix.Timespec)(a.Ptr(0))
	*ts = unix.NsecToTimespec(int64(5 * time.Millisecond))
	queue(t, r, Timeout{TS: ts}, 7)
	start := time.Now()
	if _, err := r.SubmitAndWait(1); err != nil {
		t.Fatal(err)
	}
	c := reapN(t, r, 1, time.Second)[0]
	if c.Res != -int32(unix.ETIME) || time.Since(start) < 4*time.Millisecond {
		t.Fatalf("timeout CQE %+v after %v", c, time.Since(start))
	}

	if r.Features()&FeatExtArg == 0 {
		t.Skip("kernel lacks IORING_FEAT_EXT_ARG")
	}
	start = time.Now()
	_, err := r.SubmitAndWaitTimeout(1, 20*time.Millisecond)
	if !errors.Is(err, unix.ETIME) {
		t.Fatalf("SubmitAndWaitTimeout with nothing in flight: %v, want ETIME", err)
	}
	if el := time.Since(start); el < 15*time.Millisecond || el > time.Second {
		t.Errorf("waited %v for a 20ms timeout", el)
	}
	Nop{}.Prep(getSQE(t, r))
	if n, err := r.SubmitAndWaitTimeout(1, time.Second); err != nil || n != 1 || r.CQReady() != 1 {
		t.Fatalf("SubmitAndWaitTimeout(NOP) = %d, %v, ready %d", n, err, r.CQReady())
	}
}

func TestProbe(t *testing.T) {
	r := newTestRing(t, Params{Entries: 4}, "io_uring")
	sup, last, err := r.ProbeOpcodes()
	if err != nil {
		if errors.Is(err, ErrNotSupported) {
			t.Skipf("kernel lacks IORING_REGISTER_PROBE (5.6+): %v", err)
		}
		t.Fatal(err)
	}
	for _, op := range []uint8{OpNop, OpRead, OpWrite, OpOpenat, OpClose, OpAccept, OpRecv, OpSend, OpTimeout, OpPollAdd} {
		if int(op) >= len(sup) || !sup[op] {
			t.Errorf("opcode %s not reported as supported", OpcodeName(op))
		}
	}
	t.Logf("last opcode %d (%s), %d probed", last, OpcodeName(last), len(sup))
}

// SetupFlags must show what the kernel accepted after stepping down, and
// NoFallback must return the kernel's EINVAL instead.
func TestFallback(t *testing.T) {
	// The kernel rejects SQPOLL with DEFER_TASKRUN (EINVAL): the fallback
	// must drop the task-run mode and keep SQPOLL, SINGLE_ISSUER and
	// NO_SQARRAY.
	p := Params{Entries: 8, SQPoll: true, SQThreadCPU: -1, DeferTaskrun: true, NoSQArray: true}
	r := newTestRing(t, p, "IORING_SETUP_SQPOLL")
	f := r.SetupFlags()
	if f != SetupSQPoll|SetupSingleIssuer|SetupNoSQArray {
		t.Fatalf("flags after fallback %v, want [SQPOLL SINGLE_ISSUER NO_SQARRAY]", SetupFlagNames(f))
	}
	t.Logf("SQPOLL+DEFER_TASKRUN+NO_SQARRAY fell back to %v", SetupFlagNames(f))
	p2 := Params{Entries: 8, SQPoll: true, SQThreadCPU: -1, CoopTaskrun: true}
	r2 := newTestRing(t, p2, "IORING_SETUP_SQPOLL")
	if f := r2.SetupFlags(); f != SetupSQPoll {
		t.Fatalf("SQPOLL+COOP_TASKRUN fell back to %v, want [SQPOLL]", SetupFlagNames(f))
	}
	s := getSQE(t, r)
	Nop{}.Prep(s)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	reapN(t, r, 1, 2*time.Second)

	p.NoFallback = true
	_, err := New(p)
	if !errors.Is(err, unix.EINVAL) || !errors.Is(err, ErrNotSupported) {
		t.Fatalf("NoFallback: err = %v, want EINVAL wrapped with ErrNotSupported", err)
	}

	// Step-down order for older kernels (each step is what the next older
	// kernel generation lacks).
	steps := []uint32{SetupDeferTaskrun | SetupSingleIssuer | SetupNoSQArray}
	for {
		next, ok := stepDown(steps[len(steps)-1])
		if !ok {
			break
		}
		steps = append(steps, next)
	}
	want := []uint32{
		SetupDeferTaskrun | SetupSingleIssuer | SetupNoSQArray,
		SetupDeferTaskrun | SetupSingleIssuer,
		SetupCoopTaskrun | SetupTaskrunFlag | SetupSingleIssuer,
		SetupSingleIssuer,
		0,
	}
	if len(steps) != len(want) {
		t.Fatalf("ladder %#x, want %#x", steps, want)
	}
	for i := range want {
		if steps[i] != want[i] {
			t.Fatalf("ladder %#x, want %#x", steps, want)
		}
	}
}

// DEFER_TASKRUN: completions are posted only when the owning thread enters
// with GETEVENTS, and another thread may not submit (EEXIST).
func TestDeferTaskrunOwnerThread(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := New(Params{Entries: 8, DeferTaskrun: true, NoFallback: true})
	if err != nil {
		if errors.Is(err, ErrNotSupported) {
			t.Skipf("kernel lacks IORING_SETUP_DEFER_TASKRUN (6.1+): %v", err)
		}
		t.Fatal(err)
	}
	defer r.Close()

	p, a := pendingPipeRead(t, r, 42)
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(p[1], []byte("hello")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if n := r.CQReady(); n != 0 {
		t.Errorf("DEFER_TASKRUN posted %d CQEs without an enter", n)
	}
	c := waitReap(t, r, 1)[0]
	if c.UserData != 42 || c.Res != 5 || string(a.Slot(0)[:5]) != "hello" {
		t.Fatalf("read CQE %+v data %q", c, a.Slot(0)[:5])
	}

	// Submitting from another OS thread fails with EEXIST; the SQE stays
	// queued and the owner submits it.
	queue(t, r, Nop{}, 43)
	var otherErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		runtime.LockOSThread() // a different thread from ours, which is locked
		defer runtime.UnlockOSThread()
		_, otherErr = r.Submit()
	}()
	wg.Wait()
	if !errors.Is(otherErr, unix.EEXIST) {
		t.Errorf("submit from another thread: %v, want EEXIST", otherErr)
	}
	if r.Pending() != 1 {
		t.Fatalf("pending %d after refused submit", r.Pending())
	}
	if n, err := r.SubmitAndWait(1); err != nil || n != 1 {
		t.Fatalf("owner SubmitAndWait = %d, %v", n, err)
	}
	if c := waitReap(t, r, 1)[0]; c.UserData != 43 || c.Res != 0 {
		t.Fatalf("NOP CQE %+v", c)
	}
}

// A registered ring fd is an index in the registering thread's table.
func TestRegisteredRingFDThreadBound(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r := newTestRing(t, Params{Entries: 8}, "io_uring")
	if err := r.RegisterRingFD(); err != nil {
		if errors.Is(err, ErrNotSupported) {
			t.Skipf("kernel lacks IORING_REGISTER_RING_FDS (5.18+): %v", err)
		}
		t.Fatal(err)
	}
	defer r.Close()
	s := getSQE(t, r)
	Nop{}.Prep(s)
	if n, err := r.SubmitAndWait(1); err != nil || n != 1 {
		t.Fatalf("SubmitAndWait via registered index = %d, %v", n, err)
	}
	waitReap(t, r, 1)

	var otherErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		otherErr = r.WaitCQE(0)
	}()
	wg.Wait()
	if !errors.Is(otherErr, unix.EBADF) && !errors.Is(otherErr, unix.EINVAL) {
		t.Errorf("enter with the index from another thread: %v, want EBADF/EINVAL", otherErr)
	}
	if err := r.UnregisterRingFD(); err != nil {
		t.Fatal(err)
	}
	if r.RingFDRegistered() {
		t.Fatal("still registered")
	}
}
