package caps

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ringbench/ringbench/internal/ring"
)

// trialTimeout bounds each wait for a completion in the multishot trials.
const trialTimeout = time.Second

const (
	udAccept = 1
	udRecv   = 2
)

var acceptMemo, recvMemo memo[error]

// MultishotAccept reports whether one multishot ACCEPT request (5.19+) accepts two loopback TCP
// connections and stays armed (IORING_CQE_F_MORE).
func MultishotAccept() error { return acceptMemo.get(probeAccept) }

// MultishotRecv reports whether one multishot RECV request (6.0+) delivers two messages into a
// provided-buffer ring and stays armed.
func MultishotRecv() error { return recvMemo.get(probeRecv) }

// newTrial sets up a ring able to wait with a timeout, after checking that the kernel has op.
func newTrial(op uint8, what string) (*trial, error) {
	if err := Setup(); err != nil {
		return nil, err
	}
	if err := Opcode(op); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			return nil, &Error{Capability: what, Reason: "the kernel has no " + ring.OpcodeName(op) + " opcode", Err: err}
		}
		return nil, err
	}
	r, err := probeRing()
	if err != nil {
		return nil, err
	}
	if r.Features()&ring.FeatExtArg == 0 {
		r.Close()
		return nil, errors.New("the kernel lacks IORING_FEAT_EXT_ARG (5.11+) needed for a bounded wait")
	}
	return &trial{r: r}, nil
}

func probeAccept() error {
	const what = "multishot accept"
	t, err := newTrial(ring.OpAccept, what)
	if err != nil {
		return err
	}
	defer t.close()
	lfd, sa, err := listenLoopback()
	if err != nil {
		return fmt.Errorf("no loopback TCP: %w", err)
	}
	t.fds = append(t.fds, lfd)
	if !t.prep(ring.Accept{FD: int32(lfd), Multishot: true, Flags: unix.SOCK_CLOEXEC}, udAccept) {
		return errors.New("submission queue full")
	}
	accepted, more := 0, true
	for i := 0; i < 2; i++ {
		c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			t.fds = append(t.fds, c)
			err = unix.Connect(c, sa)
		}
		if err != nil {
			return fmt.Errorf("loopback connect: %w", err)
		}
		cqe, err := t.wait(udAccept)
		if err != nil {
			return err
		}
		if cqe.Res < 0 {
			e := unix.Errno(-cqe.Res)
			if accepted > 0 && e != unix.EINVAL {
				return fmt.Errorf("multishot accept: the second connection failed: %w", e)
			}
			return refused(what, "5.19", e)
		}
		t.fds = append(t.fds, int(cqe.Res))
		accepted++
		more = more && cqe.More()
	}
	if !more {
		return &Error{Capability: what, Reason: fmt.Sprintf("accepted %d connections but the request did not stay armed (no CQE_F_MORE)", accepted)}
	}
	return nil
}

func probeRecv() error {
	const what = "multishot recv"
	t, err := newTrial(ring.OpRecv, what)
	if err != nil {
		return err
	}
	defer t.close()
	br, err := t.r.NewBufRing(bufGroup, 8, 512)
	if err != nil {
		be := bufRingError(err).(*Error)
		return &Error{Capability: what, Reason: "it needs a provided-buffer ring: " + be.Reason, Errno: be.Errno, Err: err}
	}
	server, client, err := t.connectedPair()
	if err != nil {
		return err
	}
	if !t.prep(ring.Recv{FD: int32(server), Multishot: true, BufferSelect: true, BufGroup: br.Group()}, udRecv) {
		return errors.New("submission queue full")
	}
	for i, m := range []string{"ping", "pong"} {
		if _, err := unix.Write(client, []byte(m)); err != nil {
			return fmt.Errorf("writing to the loopback connection: %w", err)
		}
		cqe, err := t.wait(udRecv)
		if err != nil {
			return err
		}
		if cqe.Res < 0 {
			return refused(what, "6.0", unix.Errno(-cqe.Res))
		}
		data, id, ok := br.Data(cqe)
		if !ok || string(data) != m {
			return &Error{Capability: what, Reason: fmt.Sprintf("multishot recv returned %q (buffer %v), want %q", data, ok, m)}
		}
		br.Recycle(id)
		br.Advance()
		if !cqe.More() {
			if i == 0 {
				return &Error{Capability: what, Reason: "recv completed but did not stay armed (no CQE_F_MORE): no multishot recv"}
			}
			break
		}
	}
	return nil
}

// refused is the Error for a multishot request (what) that failed with e: EINVAL is a kernel older than
// release, which added it.
func refused(what, release string, e unix.Errno) *Error {
	reason := what + " failed: " + e.Error()
	if e == unix.EINVAL {
		reason = "the kernel rejected " + what + " (EINVAL): it needs " + release
	}
	return &Error{Capability: what, Reason: reason, Errno: e, Err: e}
}

// trialError marks failures of the trial itself (a timeout, an enter error), as opposed to the kernel
// refusing the request: the probe could not decide.
type trialError struct{ msg string }

func (e *trialError) Error() string { return e.msg }

type trial struct {
	r    *ring.Ring
	cqes [8]ring.CQE
	// held are completions reaped while waiting for another request.
	held []ring.CQE
	fds  []int
}

func (t *trial) close() {
	for _, fd := range t.fds {
		unix.Close(fd)
	}
	t.r.Close()
}

func (t *trial) prep(op interface{ Prep(*ring.SQE) }, ud uint64) bool {
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

// connectedPair returns a connected loopback TCP pair, or a Unix socket pair where loopback TCP fails.
func (t *trial) connectedPair() (server, client int, err error) {
	if lfd, sa, err := listenLoopback(); err == nil {
		t.fds = append(t.fds, lfd)
		c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err == nil {
			t.fds = append(t.fds, c)
			if err = unix.Connect(c, sa); err == nil {
				s, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
				if err == nil {
					t.fds = append(t.fds, s)
					return s, c, nil
				}
			}
		}
	}
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, -1, fmt.Errorf("no connected socket pair: %w", err)
	}
	t.fds = append(t.fds, sp[0], sp[1])
	return sp[0], sp[1], nil
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
