package perfcount

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Tracepoint ids are numbers the kernel assigns to each trace event at boot; they are stable until reboot,
// so resolved ids are cached for the life of the process.
var (
	idMu    sync.Mutex
	idCache = map[string]uint64{} // "category:name" -> id
)

// RegisterTracepointIDs adds tracepoint ids ("raw_syscalls:sys_enter" -> id) to the cache consulted before
// tracefs. It is for callers that read the ids elsewhere (a privileged parent, `perf list`, an earlier run
// on the same boot) and run where tracefs is unreadable (mode 0700 as non-root). Ids are only valid for the
// boot they were read on.
func RegisterTracepointIDs(ids map[string]uint64) {
	idMu.Lock()
	defer idMu.Unlock()
	for k, v := range ids {
		idCache[k] = v
	}
}

// TracepointIDs resolves the given "category:name" tracepoints to ids, using the cache, then a mounted tracefs,
// then (when allowed) a tracefs mounted for the moment on a private temporary directory. Missing or unreadable
// events come back in errs, keyed like the request.
func TracepointIDs(events []string) (ids map[string]uint64, errs map[string]error) {
	ids = map[string]uint64{}
	errs = map[string]error{}
	var todo []string
	idMu.Lock()
	for _, e := range events {
		if id, ok := idCache[e]; ok {
			ids[e] = id
		} else {
			todo = append(todo, e)
		}
	}
	idMu.Unlock()
	if len(todo) == 0 {
		return ids, errs
	}
	tf := findTracefs()
	if tf.err != nil {
		for _, e := range todo {
			errs[e] = tf.err
		}
		return ids, errs
	}
	if tf.cleanup != nil {
		defer tf.cleanup()
	}
	for _, e := range todo {
		id, err := readID(tf.root, e)
		if err != nil {
			errs[e] = err
			continue
		}
		ids[e] = id
		idMu.Lock()
		idCache[e] = id
		idMu.Unlock()
	}
	return ids, errs
}

func readID(root, event string) (uint64, error) {
	cat, name, ok := strings.Cut(event, ":")
	if !ok || !validTraceName(cat) || !validTraceName(name) {
		return 0, fmt.Errorf("invalid tracepoint name %q", event)
	}
	b, err := os.ReadFile(filepath.Join(root, "events", cat, name, "id"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("tracepoint %s does not exist in %s (not a syscall of this kernel/arch?)", event, root)
		}
		return 0, fmt.Errorf("tracefs unreadable: %w", err)
	}
	id, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("tracepoint %s: bad id %q", event, b)
	}
	return id, nil
}

func validTraceName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// tracefsInfo says where tracefs was found. cleanup, when set, unmounts a temporary mount.
type tracefsInfo struct {
	root    string
	temp    bool
	err     error
	cleanup func()
}

// TracefsStatus describes how tracepoint ids can be read here; see Check.
type TracefsStatus struct {
	Readable bool   // ids can be read (possibly through a temporary mount)
	Path     string // the mounted tracefs; empty when not readable or only through a temporary mount
	TempMnt  bool   // no tracefs was mounted: one was mounted on a temporary directory and unmounted again
	Reason   string // why not readable
}

func tracefsStatus() TracefsStatus {
	tf := findTracefs()
	if tf.cleanup != nil {
		tf.cleanup()
	}
	if tf.err != nil {
		return TracefsStatus{Reason: tf.err.Error()}
	}
	if tf.temp {
		return TracefsStatus{Readable: true, TempMnt: true}
	}
	return TracefsStatus{Readable: true, Path: tf.root}
}

// findTracefs looks for a readable tracefs: the standard mount points, then any tracefs in /proc/self/mounts.
// When none is mounted and we may mount (root / CAP_SYS_ADMIN), it mounts one on a fresh temporary directory,
// as perf does, but undoes it through cleanup so that nothing persists.
func findTracefs() tracefsInfo {
	cands := []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}
	if f, err := os.Open("/proc/self/mounts"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 3 && fields[2] == "tracefs" {
				cands = append(cands, fields[1])
			}
		}
		f.Close()
	}
	var firstErr error
	for _, root := range cands {
		_, err := os.Stat(filepath.Join(root, "events", "raw_syscalls"))
		if err == nil {
			return tracefsInfo{root: root}
		}
		if errors.Is(err, os.ErrPermission) && firstErr == nil {
			firstErr = fmt.Errorf("tracefs unreadable at %s (mode 0700; tracepoint ids need root or a registered id): %w", root, err)
		}
	}
	if firstErr != nil {
		return tracefsInfo{err: firstErr}
	}
	// Nothing mounted: mount our own for the moment.
	dir, err := os.MkdirTemp("", "perfcount-tracefs-")
	if err != nil {
		return tracefsInfo{err: fmt.Errorf("tracefs not mounted, and no temporary directory to mount it: %w", err)}
	}
	if err := unix.Mount("nodev", dir, "tracefs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		os.Remove(dir)
		return tracefsInfo{err: fmt.Errorf("tracefs not mounted (tried /sys/kernel/tracing, /sys/kernel/debug/tracing) and mounting it failed: %w", err)}
	}
	cleanup := func() {
		_ = unix.Unmount(dir, unix.MNT_DETACH)
		os.Remove(dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "events", "raw_syscalls")); err != nil {
		cleanup()
		return tracefsInfo{err: fmt.Errorf("temporary tracefs mount has no raw_syscalls events: %w", err)}
	}
	return tracefsInfo{root: dir, temp: true, cleanup: cleanup}
}
