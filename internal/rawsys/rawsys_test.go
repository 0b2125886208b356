package rawsys

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ringbench/ringbench/internal/testsupport"
)

func TestReadSendOnASocketPair(t *testing.T) {
	fds := testsupport.SocketPair(t, unix.SOCK_NONBLOCK)
	buf := make([]byte, 16)
	if _, errno := Read(fds[1], buf); errno != unix.EAGAIN {
		t.Fatalf("read of an empty socket: errno %v, want EAGAIN", errno)
	}
	if n, errno := Send(fds[0], []byte("hello")); n != 5 || errno != 0 {
		t.Fatalf("send: %d %v", n, errno)
	}
	if n, errno := Read(fds[1], buf); n != 5 || errno != 0 || string(buf[:n]) != "hello" {
		t.Fatalf("read: %d %v %q", n, errno, buf[:n])
	}
	unix.Close(fds[1])
	if _, errno := Send(fds[0], []byte("x")); errno != unix.EPIPE {
		t.Fatalf("send to a closed peer: errno %v, want EPIPE (and no SIGPIPE)", errno)
	}
}
