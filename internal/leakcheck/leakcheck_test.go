package leakcheck

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// recorder is a TB that records failures instead of failing: it lets the tests prove that Check fails
// when it should.
type recorder struct {
	msgs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) text() string { return strings.Join(r.msgs, "\n") }

// short is the settle time for checks expected to fail: they wait it out in full.
const short = 300 * time.Millisecond

// expectLeak runs leak between a snapshot and a check and wants the check to fail naming every string of
// want, in a leak of kind; then it runs undo and wants a fresh check against the same snapshot to pass.
func expectLeak(t *testing.T, kind Kind, leak func(t *testing.T) (undo func()), want ...string) {
	t.Helper()
	var rec recorder
	before := Snapshot(&rec, Settle(short))
	undo := leak(t)
	leaks := Check(&rec, before)
	if len(rec.msgs) == 0 {
		t.Fatalf("Check did not fail on a leaked %s", kind)
	}
	found := false
	for _, l := range leaks {
		if l.Kind != kind {
			continue
		}
		ok := true
		for _, w := range want {
			if !strings.Contains(l.String(), w) {
				ok = false
			}
		}
		found = found || ok
	}
	if !found {
		t.Errorf("no %s leak naming %q in the report:\n%s", kind, want, rec.text())
	}
	for _, w := range want {
		if !strings.Contains(rec.text(), w) {
			t.Errorf("report does not name %q:\n%s", w, rec.text())
		}
	}
	t.Logf("report, as a test would see it:\n%s", rec.text())
	undo()
	before.opts.settle = DefaultSettle
	wantClean(t, &recorder{}, before, "after undoing the leak, Check still fails")
}

// wantClean runs Check against before, recording into rec (which may hold what Snapshot recorded), and
// fails the test with what and the report when anything was recorded.
func wantClean(t *testing.T, rec *recorder, before *State, what string) {
	t.Helper()
	Check(rec, before)
	if len(rec.msgs) > 0 {
		t.Errorf("%s:\n%s", what, rec.text())
	}
}

