package epollserver

import (
	"bytes"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/epollinfo"
	"golang.org/x/sys/unix"
)

// serverRegistrations returns the registrations of the epoll instance that watches the listening socket
// lfd, each with what its descriptor is (see epollinfo.Kind).
func serverRegistrations(t *testing.T, lfd int) (masks map[int]uint32, kinds map[int]string) {
	t.Helper()
	eps, err := epollinfo.Watching(lfd)
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 1 {
		t.Fatalf("epoll instances %v watch the listening socket %d, want one", eps, lfd)
	}
	regs, err := epollinfo.Registrations(eps[0])
	if err != nil {
		t.Fatal(err)
	}
	kinds = map[int]string{}
	for fd := range regs {
		kinds[fd] = epollinfo.Kind(fd)
	}
	return regs, kinds
}

// TestModesRegistration: the kernel holds each mode's registration of a connection: level-triggered for
// level, EPOLLET for input and output for edge, EPOLLONESHOT for oneshot (disarmed, its events cleared,
// between an event and the re-arm, so it is read while the connection idles after a round trip). The
// listening socket and the wake eventfd stay level-triggered.
func TestModesRegistration(t *testing.T) {
	const et, oneshot = uint32(unix.EPOLLET), uint32(unix.EPOLLONESHOT)
	for _, tc := range []struct {
		mode Mode
		want uint32
	}{
		{Level, unix.EPOLLIN},
		{Edge, unix.EPOLLIN | unix.EPOLLOUT | et},
		{Oneshot, unix.EPOLLIN | oneshot},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			_, addr, lfd := startFD(t, Config{MaxConns: 8, Mode: tc.mode})
			echo(t, dial(t, addr, 10*time.Second), []byte("ping"))
			regs, kinds := serverRegistrations(t, lfd)
			// A oneshot registration is disarmed (events cleared but EPOLLONESHOT) from its event until
			// the server re-arms it, which may come after the reply.
			for deadline := time.Now().Add(10 * time.Second); slices.Contains(slices.Collect(maps.Values(regs)), oneshot) &&
				time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
				regs, kinds = serverRegistrations(t, lfd)
			}
			if len(regs) != 3 {
				t.Fatalf("registrations %v of %v, want the listener, the eventfd and one connection", regs, kinds)
			}
			conns := 0
			for fd, mask := range regs {
				want := uint32(unix.EPOLLIN | unix.EPOLLERR | unix.EPOLLHUP) // the kernel adds ERR and HUP to every registration
				if fd != lfd && strings.HasPrefix(kinds[fd], "socket:") {
					want |= tc.want
					conns++
				}
				if mask != want {
					t.Errorf("fd %d (%s) registered with %#x, want %#x", fd, kinds[fd], mask, want)
				}
			}
			if conns != 1 {
				t.Errorf("registrations %v of %v, want one connection", regs, kinds)
			}
		})
	}
}

// TestEdgeDrains: in edge mode, messages much larger than the socket buffers go through a proxy and an
// echo server whole, in both directions at once. Each edge is reported once, so a server that left bytes
// unread, or a backlog unwritten, after an edge would stall them.
func TestEdgeDrains(t *testing.T) {
	echo, echoAddr := start(t, Config{MaxConns: 8, Mode: Edge})
	proxy, proxyAddr := start(t, Config{MaxConns: 8, Upstream: echoAddr, Mode: Edge})
	for _, tc := range []struct {
		name string
		addr string
	}{{"echo", echoAddr}, {"proxy", proxyAddr}} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, tc.addr, 30*time.Second)
			msg := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuv"), 1<<19) // 16 MiB
			for i := 0; i < len(msg); i += 4093 {
				msg[i] = byte(i / 4093)
			}
			werr := make(chan error, 1)
			go func() {
				_, err := c.Write(msg)
				werr <- err
			}()
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatalf("read: %v (write: %v)", err, <-werr)
			}
			if err := <-werr; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, msg) {
				t.Fatal("echo differs from what was sent")
			}
		})
	}
	const total = 2 << 24
	if st := echo.Stats(); st.BytesIn != total {
		t.Errorf("echo stats %+v, want %d bytes in", st, total)
	}
	if st := proxy.Stats(); st.BytesIn != total/2 {
		t.Errorf("proxy stats %+v, want %d bytes in", st, total/2)
	}
	t.Logf("pauses: proxy %d, echo %d", proxy.Stats().Paused, echo.Stats().Paused)
}
