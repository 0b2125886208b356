// Package leakcheck is a test helper that asserts a piece of code leaves the process as it found it:
//
//   - open file descriptors (/proc/self/fd), each resolved to what it refers to, so that a report names the
//     leaked file, socket, pipe or anon_inode:[io_uring];
//   - goroutines (runtime.Stack of all goroutines), reported with their stacks;
//   - child processes (/proc/self/task/*/children), running or exited but never reaped;
//   - temporary files and directories directly under os.TempDir() (and any directory added with Dirs) whose
//     names start with one of ringbench's prefixes (TempPrefixes);
//   - listening TCP sockets of this process (/proc/self/net/tcp and tcp6, matched by inode to this
//     process's descriptors), reported by address;
//   - file-backed and special memory mappings (/proc/self/maps): a file mapped for mlock or mincore and
//     never unmapped, an io_uring ring whose memory outlives its descriptor;
//   - io_uring kernel threads of this process (iou-sqp-*, iou-wrk-*): a ring never torn down.
//
// Use it as
//
//	before := leakcheck.Snapshot(t)
//	... code under test ...
//	leakcheck.Check(t, before)
//
// or, for a whole test, defer leakcheck.Verify(t)(). Check waits a while (Settle) for things that end
// asynchronously (a goroutine on its way out, a child being reaped, an SQPOLL thread exiting) and then reports
// every difference with t.Errorf, one leak per line with goroutine stacks below.
//
// Only what appeared is reported; what disappeared (a descriptor closed that was open before) is not.
// The checks see the whole process: tests that use it must not run in parallel with other tests of the
// same binary (no t.Parallel), and the temporary-file check sees other processes' files in a shared
// os.TempDir(), so a test binary should point TMPDIR at a private directory (see PrivateTempDir).
package leakcheck

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// TB is the part of testing.TB that leakcheck uses; *testing.T, *testing.B and *testing.F satisfy it.
type TB interface {
	Helper()
	Errorf(format string, args ...any)
}

// TempPrefixes are the name prefixes of what ringbench creates in a temporary directory: data sets
// (ringbench-<name>-<hash>, and their .partial-<random> siblings), --dir probes (.ringbench-probe-*,
// .ringbench-check-*), test scratch directories (ringbench-cmdtest-*) and perfcount's temporary tracefs
// mount point (perfcount-tracefs-*).
var TempPrefixes = []string{"ringbench-", ".ringbench-", "perfcount-tracefs-"}

// DefaultSettle is how long Check waits for the process to return to its snapshot before reporting.
const DefaultSettle = 5 * time.Second

// Kind is a kind of resource.
type Kind string

// The kinds of leak leakcheck finds.
const (
	KindFD        Kind = "fd"
	KindGoroutine Kind = "goroutine"
	KindChild     Kind = "child process"
	KindTempFile  Kind = "temp file"
	KindListener  Kind = "listener"
	KindMapping   Kind = "mapping"
	KindThread    Kind = "io_uring thread"
)

// Leak is one resource present after and not before.
type Leak struct {
	Kind Kind
	// What is one line naming the resource: "fd 9 -> anon_inode:[io_uring]".
	What string
	// Detail is more, over several lines (a goroutine's stack); may be empty.
	Detail string
}

func (l Leak) String() string {
	s := string(l.Kind) + ": " + l.What
	if l.Detail != "" {
		s += "\n" + indent(l.Detail, "        ")
	}
	return s
}

// Option changes what a snapshot covers or how Check waits.
type Option func(*options)

type options struct {
	settle       time.Duration
	dirs         []string
	prefixes     []string
	ignoreStacks []string
}

// Settle sets how long Check waits for leaks to go away before reporting them (default DefaultSettle).
func Settle(d time.Duration) Option { return func(o *options) { o.settle = d } }

// Dirs adds directories whose entries with ringbench's prefixes are watched, besides os.TempDir() (a --dir
// given to a workload, say).
func Dirs(dirs ...string) Option {
	return func(o *options) { o.dirs = append(o.dirs, dirs...) }
}

