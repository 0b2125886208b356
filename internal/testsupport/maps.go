package testsupport

import (
	"bufio"
	"fmt"
	"os"
	"testing"
)

// Mapped reports whether addr lies in a mapping of this process (/proc/self/maps).
func Mapped(tb testing.TB, addr uintptr) bool {
	tb.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var lo, hi uintptr
		if _, err := fmt.Sscanf(sc.Text(), "%x-%x", &lo, &hi); err == nil && addr >= lo && addr < hi {
			return true
		}
	}
	return false
}

// OpenFDs counts this process's open file descriptors (/proc/self/fd, with the one reading it).
func OpenFDs(tb testing.TB) int {
	tb.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatal(err)
	}
	return len(ents)
}