func TestNothingLeakedPasses(t *testing.T) {
	dir := t.TempDir()
	var rec recorder
	before := Snapshot(&rec, Dirs(dir))
	// Use, and release, one of everything.
	f, err := os.Create(filepath.Join(dir, "ringbench-scratch"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.Remove(f.Name())
	done := make(chan struct{})
	go func() { close(done) }()
	<-done
	if err := exec.Command("true").Run(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	wantClean(t, &rec, before, "false positive")
}

func TestCatchesLeakedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leaked.dat")
	expectLeak(t, KindFD, func(t *testing.T) func() {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		return func() { f.Close() }
	}, "fd ", path)
}

func TestCatchesReusedDescriptorNumber(t *testing.T) {
	dir := t.TempDir()
	a, err := os.Create(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	num := int(a.Fd())
	expectLeak(t, KindFD, func(t *testing.T) func() {
		// Close a (which was there before) and open b on the very same number: a new, leaked file.
		b, err := unix.Open(filepath.Join(dir, "b"), unix.O_CREAT|unix.O_RDWR|unix.O_CLOEXEC, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Dup3(b, num, unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		unix.Close(b)
		return func() {
			// Put a's file back on the number.
			fd, err := unix.Open(filepath.Join(dir, "a"), unix.O_RDWR|unix.O_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := unix.Dup3(fd, num, unix.O_CLOEXEC); err != nil {
				t.Fatal(err)
			}
			unix.Close(fd)
		}
	}, fmt.Sprintf("fd %d -> %s", num, filepath.Join(dir, "b")), "(was "+filepath.Join(dir, "a"))
}

// ringSetup makes an io_uring of 4 entries with the given setup flags (no mapping: the descriptor alone).
func ringSetup(flags uint32) (int, error) {
	var params [120]byte // struct io_uring_params; flags at offset 8, after sq_entries and cq_entries
	*(*uint32)(unsafe.Pointer(&params[8])) = flags
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, 4, uintptr(unsafe.Pointer(&params[0])), 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// ringOr is ringSetup, calling fail (t.Skip where the test needs a ring, t.Fatal) when it fails.
func ringOr(t *testing.T, flags uint32, fail func(args ...any)) int {
	t.Helper()
	fd, err := ringSetup(flags)
	if err != nil {
		fail("io_uring_setup:", err)
	}
	return fd
}

func TestCatchesLeakedIOURing(t *testing.T) {
	unix.Close(ringOr(t, 0, t.Skip))
	expectLeak(t, KindFD, func(t *testing.T) func() {
		fd := ringOr(t, 0, t.Fatal)
		return func() { unix.Close(fd) }
	}, "anon_inode:[io_uring]")
}

func TestCatchesLeakedSQPOLLThread(t *testing.T) {
	const setupSQPoll = 1 << 1
	unix.Close(ringOr(t, setupSQPoll, t.Skip))
	expectLeak(t, KindThread, func(t *testing.T) func() {
		fd := ringOr(t, setupSQPoll, t.Fatal)
		return func() { unix.Close(fd) }
	}, "iou-sqp")
}

// A ring whose descriptor is closed but whose memory is still mapped stays alive in the kernel: the
// mapping is the leak.
func TestCatchesRingMappingAfterClose(t *testing.T) {
	unix.Close(ringOr(t, 0, t.Skip))
	expectLeak(t, KindMapping, func(t *testing.T) func() {
		fd := ringOr(t, 0, t.Fatal)
		m, err := unix.Mmap(fd, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		return func() { unix.Munmap(m) }
	}, "anon_inode:[io_uring]")
}

func blockOnChannel(c chan struct{}) { <-c }

func TestCatchesLeakedGoroutine(t *testing.T) {
	expectLeak(t, KindGoroutine, func(t *testing.T) func() {
		c := make(chan struct{})
		go blockOnChannel(c)
		return func() { close(c) }
	}, "chan receive", "leakcheck.blockOnChannel")
}

func TestWaitsForAGoroutineOnItsWayOut(t *testing.T) {
	var rec recorder
	before := Snapshot(&rec)
	go time.Sleep(200 * time.Millisecond)
	start := time.Now()
	wantClean(t, &rec, before, "a goroutine that ends within the settle time was reported")
	if time.Since(start) < 100*time.Millisecond {
		t.Fatal("Check did not wait for the goroutine")
	}
}

func TestIgnoreGoroutines(t *testing.T) {
	var rec recorder
	before := Snapshot(&rec, Settle(short), IgnoreGoroutines("leakcheck.blockOnChannel"))
	c := make(chan struct{})
	defer close(c)
	go blockOnChannel(c)
	wantClean(t, &rec, before, "ignored goroutine reported")
}

func TestCatchesRunningChild(t *testing.T) {
	expectLeak(t, KindChild, func(t *testing.T) func() {
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return func() {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}, "(sleep)", "running: sleep 60")
}

func TestCatchesUnreapedChild(t *testing.T) {
	expectLeak(t, KindChild, func(t *testing.T) func() {
		cmd := exec.Command("true")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Let it exit; without Wait it stays a zombie.
		for i := 0; i < 500; i++ {
			if st, ok := readStat(cmd.Process.Pid); ok && st.state == "Z" {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		return func() { cmd.Wait() }
	}, "(true)", "never reaped")
}

func TestCatchesListener(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			addr := "127.0.0.1:0"
			if network == "tcp6" {
				addr = "[::1]:0"
			}
			probe, err := net.Listen(network, addr)
			if err != nil {
				t.Skipf("%s: %v", network, err)
			}
			probe.Close()
			var port string
			expectLeak(t, KindListener, func(t *testing.T) func() {
				ln, err := net.Listen(network, addr)
				if err != nil {
					t.Fatal(err)
				}
				port = ln.Addr().String()
				return func() { ln.Close() }
			}, "TCP ")
			if port == "" {
				t.Fatal("no listener")
			}
			// The report names the address exactly as net does.
			var rec recorder
			before := Snapshot(&rec, Settle(short))
			ln, err := net.Listen(network, addr)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			leaks := Check(&rec, before)
			if !strings.Contains(rec.text(), "TCP "+ln.Addr().String()) {
				t.Errorf("report does not name %s:\n%s", ln.Addr(), rec.text())
			}
			kinds := map[Kind]bool{}
			for _, l := range leaks {
				kinds[l.Kind] = true
			}
			if !kinds[KindListener] || !kinds[KindFD] {
				t.Errorf("want both the listener and its descriptor reported, got %v", leaks)
			}
		})
	}
}

func TestCatchesTempFiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	expectLeak(t, KindTempFile, func(t *testing.T) func() {
		p, err := os.MkdirTemp("", "ringbench-small-file-")
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.CreateTemp("", ".ringbench-probe-")
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		return func() {
			os.RemoveAll(p)
			os.Remove(f.Name())
		}
	}, filepath.Join(dir, "ringbench-small-file-"))

	// Names without a prefix of ringbench's are not its business.
	var rec recorder
	before := Snapshot(&rec, Settle(short))
	f, err := os.CreateTemp("", "someone-else-")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	defer os.Remove(f.Name())
	wantClean(t, &rec, before, "a foreign temporary file was reported")
}

func TestCatchesTempFilesInExtraDirs(t *testing.T) {
	dir := t.TempDir()
	var rec recorder
	before := Snapshot(&rec, Settle(short), Dirs(dir))
	if err := os.Mkdir(filepath.Join(dir, "ringbench-many-file-0123456789ab.partial-77"), 0o755); err != nil {
		t.Fatal(err)
	}
	Check(&rec, before)
	if !strings.Contains(rec.text(), "temp file: "+filepath.Join(dir, "ringbench-many-file-0123456789ab.partial-77")) {
		t.Fatalf("leftover in a watched directory not reported:\n%s", rec.text())
	}
}

func TestCatchesFileMapping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mapped")
	if err := os.WriteFile(path, make([]byte, 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	expectLeak(t, KindMapping, func(t *testing.T) func() {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := unix.Mmap(int(f.Fd()), 0, 8192, unix.PROT_READ, unix.MAP_SHARED)
		f.Close() // the mapping outlives the descriptor
		if err != nil {
			t.Fatal(err)
		}
		return func() { unix.Munmap(m) }
	}, path)
}

func TestVerifyDeferred(t *testing.T) {
	var rec recorder
	c := make(chan struct{})
	func() {
		defer Verify(&rec, Settle(short))()
		go blockOnChannel(c)
	}()
	close(c)
	if !strings.Contains(rec.text(), "goroutine") {
		t.Fatalf("Verify did not report the goroutine:\n%s", rec.text())
	}
}

func TestParseProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"00000000:0016":                         "0.0.0.0:22",
		"00000000000000000000000001000000:1F90": "[::1]:8080",
		"00000000000000000000000000000000:0050": "[::]:80",
		"0000000000000000FFFF00000100007F:0050": "127.0.0.1:80", // v4-mapped
		"B80D0120000000000000000001000000:01BB": "[2001:db8::1]:443",
	} {
		got, ok := parseProcAddr(in)
		if !ok || got != want {
			t.Errorf("parseProcAddr(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "zz:1", "0100007F", "0100007F:XYZ", "01007F:0050"} {
		if got, ok := parseProcAddr(bad); ok {
			t.Errorf("parseProcAddr(%q) = %q, want failure", bad, got)
		}
	}
	table := "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
		"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000 100 0 0 10 0\n" +
		"   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000 100 0 0 10 0\n"
	got := parseListeners([]byte(table))
	if len(got) != 1 || got["4242"] != "127.0.0.1:8080" {
		t.Errorf("parseListeners = %v, want only inode 4242 listening on 127.0.0.1:8080", got)
	}
}

func TestParseGoroutine(t *testing.T) {
	id, g, ok := parseGoroutine("goroutine 42 [chan receive, 3 minutes]:\nmain.f()\n\t/x.go:1 +0x1\n")
	if !ok || id != 42 || g.header != "goroutine 42 [chan receive, 3 minutes]" || !strings.Contains(g.stack, "main.f") {
		t.Fatalf("got %d %+v %v", id, g, ok)
	}
	if _, _, ok := parseGoroutine("not a goroutine"); ok {
		t.Fatal("parsed garbage")
	}
}

func TestProblemsAreReported(t *testing.T) {
	// A watched directory that cannot be listed (a file, here) is reported, not silently skipped.
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var rec recorder
	Snapshot(&rec, Dirs(f))
	if !strings.Contains(rec.text(), "cannot list "+f) {
		t.Fatalf("unreadable directory not reported: %q", rec.text())
	}
}

func TestPrivateTempDir(t *testing.T) {
	old := os.TempDir()
	dir, restore, err := PrivateTempDir()
	if err != nil {
		t.Fatal(err)
	}
	if os.TempDir() != dir || !strings.HasPrefix(dir, old) {
		t.Errorf("TempDir %s, want %s inside %s", os.TempDir(), dir, old)
	}
	restore()
	if os.TempDir() != old {
		t.Errorf("TempDir %s after restore, want %s", os.TempDir(), old)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s not removed: %v", dir, err)
	}
}