// Prefixes replaces TempPrefixes for this snapshot.
func Prefixes(p ...string) Option { return func(o *options) { o.prefixes = p } }

// IgnoreGoroutines ignores new goroutines whose stack contains any of these strings (function names, such
// as "mypkg.(*Pool).worker"), for a goroutine that lives, by design, as long as the process.
func IgnoreGoroutines(substrings ...string) Option {
	return func(o *options) { o.ignoreStacks = append(o.ignoreStacks, substrings...) }
}

// defaultIgnoredStacks are goroutines the runtime and standard library start once and keep for good.
var defaultIgnoredStacks = []string{
	"os/signal.signal_recv", // signal.Notify's receiving goroutine
	"os/signal.loop",
	"runtime.ensureSigM",
}

// State is a snapshot of the process's resources.
type State struct {
	opts       options
	fds        map[int]fdInfo
	goroutines map[uint64]goroutine
	children   map[string]string // pid/starttime -> description
	temp       map[string]string // path -> identity (device/inode)
	listeners  map[string]string // inode -> address
	mappings   map[string]string // range+path -> description
	threads    map[string]string // tid/starttime -> comm
	// problems are resources that could not be read (an unreadable /proc): reported by Check, since a
	// checker that silently sees nothing cannot fail.
	problems []string
}

type fdInfo struct {
	target string
	id     string // device/inode of what the descriptor refers to, to tell a reused number apart
}

type goroutine struct {
	header string
	stack  string
}

// Snapshot records the process's resources now, for Check. Call it before the code under test.
func Snapshot(t TB, opts ...Option) *State {
	t.Helper()
	o := options{settle: DefaultSettle, prefixes: TempPrefixes}
	for _, f := range opts {
		f(&o)
	}
	o.dirs = append([]string{os.TempDir()}, o.dirs...)
	warmOnce.Do(warm)
	s := take(o)
	for _, p := range s.problems {
		t.Errorf("leakcheck: %s", p)
	}
	return s
}

