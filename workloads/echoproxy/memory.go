package echoproxy

import (
	"bufio"
	"bytes"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/ringbench/ringbench/internal/result"
	"golang.org/x/sys/unix"
)

// MemSnap is the server process's resident memory and the kernel's slab memory at one moment.
type MemSnap struct {
	RSS       int64
	Slab      int64
	SlabValid bool
	// SlabSource is /proc/slabinfo (exact bytes, root only) or /proc/meminfo (kB, readable by anyone).
	SlabSource string
}

// TakeMem returns this process's memory after giving freed heap back to the OS (so that RSS is what is
// live, not what the garbage collector has yet to return).
func TakeMem() MemSnap {
	debug.FreeOSMemory() // runs a GC, then returns free pages
	var m MemSnap
	if b, err := os.ReadFile("/proc/self/statm"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			if pages, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				m.RSS = pages * int64(unix.Getpagesize())
			}
		}
	}
	m.Slab, m.SlabSource, m.SlabValid = slabBytes()
	return m
}

// slabBytes sums the kernel's slab caches.
func slabBytes() (int64, string, bool) {
	if b, err := os.ReadFile("/proc/slabinfo"); err == nil {
		var total int64
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 4 || strings.HasPrefix(f[0], "#") || f[0] == "slabinfo" {
				continue
			}
			num, err1 := strconv.ParseInt(f[2], 10, 64)
			size, err2 := strconv.ParseInt(f[3], 10, 64)
			if err1 == nil && err2 == nil {
				total += num * size
			}
		}
		return total, "/proc/slabinfo", true
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 2 && f[0] == "Slab:" {
				if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
					return kb << 10, "/proc/meminfo", true
				}
			}
		}
	}
	return 0, "", false
}

// ConnMemory is the memory per connection between two snapshots n connections apart. Slab growth is the
// whole kernel's: on loopback it includes the client's end of each connection as well as the server's.
func ConnMemory(before, after MemSnap, n int) *result.ConnMemory {
	if n <= 0 {
		return nil
	}
	m := &result.ConnMemory{IdleConns: n, RSSDeltaBytes: after.RSS - before.RSS}
	m.RSSPerConnBytes = float64(m.RSSDeltaBytes) / float64(n)
	if before.SlabValid && after.SlabValid {
		v := float64(after.Slab-before.Slab) / float64(n)
		m.SlabPerConnBytes = &v
	}
	return m
}
