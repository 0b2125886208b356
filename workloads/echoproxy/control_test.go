package echoproxy

import (
	"bufio"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/loadgen"
	"github.com/ringbench/ringbench/internal/result"
)

// ctlRig is a real echo server with its control port on loopback, and what the control server logged.
type ctlRig struct {
	ss    *ServerSide
	ln    net.Listener  // the control port; closing it stops the control server
	done  chan struct{} // closed when the control server has stopped
	addr  string
	token string
	log   *syncBuf
}

type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func startCtlRig(t *testing.T) *ctlRig {
	t.Helper()
	return startCtlRigInfo(t, ControlInfo{Topology: "echo"})
}

// startCtlRigInfo is startCtlRig, its control server describing the server with info.
func startCtlRigInfo(t *testing.T, info ControlInfo) *ctlRig {
	t.Helper()
	ss, err := StartServer(lookup(t, "epoll"), ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		ss.Close()
		t.Fatal(err)
	}
	token, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	r := &ctlRig{ss: ss, ln: ln, done: make(chan struct{}), addr: ln.Addr().String(), token: token, log: &syncBuf{}}
	go func() {
		defer close(r.done)
		ServeControl(ln, ss, meter, info, ControlOptions{Token: token, Log: r.log})
	}()
	t.Cleanup(func() { ln.Close(); <-r.done; ss.Close() })
	return r
}

// startLoad starts a small load generator against the rig's echo server.
func (r *ctlRig) startLoad() (*loadgen.Generator, error) {
	return startLoad(loadgen.Config{Target: r.ss.Addr, Conns: 2, MsgSize: 64, Pipeline: 1, Engine: loadgen.EngineEpoll})
}

// rawCall sends one line on c and returns the answer.
func rawCall(t *testing.T, c net.Conn, sc *bufio.Scanner, line string) ctlResponse {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		t.Fatal(err)
	}
	if !sc.Scan() {
		t.Fatalf("no answer to %.60q: %v", line, sc.Err())
	}
	var resp ctlResponse
	if err := json.Unmarshal(sc.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func dialRaw(t *testing.T, addr string) (net.Conn, *bufio.Scanner) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewScanner(c)
}

func TestControlRefusesRequestsWithoutTheToken(t *testing.T) {
	r := startCtlRig(t)
	for _, line := range []string{`{"op":"hello"}`, `{"op":"begin","token":"not-the-token-at-all"}`} {
		c, sc := dialRaw(t, r.addr)
		if resp := rawCall(t, c, sc, line); resp.OK || !resp.Refused {
			t.Errorf("%s: %+v, want refused", line, resp)
		}
	}
	if _, err := DialControl(r.addr, "0123456789abcdef-wrong"); !errors.Is(err, ErrRefused) {
		t.Errorf("DialControl with a wrong token: %v, want ErrRefused", err)
	}
	if got := r.log.String(); strings.Count(got, "refused") < 3 || !strings.Contains(got, "no or wrong token") {
		t.Errorf("refusals not logged: %q", got)
	}
}

func TestControlRefusesAnOversizedRequest(t *testing.T) {
	r := startCtlRig(t)
	c, sc := dialRaw(t, r.addr)
	line := `{"op":"hello","token":"` + r.token + `","pad":"` + strings.Repeat("x", MaxRequestBytes) + `\u001b[2J"}`
	if resp := rawCall(t, c, sc, line); resp.OK || !resp.Refused || !strings.Contains(resp.Error, "longer than") {
		t.Errorf("oversized request: %+v", resp)
	}
	if sc.Scan() {
		t.Errorf("connection still open after an oversized request: %q", sc.Text())
	}
	if strings.Contains(r.log.String(), "\x1b") {
		t.Errorf("the log carries an escape sequence: %q", r.log.String())
	}
}