// Check fails t, naming every leak, when the process still holds resources that it did not hold at the
// snapshot once the settle time has passed. It returns the leaks it reported.
func Check(t TB, before *State) []Leak {
	t.Helper()
	deadline := time.Now().Add(before.opts.settle)
	wait := time.Millisecond
	for {
		after := take(before.opts)
		leaks := Diff(before, after)
		if len(leaks) == 0 && len(after.problems) == 0 {
			return nil
		}
		if !time.Now().Before(deadline) {
			for _, p := range after.problems {
				t.Errorf("leakcheck: %s", p)
			}
			if len(leaks) > 0 {
				t.Errorf("leakcheck: %s", Report(leaks))
			}
			return leaks
		}
		time.Sleep(wait)
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// Verify takes a snapshot now and returns the function that checks it: defer leakcheck.Verify(t)().
func Verify(t TB, opts ...Option) func() {
	t.Helper()
	before := Snapshot(t, opts...)
	return func() {
		t.Helper()
		Check(t, before)
	}
}

// Report renders leaks as Check reports them: a count, then one leak per line.
func Report(leaks []Leak) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d leaked resource(s) since the snapshot:", len(leaks))
	for _, l := range leaks {
		b.WriteString("\n    ")
		b.WriteString(l.String())
	}
	return b.String()
}

// Diff lists what after holds and before did not, grouped by kind (fds, goroutines, children, temp files,
// listeners, mappings, threads) and sorted within a kind.
func Diff(before, after *State) []Leak {
	var leaks []Leak
	ignored := append(append([]string(nil), defaultIgnoredStacks...), before.opts.ignoreStacks...)

	var fdNums []int
	for fd, info := range after.fds {
		if b, ok := before.fds[fd]; !ok || b != info {
			fdNums = append(fdNums, fd)
		}
	}
	sort.Ints(fdNums)
	for _, fd := range fdNums {
		info := after.fds[fd]
		what := fmt.Sprintf("fd %d -> %s", fd, info.target)
		if ino, ok := socketInode(info.target); ok {
			if addr, ok := after.listeners[ino]; ok {
				what += " (TCP listener on " + addr + ")"
			}
		}
		if b, ok := before.fds[fd]; ok {
			what += fmt.Sprintf(" (was %s)", b.target)
		}
		leaks = append(leaks, Leak{Kind: KindFD, What: what})
	}

	var ids []uint64
	for id, g := range after.goroutines {
		if _, ok := before.goroutines[id]; ok || containsAny(g.stack, ignored) {
			continue
		}
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		g := after.goroutines[id]
		leaks = append(leaks, Leak{Kind: KindGoroutine, What: g.header, Detail: g.stack})
	}

	leaks = appendNew(leaks, KindChild, before.children, after.children, nil)
	leaks = appendNew(leaks, KindTempFile, before.temp, after.temp, func(k, v string) string { return k })
	leaks = appendNew(leaks, KindListener, before.listeners, after.listeners, func(k, v string) string {
		return fmt.Sprintf("TCP %s (socket inode %s)", v, k)
	})
	leaks = appendNew(leaks, KindMapping, before.mappings, after.mappings, nil)
	leaks = appendNew(leaks, KindThread, before.threads, after.threads, nil)
	return leaks
}

// appendNew adds a leak for every key of after that before lacks (or holds with another value), described
// by describe(key, value) or, when describe is nil, by the value.
func appendNew(leaks []Leak, kind Kind, before, after map[string]string, describe func(k, v string) string) []Leak {
	var keys []string
	for k, v := range after {
		if bv, ok := before[k]; !ok || bv != v {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		what := after[k]
		if describe != nil {
			what = describe(k, after[k])
		}
		leaks = append(leaks, Leak{Kind: kind, What: what})
	}
	return leaks
}

var warmOnce sync.Once

// warm makes the runtime set up what it sets up once and keeps (the network poller's epoll descriptor and
// its wake-up eventfd), so that the first pipe or socket a test opens after its snapshot is not a "leak".
func warm() {
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
}

func take(o options) *State {
	s := &State{opts: o}
	s.fds, s.problems = readFDs(s.problems)
	s.goroutines = readGoroutines()
	s.children, s.problems = readChildren(s.problems)
	s.temp, s.problems = readTemp(o.dirs, o.prefixes, s.problems)
	s.listeners, s.problems = readListeners(s.fds, s.problems)
	s.mappings, s.problems = readMappings(s.problems)
	s.threads, s.problems = readThreads(s.problems)
	return s
}

// readFDs lists this process's descriptors with their targets, leaving out the one it reads them through.
func readFDs(problems []string) (map[int]fdInfo, []string) {
	out := map[int]fdInfo{}
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return out, append(problems, fmt.Sprintf("cannot list descriptors: %v", err))
	}
	defer d.Close()
	self := int(d.Fd())
	names, err := d.Readdirnames(-1)
	if err != nil {
		return out, append(problems, fmt.Sprintf("cannot list descriptors: %v", err))
	}
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd == self {
			continue
		}
		p := "/proc/self/fd/" + n
		target, err := os.Readlink(p)
		if err != nil {
			continue // closed in the meantime
		}
		info := fdInfo{target: target}
		if st, err := os.Stat(p); err == nil {
			info.id = statID(st)
		}
		out[fd] = info
	}
	return out, problems
}

// socketInode reads the inode out of a descriptor target "socket:[12345]".
func socketInode(target string) (string, bool) {
	if !strings.HasPrefix(target, "socket:[") || !strings.HasSuffix(target, "]") {
		return "", false
	}
	return target[len("socket:[") : len(target)-1], true
}

// readGoroutines parses runtime.Stack of every goroutine but the caller's.
func readGoroutines() map[uint64]goroutine {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[uint64]goroutine{}
	blocks := strings.Split(string(buf), "\n\n")
	for i, blk := range blocks {
		if i == 0 {
			continue // the goroutine taking the snapshot
		}
		id, g, ok := parseGoroutine(blk)
		if ok {
			out[id] = g
		}
	}
	return out
}

