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
)

// ctlRig is a real echo server with its control port on loopback, and what the control server logged.
type ctlRig struct {
	ss    *ServerSide
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
	r := &ctlRig{ss: ss, addr: ln.Addr().String(), token: token, log: &syncBuf{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ServeControl(ln, ss, meter, info, ControlOptions{Token: token, Log: r.log})
	}()
	t.Cleanup(func() { ln.Close(); <-done; ss.Close() })
	return r
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
	g, err := loadgen.Dial(loadgen.Config{Target: r.ss.Addr, Conns: 2, MsgSize: 64, Pipeline: 1, Engine: loadgen.EngineEpoll}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Start(time.Minute); err != nil {
		t.Fatal(err)
	}
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
