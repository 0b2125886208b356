package probe

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringbench/ringbench/internal/fingerprint"
	"github.com/ringbench/ringbench/internal/ring"
)

// trialTimeout bounds each wait for a completion while trying multishot requests.
const trialTimeout = time.Second

const (
	udAccept = 1
	udRecv   = 2
	bufGroup = 1
)

// tryNetworking decides buffer-ring, multishot-accept and multishot-recv support by trying them on loopback
// TCP with a real ring; where trying is impossible it decides from the opcode probe and the kernel release
// (buffer rings and multishot accept: 5.19, multishot recv: 6.0).
func tryNetworking(iou fingerprint.IOUringProbe, release string) (buf, acc, recv Support) {
	if !iou.IOUring.SetupOK {
		no := Support{How: "not tried", Detail: "io_uring setup fails"}
		return no, no, no
	}
	hasAccept := opcodeSupported(iou.Supported, ring.OpAccept)
	hasRecv := opcodeSupported(iou.Supported, ring.OpRecv)
	byVersion := func(ok bool, what, since string, why string) Support {
		s := Support{Supported: ok, How: "kernel version"}
		if ok {
			s.Detail = fmt.Sprintf("kernel %s has %s (%s+); not tried: %s", release, what, since, why)
		} else {
			s.Detail = fmt.Sprintf("kernel %s: %s needs %s; not tried: %s", release, what, since, why)
		}
		return s
	}
	bufByVersion := func(why string) Support {
		return byVersion(fingerprint.KernelAtLeast(release, 5, 19), "provided-buffer rings", "5.19", why)
	}
	accByVersion := func(why string) Support {
		if !hasAccept {
			return Support{How: "opcode probe", Detail: "the kernel has no ACCEPT opcode"}
		}
		return byVersion(fingerprint.KernelAtLeast(release, 5, 19), "multishot accept", "5.19", why)
	}
	recvByVersion := func(why string) Support {
		if !hasRecv {
			return Support{How: "opcode probe", Detail: "the kernel has no RECV opcode"}
		}
		return byVersion(fingerprint.KernelAtLeast(release, 6, 0), "multishot recv", "6.0", why)
	}

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := ring.New(ring.Params{Entries: 8, SQThreadCPU: -1})
	if err != nil {
		why := "ring setup failed: " + err.Error()
		return bufByVersion(why), accByVersion(why), recvByVersion(why)
	}
	defer r.Close()

	br, err := r.NewBufRing(bufGroup, 8, 512)
	if err != nil {
		buf = Support{How: "tried", Detail: "registering a provided-buffer ring failed: " + err.Error()}
		if errors.Is(err, unix.EINVAL) && !fingerprint.KernelAtLeast(release, 5, 19) {
			buf.Detail = "the kernel does not know IORING_REGISTER_PBUF_RING (added in 5.19)"
		}
	} else {
		buf = Support{Supported: true, How: "tried", Detail: "registered a ring of 8 provided buffers (IORING_REGISTER_PBUF_RING)"}
	}

	if r.Features()&ring.FeatExtArg == 0 {
		why := "the kernel lacks IORING_FEAT_EXT_ARG (5.11+) needed for a bounded wait"
		return buf, accByVersion(why), recvByVersion(why)
	}

	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	t := &trial{r: r}

	// Multishot accept: one request, two connections.
	var server, client int = -1, -1
	if !hasAccept {
		acc = accByVersion("")
	} else if lfd, sa, err := listenLoopback(); err != nil {
		acc = accByVersion("no loopback TCP: " + err.Error())
	} else {
		fds = append(fds, lfd)
		t.prep(ring.Accept{FD: int32(lfd), Multishot: true, Flags: unix.SOCK_CLOEXEC}, udAccept)
		var accepted []int
		var accErr error
		more := true
		for i := 0; i < 2 && accErr == nil; i++ {
			c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err == nil {
				fds = append(fds, c)
				err = unix.Connect(c, sa)
			}
			if err != nil {
				accErr = fmt.Errorf("loopback connect: %w", err)
				break
			}
			if client < 0 {
				client = c
			}
			cqe, err := t.wait(udAccept)
			switch {
			case err != nil:
				accErr = err
			case cqe.Res < 0:
				accErr = unix.Errno(-cqe.Res)
			default:
				fds = append(fds, int(cqe.Res))
				accepted = append(accepted, int(cqe.Res))
				more = more && cqe.More()
			}
		}
		switch {
		case len(accepted) == 2 && more:
			acc = Support{Supported: true, How: "tried", Detail: "one ACCEPT request accepted 2 loopback connections and stayed armed (CQE_F_MORE)"}
		case errors.Is(accErr, unix.EINVAL):
			acc = Support{How: "tried", Detail: "the kernel rejected multishot accept (EINVAL): it needs 5.19"}
		case accErr != nil && len(accepted) == 0 && !isTrialFailure(accErr):
			acc = Support{How: "tried", Detail: "multishot accept failed: " + accErr.Error()}
		case accErr != nil:
			acc = accByVersion(accErr.Error())
		default:
			acc = Support{How: "tried", Detail: fmt.Sprintf("accepted %d connections but the request did not stay armed (no CQE_F_MORE)", len(accepted))}
		}
		if len(accepted) > 0 {
			server = accepted[0]
		}
	}

	// Multishot recv into the provided-buffer ring: one request, two messages.
	if server < 0 {
		// Accept could not give us a connected pair: use a socket pair.
		sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			fds = append(fds, sp[0], sp[1])
			server, client = sp[0], sp[1]
		}
	}
	switch {
	case !hasRecv:
		recv = recvByVersion("")
	case br == nil:
		recv = recvByVersion("it needs a provided-buffer ring, and registering one failed")
	case server < 0:
		recv = recvByVersion("no connected socket pair")
	default:
		recv = t.tryRecv(br, server, client, recvByVersion)
	}
	return buf, acc, recv
}

