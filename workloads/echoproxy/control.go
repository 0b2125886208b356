package echoproxy

// The control channel of split roles: `ringbench serve` runs the server under test and listens on a
// control address besides; `ringbench load --control ADDR` asks it, over one TCP connection speaking one
// JSON object per line, to measure its own process over exactly the load's window (syscalls, CPU, context
// switches, RSS) and its memory per idle connection, and writes those figures into its result file. The
// server's figures so stay the server process's alone even when load and server run on two hosts.
//
// Every request carries the server's token (serve prints it and can write it to a file); a request
// without it is refused. The measurement belongs to one session, the first control connection to say
// "hello" (or to ask for "mem-base" or "begin" while none holds it), until that connection closes: other sessions' measuring requests are
// refused, a second "begin" while a window is open is refused, and "end" is taken only from the session
// that began. Requests are bounded (MaxRequestBytes, MaxMemConns, deadlines), and each refusal is logged
// as one line.

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/loadgen"
	"github.com/ringbench/ringbench/internal/measure"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/termsafe"
)

// Bounds of the control channel.
const (
	// MaxRequestBytes bounds one request line; a longer one is refused and its connection closed.
	MaxRequestBytes = 4 << 10
	// MaxMemConns is the most connections a "mem" request may wait for: the load generator's own limit.
	MaxMemConns = loadgen.MaxConns
	// MaxControlConns is how many control connections are served at once; more are refused.
	MaxControlConns = 64
	// MinTokenLen is the shortest token serve accepts (--control-token).
	MinTokenLen = 16

	helloTimeout = 10 * time.Second // for a new connection's first request
	// idleTimeout is how long a session may wait between requests: longer than a sample's warmup and
	// window together (each at most an hour).
	idleTimeout  = 3 * time.Hour
	replyTimeout = 10 * time.Second
	memTimeout   = 30 * time.Second
	maxLogged    = 20 // refusals logged per connection; then one line saying the rest are not
)

// ErrRefused marks a request the control server refused (wrong token, another session's measurement,
// out of bounds).
var ErrRefused = errors.New("refused")

type ctlRequest struct {
	Op    string `json:"op"`
	Token string `json:"token,omitempty"`
	Ops   int64  `json:"ops,omitempty"`
	Conns int    `json:"conns,omitempty"`
}

type ctlResponse struct {
	OK        bool               `json:"ok"`
	Refused   bool               `json:"refused,omitempty"`
	Error     string             `json:"error,omitempty"`
	Backend   string             `json:"backend,omitempty"`
	Topology  string             `json:"topology,omitempty"`
	Multishot bool               `json:"multishot,omitempty"`
	EpollMode string             `json:"epoll_mode,omitempty"`
	PID       int                `json:"pid,omitempty"`
	Sample    *result.Sample     `json:"sample,omitempty"`
	Memory    *result.ConnMemory `json:"memory,omitempty"`
}

// ControlInfo describes the server to a load generator.
type ControlInfo struct {
	Topology  string
	Multishot bool
	// EpollMode is the epoll server's --epoll-mode ("" or backend.EpollEdge: the default).
	EpollMode string
}

// ControlOptions are the control server's token and where it logs refusals.
type ControlOptions struct {
	Token string    // required: every request must carry it
	Log   io.Writer // one line per refused request (nil: not logged)
}

// NewToken returns a random token (32 hex digits).
func NewToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("control token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// CheckToken says why t cannot be a control token: too short, or not printable ASCII.
func CheckToken(t string) error {
	if len(t) < MinTokenLen || len(t) > 256 {
		return fmt.Errorf("token of %d characters: want %d to 256", len(t), MinTokenLen)
	}
	for _, r := range t {
		if r <= ' ' || r > '~' {
			return errors.New("token: printable ASCII without spaces only")
		}
	}
	return nil
}

// ReadTokenFile reads a token written by serve --control-token-file (surrounding white space dropped).
func ReadTokenFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return "", err
	}
	t := strings.TrimSpace(string(b))
	if err := CheckToken(t); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// session is one control connection.
