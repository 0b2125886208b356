package fds

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestCountSeesANewDescriptor(t *testing.T) {
	before := Count()
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if got := Count(); got != before+1 {
		t.Errorf("after eventfd: %d descriptors, want %d", got, before+1)
	}
	unix.Close(fd)
	if got := Count(); got != before {
		t.Errorf("after close: %d descriptors, want %d", got, before)
	}
}

func TestRaiseLimit(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	// What the soft limit already allows needs no change.
	if err := RaiseLimit(int(lim.Cur)); err != nil {
		t.Fatalf("RaiseLimit(%d) at soft limit %d: %v", lim.Cur, lim.Cur, err)
	}
	if lim.Cur < lim.Max {
		if err := RaiseLimit(int(lim.Cur) + 1); err != nil {
			t.Fatalf("RaiseLimit below the hard limit %d: %v", lim.Max, err)
		}
		var now unix.Rlimit
		_ = unix.Getrlimit(unix.RLIMIT_NOFILE, &now)
		if now.Cur < lim.Cur+1 {
			t.Fatalf("soft limit %d after raising to %d", now.Cur, lim.Cur+1)
		}
	}
}