// trialError marks failures of the trial itself (a timeout, a full queue), as opposed to the kernel
// refusing the request.
type trialError struct{ msg string }

func (e *trialError) Error() string { return e.msg }

func isTrialFailure(err error) bool {
	var te *trialError
	return errors.As(err, &te)
}

type trial struct {
	r    *ring.Ring
	cqes [8]ring.CQE
	// held are completions reaped while waiting for another request.
	held []ring.CQE
}

type prepper interface{ Prep(*ring.SQE) }

func (t *trial) prep(op prepper, ud uint64) bool {
	s := t.r.GetSQE()
	if s == nil {
		return false
	}
	op.Prep(s)
	s.SetUserData(ud)
	return true
}

// wait returns the next completion for user data ud, submitting what is queued, within trialTimeout.
func (t *trial) wait(ud uint64) (ring.CQE, error) {
	deadline := time.Now().Add(trialTimeout)
	for {
		for i, c := range t.held {
			if c.UserData == ud {
				t.held = append(t.held[:i], t.held[i+1:]...)
				return c, nil
			}
		}
		left := time.Until(deadline)
		if left <= 0 {
			return ring.CQE{}, &trialError{"no completion within " + trialTimeout.String()}
		}
		if _, err := t.r.SubmitAndWaitTimeout(1, left); err != nil && !errors.Is(err, unix.ETIME) &&
			!errors.Is(err, unix.EINTR) && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EBUSY) {
			return ring.CQE{}, &trialError{"io_uring_enter: " + err.Error()}
		}
		n := t.r.Reap(t.cqes[:])
		t.held = append(t.held, t.cqes[:n]...)
	}
}

func (t *trial) tryRecv(br *ring.BufRing, server, client int, byVersion func(string) Support) Support {
	if !t.prep(ring.Recv{FD: int32(server), Multishot: true, BufferSelect: true, BufGroup: br.Group()}, udRecv) {
		return byVersion("submission queue full")
	}
	msgs := []string{"ping", "pong"}
	for i, m := range msgs {
		if _, err := unix.Write(client, []byte(m)); err != nil {
			return byVersion("writing to the loopback connection: " + err.Error())
		}
		cqe, err := t.wait(udRecv)
		if err != nil {
			return byVersion(err.Error())
		}
		if cqe.Res < 0 {
			e := unix.Errno(-cqe.Res)
			if e == unix.EINVAL {
				return Support{How: "tried", Detail: "the kernel rejected multishot recv (EINVAL): it needs 6.0"}
			}
			return Support{How: "tried", Detail: "multishot recv failed: " + e.Error()}
		}
		data, id, ok := br.Data(cqe)
		if !ok || string(data) != m {
			return Support{How: "tried", Detail: fmt.Sprintf("multishot recv returned %q (buffer %v), want %q", data, ok, m)}
		}
		br.Recycle(id)
		br.Advance()
		if !cqe.More() {
			if i == 0 {
				return Support{How: "tried", Detail: "recv completed but did not stay armed (no CQE_F_MORE): no multishot recv"}
			}
			break
		}
	}
	return Support{Supported: true, How: "tried", Detail: "one RECV request delivered 2 messages into provided buffers and stayed armed (CQE_F_MORE)"}
}

// listenLoopback opens a listening TCP socket on 127.0.0.1 and returns it with its address.
func listenLoopback() (int, unix.Sockaddr, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		unix.Close(fd)
		return -1, nil, err
	}
	if err := unix.Listen(fd, 8); err != nil {
		unix.Close(fd)
		return -1, nil, err
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		unix.Close(fd)
		return -1, nil, err
	}
	return fd, sa, nil
}