// parseGoroutine reads one block of runtime.Stack output: "goroutine 18 [chan receive]:\n<frames>".
func parseGoroutine(blk string) (uint64, goroutine, bool) {
	blk = strings.TrimSpace(blk)
	header, stack, _ := strings.Cut(blk, "\n")
	rest, ok := strings.CutPrefix(header, "goroutine ")
	if !ok {
		return 0, goroutine{}, false
	}
	idStr, _, _ := strings.Cut(rest, " ")
	id, err := strconv.ParseUint(idStr, 10, 64)
	if err != nil {
		return 0, goroutine{}, false
	}
	return id, goroutine{header: strings.TrimSuffix(header, ":"), stack: stack}, true
}

// readChildren lists this process's children (of every thread), by pid and start time.
func readChildren(problems []string) (map[string]string, []string) {
	out := map[string]string{}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return out, append(problems, fmt.Sprintf("cannot list threads: %v", err))
	}
	pids := map[int]bool{}
	viaChildren := false
	for _, task := range tasks {
		data, err := os.ReadFile("/proc/self/task/" + task.Name() + "/children")
		if err != nil {
			continue // the thread ended, or no CONFIG_PROC_CHILDREN
		}
		viaChildren = true
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids[pid] = true
			}
		}
	}
	if !viaChildren {
		// No children files: find processes whose parent is this one.
		self := os.Getpid()
		procs, err := os.ReadDir("/proc")
		if err != nil {
			return out, append(problems, fmt.Sprintf("cannot list processes: %v", err))
		}
		for _, p := range procs {
			pid, err := strconv.Atoi(p.Name())
			if err != nil {
				continue
			}
			if st, ok := readStat(pid); ok && st.ppid == self {
				pids[pid] = true
			}
		}
	}
	for pid := range pids {
		st, ok := readStat(pid)
		if !ok {
			continue // reaped in the meantime
		}
		desc := fmt.Sprintf("pid %d (%s)", pid, st.comm)
		if st.state == "Z" {
			desc += " exited but never reaped (no Wait)"
		} else if cmd := cmdline(pid); cmd != "" {
			desc += " running: " + cmd
		}
		out[strconv.Itoa(pid)+"/"+st.start] = desc
	}
	return out, problems
}

type procStat struct {
	comm, state, start string
	ppid               int
}

// readStat reads /proc/PID/stat (or a task's stat, given a path under /proc/self/task).
func readStat(pid int) (procStat, bool) {
	return parseStat("/proc/" + strconv.Itoa(pid) + "/stat")
}

func parseStat(path string) (procStat, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, false
	}
	s := string(data)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return procStat{}, false
	}
	f := strings.Fields(s[close+1:])
	// After the comm: state(3) ppid(4) ... starttime(22), so f[0] is field 3 and f[19] field 22.
	if len(f) < 20 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	return procStat{comm: s[open+1 : close], state: f[0], ppid: ppid, start: f[19]}, true
}

func cmdline(pid int) string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return ""
	}
	s := strings.TrimRight(strings.ReplaceAll(string(data), "\x00", " "), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// readTemp lists entries of dirs whose names start with a prefix, by path, with their identity.
func readTemp(dirs, prefixes []string, problems []string) (map[string]string, []string) {
	out := map[string]string{}
	seen := map[string]bool{}
	for _, dir := range dirs {
		abs, err := filepath.Abs(dir)
		if err != nil || seen[abs] {
			continue
		}
		seen[abs] = true
		ents, err := os.ReadDir(abs)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // a watched directory removed: whatever was in it went with it
			}
			problems = append(problems, fmt.Sprintf("cannot list %s: %v", abs, err))
			continue
		}
		for _, e := range ents {
			if !hasAnyPrefix(e.Name(), prefixes) {
				continue
			}
			p := filepath.Join(abs, e.Name())
			id := ""
			if st, err := os.Lstat(p); err == nil {
				id = statID(st)
			}
			out[p] = id
		}
	}
	return out, problems
}

