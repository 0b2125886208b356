package epollinfo

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRegistrations: an eventfd registered edge-triggered with an epoll instance shows in its fdinfo with
// the mask given (and EPOLLERR|EPOLLHUP, which the kernel adds), and the instance is found watching it.
func TestRegistrations(t *testing.T) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ep)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, efd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET}); err != nil {
		t.Fatal(err)
	}
	regs, err := Registrations(ep)
	if err != nil {
		t.Fatal(err)
	}
	want := uint32(unix.EPOLLIN | unix.EPOLLERR | unix.EPOLLHUP | unix.EPOLLET)
	if len(regs) != 1 || regs[efd] != want {
		t.Errorf("registrations %v, want fd %d with %#x", regs, efd, want)
	}
	eps, err := Watching(efd)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(eps, []int{ep}) {
		t.Errorf("instances watching fd %d: %v, want [%d]", efd, eps, ep)
	}
	if k := Kind(efd); k != "anon_inode:[eventfd]" {
		t.Errorf("kind %q", k)
	}
}