type session struct {
	remote string
	base   *MemSnap // from this session's mem-base
	logged int
}

// controlServer is the state the sessions share.
type controlServer struct {
	ss    *ServerSide
	m     *measure.Meter
	info  ControlInfo
	token []byte
	log   io.Writer

	mu    sync.Mutex
	owner *session // the session the measurement belongs to, nil when none
	win   *Window
	logMu sync.Mutex
}

// ServeControl answers control connections on ln until ln is closed, measuring windows with m. An empty
// o.Token refuses every request.
func ServeControl(ln net.Listener, ss *ServerSide, m *measure.Meter, info ControlInfo, o ControlOptions) {
	cs := &controlServer{ss: ss, m: m, info: info, token: []byte(o.Token), log: o.Log}
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		if cs.win != nil {
			cs.win.Close()
		}
	}()
	conns := map[net.Conn]bool{}
	var cmu sync.Mutex
	for {
		c, err := ln.Accept()
		if err != nil {
			cmu.Lock()
			for c := range conns {
				c.Close()
			}
			cmu.Unlock()
			return
		}
		cmu.Lock()
		full := len(conns) >= MaxControlConns
		if !full {
			conns[c] = true
		}
		cmu.Unlock()
		if full {
			sess := &session{remote: c.RemoteAddr().String()}
			cs.refuse(c, sess, "connect", fmt.Sprintf("%d control connections open already", MaxControlConns))
			c.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { cmu.Lock(); delete(conns, c); cmu.Unlock(); c.Close() }()
			cs.serveConn(c)
		}()
	}
}

// serveConn serves one session's requests, one at a time, and gives up its measurement when it ends.
func (cs *controlServer) serveConn(c net.Conn) {
	sess := &session{remote: c.RemoteAddr().String()}
	defer cs.release(sess)
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 0, 512), MaxRequestBytes)
	authed := false // a request with the token was answered
	for {
		d := idleTimeout
		if !authed {
			d = helloTimeout
		}
		_ = c.SetReadDeadline(time.Now().Add(d))
		if !sc.Scan() {
			if errors.Is(sc.Err(), bufio.ErrTooLong) {
				cs.refuse(c, sess, "?", fmt.Sprintf("request longer than %d bytes", MaxRequestBytes))
			}
			return
		}
		var req ctlRequest
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			cs.refuse(c, sess, "?", "bad request: "+err.Error())
			return
		}
		if subtle.ConstantTimeCompare([]byte(req.Token), cs.token) != 1 || len(cs.token) == 0 {
			// Closed (as after a bad request), so that a connection without the token cannot hold one of
			// MaxControlConns.
			cs.refuse(c, sess, req.Op, "no or wrong token")
			return
		}
		resp, refusal := cs.handle(sess, req)
		if refusal != "" {
			cs.refuse(c, sess, req.Op, refusal)
			continue
		}
		authed = true
		_ = c.SetWriteDeadline(time.Now().Add(replyTimeout))
		if err := json.NewEncoder(c).Encode(resp); err != nil {
			return
		}
	}
}