// TestControlIntruderCannotTouchAnotherSessionsWindow opens a real measurement window from one session
// while a second session, holding the token, and a third, without it, try begin, end, mem-base and mem.
func TestControlIntruderCannotTouchAnotherSessionsWindow(t *testing.T) {
	r := startCtlRig(t)
	owner, err := DialControl(r.addr, r.token)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	g, err := r.startLoad()
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := owner.MemBase(); err != nil {
		t.Fatal(err)
	}
	if err := owner.Begin(); err != nil {
		t.Fatal(err)
	}
	if err := g.Mark(); err != nil {
		t.Fatal(err)
	}

	intruder, err := DialControl(r.addr, r.token)
	if err != nil {
		t.Fatal(err)
	}
	defer intruder.Close()
	for name, call := range map[string]func() error{
		"begin":    intruder.Begin,
		"end":      func() error { _, err := intruder.End(1); return err },
		"mem-base": intruder.MemBase,
		"mem":      func() error { _, err := intruder.Mem(100_000_000); return err },
	} {
		if err := call(); !errors.Is(err, ErrRefused) {
			t.Errorf("intruder's %s: %v, want refused", name, err)
		}
	}
	c, sc := dialRaw(t, r.addr)
	if resp := rawCall(t, c, sc, `{"op":"end","ops":1}`); !resp.Refused {
		t.Errorf("end without a token: %+v", resp)
	}
	if err := owner.Begin(); !errors.Is(err, ErrRefused) {
		t.Errorf("a second begin while the window is open: %v, want refused", err)
	}
	if _, err := owner.Mem(MaxMemConns + 1); !errors.Is(err, ErrRefused) {
		t.Errorf("mem beyond MaxMemConns: %v, want refused", err)
	}

	time.Sleep(200 * time.Millisecond)
	res, err := g.Stop()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := owner.End(res.Ops)
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops == 0 || srv == nil || !srv.Syscalls.Available || srv.Syscalls.PerOp <= 0.1 || srv.CPU.PerOpNs <= 0 {
		t.Fatalf("the owner's window was disturbed: ops %d, server sample %+v", res.Ops, srv)
	}
	// Once the owner has gone, another session may measure.
	owner.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := intruder.Begin()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("begin after the owner closed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func joinControl(t *testing.T, r *ctlRig, o JoinOptions) *ControlClient {
	t.Helper()
	cc, err := DialControlJoin(r.addr, r.token, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// both runs f for each client at once and returns their errors.
func both(ccs []*ControlClient, f func(i int, cc *ControlClient) error) []error {
	errs := make([]error, len(ccs))
	var wg sync.WaitGroup
	for i, cc := range ccs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = f(i, cc) }()
	}
	wg.Wait()
	return errs
}

// TestControlLoadersShareOneWindow has two loaders, each with its own real load, measure one server
// window: both get the same window, whose per-request figures are over the sum of their requests; a
// third loader and a lone one are refused meanwhile.
func TestControlLoadersShareOneWindow(t *testing.T) {
	r := startCtlRig(t)
	o := JoinOptions{Loaders: 2, Wait: 20 * time.Second}
	a := joinControl(t, r, JoinOptions{Loaders: 2, Name: "hostA", Wait: o.Wait})
	b := joinControl(t, r, JoinOptions{Loaders: 2, Name: "hostB", Wait: o.Wait})
	if _, err := DialControlJoin(r.addr, r.token, JoinOptions{Loaders: 2, Name: "hostC"}); !errors.Is(err, ErrRefused) ||
		!strings.Contains(err.Error(), "hostA") {
		t.Errorf("a third loader of two: %v, want refused, naming the two", err)
	}
	lone := joinControl(t, r, JoinOptions{})
	ccs := []*ControlClient{a, b}
	gens := make([]*loadgen.Generator, 2)
	for i := range gens {
		g, err := r.startLoad()
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		gens[i] = g
	}
	for sample := 0; sample < 2; sample++ {
		for _, err := range both(ccs, func(i int, cc *ControlClient) error {
			if err := cc.Begin(); err != nil {
				return err
			}
			return gens[i].Mark()
		}) {
			if err != nil {
				t.Fatal(err)
			}
		}
		if a.Window == nil || b.Window == nil || a.Window.ID != b.Window.ID || a.Window.Loaders != 2 {
			t.Fatalf("sample %d: windows %+v and %+v, want one for two loaders", sample, a.Window, b.Window)
		}
		if err := lone.Begin(); !errors.Is(err, ErrRefused) {
			t.Errorf("a lone loader's begin while two hold the measurement: %v, want refused", err)
		}
		time.Sleep(150 * time.Millisecond)
		ops := make([]int64, 2)
		srv := make([]*result.Sample, 2)
		for _, err := range both(ccs, func(i int, cc *ControlClient) error {
			res, err := gens[i].Stop()
			if err != nil {
				return err
			}
			ops[i] = res.Ops
			srv[i], err = cc.End(res.Ops)
			if err == nil {
				// Stop ended the generator's load: the next sample needs a fresh one.
				gens[i].Close()
				gens[i], err = r.startLoad()
			}
			return err
		}) {
			if err != nil {
				t.Fatal(err)
			}
		}
		sum := ops[0] + ops[1]
		w := srv[0].ServerWindow
		if w == nil || *w != *srv[1].ServerWindow || w.Ops != sum || w.Loaders != 2 || w.ID != a.Window.ID {
			t.Fatalf("sample %d: server windows %+v and %+v, want one of %d ops (%d + %d)", sample, w, srv[1].ServerWindow, sum, ops[0], ops[1])
		}
		if !srv[0].Syscalls.Available || srv[0].Syscalls.PerOp != float64(srv[0].Syscalls.Total)/float64(sum) {
			t.Errorf("sample %d: syscalls %+v: per op not over both loaders' %d requests", sample, srv[0].Syscalls, sum)
		}
	}
}

// TestControlLoaderThatDoesNotComeIsNamed: a window whose loaders do not all come fails, naming them.
func TestControlLoaderThatDoesNotComeIsNamed(t *testing.T) {
	r := startCtlRig(t)
	a := joinControl(t, r, JoinOptions{Loaders: 3, Name: "hostA", Wait: 300 * time.Millisecond})
	joinControl(t, r, JoinOptions{Loaders: 3, Name: "hostB"})
	err := a.Begin()
	if err == nil || errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "hostB") ||
		!strings.Contains(err.Error(), "1 of the 3 loaders never connected") || strings.Contains(err.Error(), "from hostA") {
		t.Fatalf("begin without the other loaders: %v, want a failure naming hostB and the one that never came", err)
	}
}

