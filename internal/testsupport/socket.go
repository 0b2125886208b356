package testsupport

import (
	"testing"

	"golang.org/x/sys/unix"
)

// SocketPair returns a connected pair of Unix stream sockets, flags (unix.SOCK_NONBLOCK, SOCK_CLOEXEC)
// added to their type; both are closed when the test ends.
func SocketPair(tb testing.TB, flags int) [2]int {
	tb.Helper()
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|flags, 0)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = unix.Close(sp[0]); _ = unix.Close(sp[1]) })
	return sp
}