// handle answers one authenticated request, or says why it is refused.
func (cs *controlServer) handle(sess *session, req ctlRequest) (resp ctlResponse, refusal string) {
	switch req.Op {
	case "hello":
		cs.mu.Lock()
		if cs.owner == nil {
			cs.owner = sess
		}
		cs.mu.Unlock()
		resp.OK, resp.Backend, resp.Topology, resp.Multishot, resp.PID = true, cs.ss.Backend.Name(), cs.info.Topology, cs.info.Multishot, os.Getpid()
		resp.EpollMode = cs.info.EpollMode
		return resp, ""
	case "begin", "mem-base":
		cs.mu.Lock()
		defer cs.mu.Unlock()
		if cs.owner != nil && cs.owner != sess {
			return resp, "another load session (" + cs.owner.remote + ") holds the measurement"
		}
		if cs.win != nil {
			return resp, "a measurement window is open already"
		}
		cs.owner = sess
		if req.Op == "mem-base" {
			m := TakeMem()
			sess.base, resp.OK = &m, true
			return resp, ""
		}
		w, err := cs.ss.Begin(cs.m)
		if err != nil {
			resp.Error = err.Error()
			return resp, ""
		}
		cs.win, resp.OK = w, true
		return resp, ""
	case "end":
		if req.Ops < 0 {
			return resp, fmt.Sprintf("ops %d: must not be negative", req.Ops)
		}
		cs.mu.Lock()
		defer cs.mu.Unlock()
		if cs.owner != sess || cs.win == nil {
			return resp, "end without a begin in this session"
		}
		var sm result.Sample
		err := cs.win.End(req.Ops, &sm)
		cs.win = nil
		if err != nil {
			resp.Error = err.Error()
			return resp, ""
		}
		resp.OK, resp.Sample = true, &sm
		return resp, ""
	case "mem":
		if req.Conns < 1 || req.Conns > MaxMemConns {
			return resp, fmt.Sprintf("conns %d: want 1 to %d", req.Conns, MaxMemConns)
		}
		cs.mu.Lock()
		mine := cs.owner == sess && sess.base != nil
		cs.mu.Unlock()
		if !mine {
			return resp, "mem without a mem-base in this session"
		}
		// Not under mu: the wait is this session's alone, and bounded.
		if err := cs.ss.WaitOpen(int64(req.Conns), memTimeout); err != nil {
			resp.Error = err.Error()
			return resp, ""
		}
		time.Sleep(50 * time.Millisecond)
		resp.OK, resp.Memory = true, ConnMemory(*sess.base, TakeMem(), req.Conns)
		return resp, ""
	}
	return resp, fmt.Sprintf("unknown op %q", req.Op)
}

// release gives up sess's measurement, closing a window it left open.
func (cs *controlServer) release(sess *session) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.owner != sess {
		return
	}
	if cs.win != nil {
		cs.win.Close()
		cs.win = nil
	}
	cs.owner = nil
}

// refuse answers a refused request and logs it, as one sanitized line.
// The line is logged before the answer goes out, so that whoever reads the answer finds it logged.
func (cs *controlServer) refuse(c net.Conn, sess *session, op, why string) {
	cs.logRefusal(sess, op, why)
	_ = c.SetWriteDeadline(time.Now().Add(replyTimeout))
	_ = json.NewEncoder(c).Encode(ctlResponse{Refused: true, Error: "refused: " + why})
}

func (cs *controlServer) logRefusal(sess *session, op, why string) {
	if cs.log == nil {
		return
	}
	sess.logged++
	if len(op) > 32 {
		op = op[:32] + "..."
	}
	line := ""
	switch {
	case sess.logged <= maxLogged:
		line = fmt.Sprintf("ringbench: control: refused %q from %s: %s", op, sess.remote, why)
	case sess.logged == maxLogged+1:
		line = fmt.Sprintf("ringbench: control: further refusals from %s are not logged", sess.remote)
	default:
		return
	}
	cs.logMu.Lock()
	defer cs.logMu.Unlock()
	fmt.Fprintln(cs.log, termsafe.String(line))
}

// ControlClient is the load generator's side of the control channel.
type ControlClient struct {
	c     net.Conn
	sc    *bufio.Scanner
	token string
	Info  ControlInfo
	// Backend is the server's backend name.
	Backend string
}