// TestControlLoaderLeavingBreaksTheGroup: a loader that leaves fails the others waiting for it.
func TestControlLoaderLeavingBreaksTheGroup(t *testing.T) {
	r := startCtlRig(t)
	a := joinControl(t, r, JoinOptions{Loaders: 2, Name: "hostA", Wait: 20 * time.Second})
	b := joinControl(t, r, JoinOptions{Loaders: 2, Name: "hostB"})
	go func() { time.Sleep(200 * time.Millisecond); b.Close() }()
	start := time.Now()
	if err := a.Begin(); err == nil || !strings.Contains(err.Error(), "hostB") || !strings.Contains(err.Error(), "left") {
		t.Fatalf("begin when the other loader left: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("begin waited %v for a loader that had left", time.Since(start))
	}
	if err := a.Begin(); !errors.Is(err, ErrRefused) {
		t.Errorf("begin in a broken group: %v, want refused", err)
	}
	a.Close()
	// Once all have gone, a new session may measure.
	deadline := time.Now().Add(5 * time.Second)
	lone := joinControl(t, r, JoinOptions{})
	for err := lone.Begin(); err != nil; err = lone.Begin() {
		if time.Now().After(deadline) {
			t.Fatalf("begin after the group left: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestControlStopsWithoutWaitingForLoaders: a control server that stops does not wait out a barrier.
func TestControlStopsWithoutWaitingForLoaders(t *testing.T) {
	r := startCtlRig(t)
	a, err := DialControlJoin(r.addr, r.token, JoinOptions{Loaders: 2, Name: "hostA", Wait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	begun := make(chan error, 1)
	go func() { begun <- a.Begin() }()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	r.ln.Close()
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the control server still waits for the loaders 10 s after it was told to stop")
	}
	if err := <-begun; err == nil {
		t.Error("begin succeeded on a stopping server")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stopping took %v", d)
	}
}
