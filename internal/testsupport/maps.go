package testsupport

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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

// CheckMemoryAfterClose checks what a ring's Close, which returned closeErr, did with memory at addr (what
// names it) that a request may still write into. After a drain that gave up, Close must keep the memory
// mapped (closing the ring fd does not wait for the kernel to finish the request) and return an error
// matching kept; then data written to lateFD completes the abandoned request, which must fault nothing.
// After a drain that finished, Close must succeed and unmap the memory.
func CheckMemoryAfterClose(tb testing.TB, what string, addr uintptr, gaveUp bool, closeErr, kept error, lateFD int) {
	tb.Helper()
	if !gaveUp {
		if closeErr != nil {
			tb.Errorf("Close after a drain: %v", closeErr)
		}
		if Mapped(tb, addr) {
			tb.Errorf("%s still mapped after a drain and Close", what)
		}
		return
	}
	if !errors.Is(closeErr, kept) {
		tb.Errorf("Close after a drain that gave up: %v, want %v", closeErr, kept)
	}
	if !Mapped(tb, addr) {
		tb.Fatalf("%s unmapped while a request into it may still be in flight", what)
	}
	_, _ = unix.Write(lateFD, []byte("late data"))
	time.Sleep(20 * time.Millisecond)
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