// DialControl connects to a server's control address and says hello with token.
func DialControl(addr, token string) (*ControlClient, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("--control %s: %w", addr, err)
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	cc := &ControlClient{c: c, sc: sc, token: token}
	resp, err := cc.call(ctlRequest{Op: "hello"}, 10*time.Second)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.Topology != backend.TopologyEcho && resp.Topology != backend.TopologyProxy {
		c.Close()
		return nil, fmt.Errorf("--control %s: the server names topology %q", addr, termsafe.String(resp.Topology))
	}
	name := resp.Backend
	if _, err := backend.Lookup(name); err != nil {
		c.Close()
		return nil, fmt.Errorf("--control %s: the server names backend %q, which this ringbench does not know", addr, termsafe.String(name))
	}
	if err := backend.CheckEpollMode(resp.EpollMode); err != nil {
		c.Close()
		return nil, fmt.Errorf("--control %s: the server names %s %q, which this ringbench does not know", addr, backend.FlagEpollMode, termsafe.String(resp.EpollMode))
	}
	cc.Backend, cc.Info = name, ControlInfo{Topology: resp.Topology, Multishot: resp.Multishot, EpollMode: resp.EpollMode}
	return cc, nil
}

func (cc *ControlClient) call(req ctlRequest, timeout time.Duration) (ctlResponse, error) {
	req.Token = cc.token
	_ = cc.c.SetDeadline(time.Now().Add(timeout))
	b, _ := json.Marshal(req)
	if _, err := cc.c.Write(append(b, '\n')); err != nil {
		return ctlResponse{}, fmt.Errorf("control channel: %s: %w", req.Op, err)
	}
	if !cc.sc.Scan() {
		err := cc.sc.Err()
		if err == nil {
			err = errors.New("closed by the server")
		}
		return ctlResponse{}, fmt.Errorf("control channel: %s: %w", req.Op, err)
	}
	var resp ctlResponse
	if err := json.Unmarshal(cc.sc.Bytes(), &resp); err != nil {
		return resp, fmt.Errorf("control channel: %s: unreadable answer: %w", req.Op, err)
	}
	if !resp.OK {
		msg := termsafe.String(resp.Error)
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
		if resp.Refused {
			return resp, fmt.Errorf("server: %s: %w: %s", req.Op, ErrRefused, strings.TrimPrefix(msg, "refused: "))
		}
		return resp, fmt.Errorf("server: %s: %s", req.Op, msg)
	}
	return resp, nil
}

// Begin starts the server's measured window.
func (cc *ControlClient) Begin() error {
	_, err := cc.call(ctlRequest{Op: "begin"}, 30*time.Second)
	return err
}

// End ends it and returns the server's figures over ops requests.
func (cc *ControlClient) End(ops int64) (*result.Sample, error) {
	resp, err := cc.call(ctlRequest{Op: "end", Ops: ops}, 30*time.Second)
	return resp.Sample, err
}

// MemBase takes the server's memory before idle connections open.
func (cc *ControlClient) MemBase() error {
	_, err := cc.call(ctlRequest{Op: "mem-base"}, 30*time.Second)
	return err
}

// Mem waits until the server holds conns connections and returns its memory per connection since MemBase.
func (cc *ControlClient) Mem(conns int) (*result.ConnMemory, error) {
	resp, err := cc.call(ctlRequest{Op: "mem", Conns: conns}, 60*time.Second)
	return resp.Memory, err
}

// Close closes the control connection.
func (cc *ControlClient) Close() error { return cc.c.Close() }

// MergeServer copies the server's figures (from End) into the load generator's sample.
func MergeServer(sm *result.Sample, srv *result.Sample) {
	if srv == nil {
		return
	}
	sm.Syscalls, sm.CPU, sm.ContextSwitches, sm.PeakRSSBytes, sm.EntersPerOp = srv.Syscalls, srv.CPU, srv.ContextSwitches, srv.PeakRSSBytes, srv.EntersPerOp
	if sm.Syscalls.Scope == "process" {
		sm.Syscalls.Scope = "server"
	}
	if sm.CPU.Scope == "process" {
		sm.CPU.Scope = "server"
	}
	sm.Warnings = result.AddWarnings(sm.Warnings, srv.Warnings...)
}