// readListeners finds TCP sockets in LISTEN state whose inodes are among this process's descriptors.
func readListeners(fds map[int]fdInfo, problems []string) (map[string]string, []string) {
	out := map[string]string{}
	own := map[string]bool{}
	for _, info := range fds {
		if ino, ok := socketInode(info.target); ok {
			own[ino] = true
		}
	}
	if len(own) == 0 {
		return out, problems
	}
	read := 0
	for _, name := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		data, err := os.ReadFile(name)
		if err != nil {
			continue // no IPv6 here, say
		}
		read++
		for ino, addr := range parseListeners(data) {
			if own[ino] {
				out[ino] = addr
			}
		}
	}
	if read == 0 {
		problems = append(problems, "cannot read /proc/self/net/tcp or tcp6")
	}
	return out, problems
}

// parseListeners reads a /proc/net/tcp or tcp6 table and returns the listening sockets, inode -> address.
func parseListeners(data []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	first := true
	for sc.Scan() {
		if first { // the header
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...
		if len(f) < 10 || f[3] != "0A" {
			continue
		}
		addr, ok := parseProcAddr(f[1])
		if !ok {
			addr = f[1]
		}
		out[f[9]] = addr
	}
	return out
}

// parseProcAddr decodes "0100007F:1F90" (IPv4) or a 32-hex-digit IPv6 address and port, as the kernel writes
// them: the address as 32-bit words in host (little-endian) order, the port in big-endian hex.
func parseProcAddr(s string) (string, bool) {
	host, port, ok := strings.Cut(s, ":")
	if !ok {
		return "", false
	}
	p, err := strconv.ParseUint(port, 16, 16)
	if err != nil {
		return "", false
	}
	raw, err := hex.DecodeString(host)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return "", false
	}
	for i := 0; i < len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	ip, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(ip.Unmap(), uint16(p)).String(), true
}

// readMappings lists mappings of files and special inodes (not the anonymous heap, stacks, [vdso] ...).
// The executable and its libraries are mapped before any snapshot and stay.
func readMappings(problems []string) (map[string]string, []string) {
	out := map[string]string{}
	data, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return out, append(problems, fmt.Sprintf("cannot read /proc/self/maps: %v", err))
	}
	for _, line := range strings.Split(string(data), "\n") {
		// start-end perms offset dev inode path
		f := strings.Fields(line)
		if len(f) < 6 {
			continue
		}
		path := strings.Join(f[5:], " ")
		if strings.HasPrefix(path, "[") {
			continue
		}
		out[f[0]+" "+path] = fmt.Sprintf("%s %s %s (offset %s)", f[0], f[1], path, f[2])
	}
	return out, problems
}

// readThreads lists this process's io_uring kernel threads (iou-sqp-*, iou-wrk-*).
func readThreads(problems []string) (map[string]string, []string) {
	out := map[string]string{}
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return out, append(problems, fmt.Sprintf("cannot list threads: %v", err))
	}
	for _, task := range tasks {
		st, ok := parseStat("/proc/self/task/" + task.Name() + "/stat")
		if !ok || !strings.HasPrefix(st.comm, "iou-") {
			continue
		}
		out[task.Name()+"/"+st.start] = fmt.Sprintf("tid %s (%s)", task.Name(), st.comm)
	}
	return out, problems
}

// statID is the device and inode of what fi describes.
func statID(fi os.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("%d/%d", st.Dev, st.Ino)
	}
	return ""
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if sub != "" && strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}

// PrivateTempDir points TMPDIR at a fresh directory for the rest of the process and returns it with a
// function that removes it and restores TMPDIR. A TestMain calls it first so that the temporary-file check
// sees this test binary's files only, not those of test binaries running beside it.
func PrivateTempDir() (dir string, restore func(), err error) {
	old, had := os.LookupEnv("TMPDIR")
	dir, err = os.MkdirTemp("", "leakcheck-")
	if err != nil {
		return "", nil, err
	}
	if err := os.Setenv("TMPDIR", dir); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, func() {
		if had {
			os.Setenv("TMPDIR", old)
		} else {
			os.Unsetenv("TMPDIR")
		}
		os.RemoveAll(dir)
	}, nil
}
