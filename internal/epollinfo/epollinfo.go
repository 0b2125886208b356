// Package epollinfo reads the kernel's view of this process's epoll instances from /proc/self/fdinfo:
// which descriptors each watches, with which event mask (EPOLLET, EPOLLONESHOT included). Tests use it to
// check how a server registered its connections.
package epollinfo

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Registrations reads the event masks of the descriptors registered with epoll instance epfd, by
// descriptor (fdinfo lines "tfd: FD events: MASK data: ..."). The kernel adds EPOLLERR and EPOLLHUP to
// every mask.
func Registrations(epfd int) (map[int]uint32, error) {
	f, err := os.Open(fmt.Sprintf("/proc/self/fdinfo/%d", epfd))
	if err != nil {
		return nil, fmt.Errorf("epoll fd %d: %w", epfd, err)
	}
	defer f.Close()
	out := map[int]uint32{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || fields[0] != "tfd:" || fields[2] != "events:" {
			continue
		}
		fd, err1 := strconv.Atoi(fields[1])
		mask, err2 := strconv.ParseUint(fields[3], 16, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("fdinfo of epoll fd %d: bad line %q", epfd, sc.Text())
		}
		out[fd] = uint32(mask)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("fdinfo of epoll fd %d: %w", epfd, err)
	}
	return out, nil
}

// Watching returns this process's epoll instances that watch fd.
func Watching(fd int) ([]int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range ents {
		epfd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if link, _ := os.Readlink("/proc/self/fd/" + e.Name()); link != "anon_inode:[eventpoll]" {
			continue
		}
		regs, err := Registrations(epfd)
		if err != nil {
			if os.IsNotExist(err) { // closed since the directory was read
				continue
			}
			return nil, err
		}
		if _, ok := regs[fd]; ok {
			out = append(out, epfd)
		}
	}
	return out, nil
}

// Kind is what fd is, as /proc/self/fd links it: "socket:[INODE]", "anon_inode:[eventfd]"; "" if unknown.
func Kind(fd int) string {
	link, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	return link
}
