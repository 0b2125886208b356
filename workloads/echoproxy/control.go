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
//
// Several load processes (load --loaders K, on K hosts) measure one window together: each says hello
// with loaders K, and the first K such sessions form the group the measurement belongs to. The server
// is their barrier: it opens the window when the last of the K has said "begin" for a sample and closes
// it when the last has said "end", dividing its figures by the sum of the ops they report; a loader
// that does not come within the wait its peers asked for fails the window for all, named. A member that
// leaves breaks the group: the others' requests are refused until all of them have gone.

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
	// MaxLoaders is the most load processes that may measure one window together.
	MaxLoaders = MaxControlConns
	// MaxWait bounds how long a loader may ask the server to wait for the others at a barrier.
	MaxWait = time.Hour
	// DefaultWait is that wait when a loader does not say.
	DefaultWait = time.Minute
	maxNameLen  = 64

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
	// Loaders (hello) is how many load processes measure together; 0 or 1: this one alone.
	Loaders int `json:"loaders,omitempty"`
	// Name (hello) is how the server names this loader in its messages.
	Name string `json:"name,omitempty"`
	// Sample (begin, end) is the loader's 0-based sample index: all of a window's loaders must give the
	// same. Messages count samples from 1, as load does.
	Sample int64 `json:"sample,omitempty"`
	// WaitMs (begin, end) is how long to wait for the other loaders.
	WaitMs int64 `json:"wait_ms,omitempty"`
}

type ctlResponse struct {
	OK        bool               `json:"ok"`
	Refused   bool               `json:"refused,omitempty"`
	Error     string             `json:"error,omitempty"`
	Backend   string             `json:"backend,omitempty"`
	Topology  string             `json:"topology,omitempty"`
	Multishot bool               `json:"multishot,omitempty"`
	EpollMode string             `json:"epoll_mode,omitempty"` // see epollModeToWire
	PID       int                `json:"pid,omitempty"`
	Sample    *result.Sample     `json:"sample,omitempty"`
	Memory    *result.ConnMemory `json:"memory,omitempty"`
	// Window is the window opened (begin) or closed (end, also in Sample).
	Window *result.ServerWindow `json:"window,omitempty"`
}

// ControlInfo describes the server to a load generator.
type ControlInfo struct {
	Topology  string
	Multishot bool
	// EpollMode is the epoll server's --epoll-mode: "" or backend.EpollLevel (the default),
	// backend.EpollEdge or backend.EpollOneshot. A load generator is told "" for the default.
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
	name   string   // the loader's own name (hello), sanitized
	base   *MemSnap // from this session's mem-base
	logged int
}

// String names the session in messages: the loader's name and its address.
func (s *session) String() string {
	if s.name == "" {
		return s.remote
	}
	return s.name + " (" + s.remote + ")"
}

// group is the sessions the measurement belongs to: one, or the K of load --loaders K.
type group struct {
	k       int
	members []*session
	broken  string   // why the group can no longer measure (a member left)
	bar     *barrier // the begin or end the members are meeting at, nil when none
}

func (g *group) has(s *session) bool {
	for _, m := range g.members {
		if m == s {
			return true
		}
	}
	return false
}

func (g *group) names() string {
	n := make([]string, len(g.members))
	for i, m := range g.members {
		n[i] = m.String()
	}
	return strings.Join(n, ", ")
}

// barrier is a begin or end that waits for all of a group's members.
type barrier struct {
	op      string
	sample  int64
	arrived map[*session]int64 // with the ops each reported (end)
	done    chan struct{}      // closed once resp is set
	resp    ctlResponse
}

// controlServer is the state the sessions share.
type controlServer struct {
	ss    *ServerSide
	m     *measure.Meter
	info  ControlInfo
	token []byte
	log   io.Writer
	id    string        // this server's windows are id-1, id-2 ...
	quit  chan struct{} // closed when the control server stops: barriers stop waiting

	mu    sync.Mutex
	grp   *group // the sessions the measurement belongs to, nil when none
	win   *Window
	winID string
	seq   int
	logMu sync.Mutex
}

// ServeControl answers control connections on ln until ln is closed, measuring windows with m. An empty
// o.Token refuses every request.
func ServeControl(ln net.Listener, ss *ServerSide, m *measure.Meter, info ControlInfo, o ControlOptions) {
	cs := &controlServer{ss: ss, m: m, info: info, token: []byte(o.Token), log: o.Log, id: newWindowPrefix(), quit: make(chan struct{})}
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
			close(cs.quit)
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
		if req.Loaders < 0 || req.Loaders > MaxLoaders {
			return resp, fmt.Sprintf("loaders %d: want 1 to %d", req.Loaders, MaxLoaders)
		}
		k := max(req.Loaders, 1)
		if req.Name != "" {
			sess.name = termsafe.String(req.Name)
			if len(sess.name) > maxNameLen {
				sess.name = sess.name[:maxNameLen] + "..."
			}
		}
		cs.mu.Lock()
		switch g := cs.grp; {
		case g == nil:
			cs.grp = &group{k: k, members: []*session{sess}}
		case k > 1 && g.has(sess):
		case k > 1 && g.k != k:
			cs.mu.Unlock()
			return resp, fmt.Sprintf("%d loaders (%s) hold the measurement; this loader says %d", g.k, g.names(), k)
		case k > 1 && g.broken != "":
			cs.mu.Unlock()
			return resp, "the group of loaders holding the measurement broke: " + g.broken
		case k > 1 && len(g.members) >= k:
			cs.mu.Unlock()
			return resp, fmt.Sprintf("all %d loaders have come already: %s", k, g.names())
		case k > 1:
			g.members = append(g.members, sess)
		}
		cs.mu.Unlock()
		resp.OK, resp.Backend, resp.Topology, resp.Multishot, resp.PID = true, cs.ss.Backend.Name(), cs.info.Topology, cs.info.Multishot, os.Getpid()
		resp.EpollMode = epollModeToWire(cs.info.EpollMode)
		return resp, ""
	case "begin", "mem-base":
		cs.mu.Lock()
		g := cs.grp
		if g == nil {
			g = &group{k: 1, members: []*session{sess}}
			cs.grp = g
		}
		if refusal := g.refusal(sess); refusal != "" {
			cs.mu.Unlock()
			return resp, refusal
		}
		if g.k > 1 {
			if req.Op == "mem-base" {
				cs.mu.Unlock()
				return resp, "mem-base: not with several loaders"
			}
			return cs.meet(g, sess, req)
		}
		defer cs.mu.Unlock()
		if cs.win != nil {
			return resp, "a measurement window is open already"
		}
		if req.Op == "mem-base" {
			m := TakeMem()
			sess.base, resp.OK = &m, true
			return resp, ""
		}
		if err := cs.open(); err != nil {
			resp.Error = err.Error()
			return resp, ""
		}
		resp.OK, resp.Window = true, &result.ServerWindow{ID: cs.winID, Loaders: 1}
		return resp, ""
	case "end":
		if req.Ops < 0 {
			return resp, fmt.Sprintf("ops %d: must not be negative", req.Ops)
		}
		cs.mu.Lock()
		g := cs.grp
		if g == nil || !g.has(sess) || cs.win == nil {
			cs.mu.Unlock()
			return resp, "end without a begin in this session"
		}
		if refusal := g.refusal(sess); refusal != "" {
			cs.mu.Unlock()
			return resp, refusal
		}
		if g.k > 1 {
			return cs.meet(g, sess, req)
		}
		defer cs.mu.Unlock()
		return cs.close(map[*session]int64{sess: req.Ops}, 1), ""
	case "mem":
		if req.Conns < 1 || req.Conns > MaxMemConns {
			return resp, fmt.Sprintf("conns %d: want 1 to %d", req.Conns, MaxMemConns)
		}
		cs.mu.Lock()
		mine := cs.grp != nil && cs.grp.k == 1 && cs.grp.has(sess) && sess.base != nil
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

// refusal says why sess may not measure with g ("" when it may).
func (g *group) refusal(sess *session) string {
	if !g.has(sess) {
		if g.k > 1 {
			return fmt.Sprintf("%d loaders (%s) hold the measurement", g.k, g.names())
		}
		return "another load session (" + g.members[0].remote + ") holds the measurement"
	}
	if g.broken != "" {
		return "the group of loaders broke: " + g.broken
	}
	return ""
}

// open opens a window (mu held).
func (cs *controlServer) open() error {
	w, err := cs.ss.Begin(cs.m)
	if err != nil {
		return err
	}
	cs.seq++
	cs.win, cs.winID = w, fmt.Sprintf("%s-%d", cs.id, cs.seq)
	return nil
}

// close closes the open window over the ops each loader reported (mu held).
func (cs *controlServer) close(ops map[*session]int64, k int) (resp ctlResponse) {
	var sum int64
	for _, n := range ops {
		sum += n
	}
	var sm result.Sample
	err := cs.win.End(sum, &sm)
	cs.win = nil
	if err != nil {
		resp.Error = err.Error()
		return resp
	}
	sm.ServerWindow = &result.ServerWindow{ID: cs.winID, Loaders: k, Ops: sum}
	resp.OK, resp.Sample, resp.Window = true, &sm, sm.ServerWindow
	return resp
}

// meet is a group member's begin or end: it waits until all members have said the same for the same
// sample (the last one opens or closes the window) or until req's wait runs out. Called with mu held;
// returns with it released.
func (cs *controlServer) meet(g *group, sess *session, req ctlRequest) (ctlResponse, string) {
	b := g.bar
	switch {
	case b == nil:
		if req.Op == "begin" && cs.win != nil {
			cs.mu.Unlock()
			return ctlResponse{}, "a measurement window is open already"
		}
		b = &barrier{op: req.Op, sample: req.Sample, arrived: map[*session]int64{}, done: make(chan struct{})}
		g.bar = b
	case b.op != req.Op || b.sample != req.Sample:
		cs.mu.Unlock()
		return ctlResponse{}, fmt.Sprintf("%s of sample %d, while other loaders wait at %s of sample %d", req.Op, req.Sample+1, b.op, b.sample+1)
	}
	if _, ok := b.arrived[sess]; ok {
		cs.mu.Unlock()
		return ctlResponse{}, fmt.Sprintf("%s of sample %d said twice", req.Op, req.Sample+1)
	}
	b.arrived[sess] = req.Ops
	if len(b.arrived) == g.k {
		cs.finish(g, b)
		cs.mu.Unlock()
		return b.resp, ""
	}
	cs.mu.Unlock()
	wait := DefaultWait
	if req.WaitMs > 0 {
		wait = min(time.Duration(req.WaitMs)*time.Millisecond, MaxWait)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-b.done:
	case <-cs.quit:
		cs.mu.Lock()
		if g.bar == b {
			b.resp = ctlResponse{Error: "the server is stopping"}
			cs.abandon(g)
		}
		cs.mu.Unlock()
		<-b.done
	case <-t.C:
		cs.mu.Lock()
		if g.bar == b {
			b.resp = ctlResponse{Error: fmt.Sprintf("the server's window for sample %d did not %s within %v: %s",
				b.sample+1, map[string]string{"begin": "open", "end": "close"}[b.op], wait, missing(g, b))}
			cs.abandon(g)
		}
		cs.mu.Unlock()
		<-b.done
	}
	return b.resp, ""
}

// finish opens or closes the window once all members are at b (mu held).
func (cs *controlServer) finish(g *group, b *barrier) {
	if b.op == "begin" {
		if err := cs.open(); err != nil {
			b.resp.Error = err.Error()
		} else {
			b.resp.OK, b.resp.Window = true, &result.ServerWindow{ID: cs.winID, Loaders: g.k}
		}
	} else {
		b.resp = cs.close(b.arrived, g.k)
	}
	g.bar = nil
	close(b.done)
}

// abandon ends the barrier the members wait at, with the answer already set, and closes the window
// (mu held): a window some loaders left is not measured.
func (cs *controlServer) abandon(g *group) {
	if cs.win != nil {
		cs.win.Close()
		cs.win = nil
	}
	if b := g.bar; b != nil {
		g.bar = nil
		close(b.done)
	}
}

// missing names the loaders that did not come to b.
func missing(g *group, b *barrier) string {
	var late []string
	for _, m := range g.members {
		if _, ok := b.arrived[m]; !ok {
			late = append(late, m.String())
		}
	}
	msg := ""
	if len(late) > 0 {
		msg = "no " + b.op + " from " + strings.Join(late, ", ")
	}
	if n := g.k - len(g.members); n > 0 {
		if msg != "" {
			msg += "; "
		}
		msg += fmt.Sprintf("%d of the %d loaders never connected", n, g.k)
	}
	return msg
}

// release gives up sess's part in the measurement: alone, it closes a window left open; in a group, it
// breaks the group (a window without one of its loaders is not theirs), failing any barrier the others
// wait at.
func (cs *controlServer) release(sess *session) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	g := cs.grp
	if g == nil || !g.has(sess) {
		return
	}
	for i, m := range g.members {
		if m == sess {
			g.members = append(g.members[:i], g.members[i+1:]...)
			break
		}
	}
	if g.k > 1 && g.broken == "" {
		g.broken = "loader " + sess.String() + " left"
		if b := g.bar; b != nil {
			b.resp = ctlResponse{Error: fmt.Sprintf("the server's window for sample %d: %s", b.sample+1, g.broken)}
		}
	}
	cs.abandon(g)
	if len(g.members) == 0 {
		cs.grp = nil
	}
}

// newWindowPrefix is a random prefix for window IDs, so that two serve processes never share one.
func newWindowPrefix() string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return fmt.Sprintf("pid%d", os.Getpid())
	}
	return hex.EncodeToString(b)
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
	c      net.Conn
	sc     *bufio.Scanner
	token  string
	join   JoinOptions
	sample int64 // the next Begin's sample index
	Info   ControlInfo
	// Backend is the server's backend name.
	Backend string
	// Window is the server's window the last Begin opened.
	Window *result.ServerWindow
}

// JoinOptions make a load process one of several measuring one server window together.
type JoinOptions struct {
	// Loaders is how many load processes measure together (0 or 1: this one alone).
	Loaders int
	// Name is how the server names this loader in its messages (default: host name and process id).
	Name string
	// Wait is how long the server waits at each sample's begin and end for the other loaders
	// (0: DefaultWait).
	Wait time.Duration
}

// DialControl connects to a server's control address and says hello with token.
func DialControl(addr, token string) (*ControlClient, error) {
	return DialControlJoin(addr, token, JoinOptions{})
}

// DialControlJoin is DialControl for one of o.Loaders load processes.
func DialControlJoin(addr, token string, o JoinOptions) (*ControlClient, error) {
	if o.Loaders > 1 && o.Name == "" {
		host, _ := os.Hostname()
		o.Name = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("--control %s: %w", addr, err)
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	cc := &ControlClient{c: c, sc: sc, token: token, join: o}
	hello := ctlRequest{Op: "hello"}
	if o.Loaders > 1 {
		hello.Loaders, hello.Name = o.Loaders, o.Name
	}
	resp, err := cc.call(hello, 10*time.Second)
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
	mode, err := epollModeFromWire(resp.EpollMode)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("--control %s: the server names %s %q, which this ringbench does not know", addr, backend.FlagEpollMode, termsafe.String(resp.EpollMode))
	}
	cc.Backend, cc.Info = name, ControlInfo{Topology: resp.Topology, Multishot: resp.Multishot, EpollMode: mode}
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

// Begin starts the server's measured window; with several loaders, it returns once all have begun.
func (cc *ControlClient) Begin() error {
	req, timeout := cc.barrierRequest("begin", 0)
	resp, err := cc.call(req, timeout)
	cc.Window = resp.Window
	return err
}

// End ends it and returns the server's figures over ops requests (with several loaders: over the sum
// of all loaders' ops, once all have ended).
func (cc *ControlClient) End(ops int64) (*result.Sample, error) {
	req, timeout := cc.barrierRequest("end", ops)
	cc.sample++
	resp, err := cc.call(req, timeout)
	return resp.Sample, err
}

func (cc *ControlClient) barrierRequest(op string, ops int64) (ctlRequest, time.Duration) {
	req := ctlRequest{Op: op, Ops: ops}
	if cc.join.Loaders <= 1 {
		return req, 30 * time.Second
	}
	wait := cc.join.Wait
	if wait <= 0 {
		wait = DefaultWait
	}
	wait = min(wait, MaxWait)
	req.Sample, req.WaitMs = cc.sample, wait.Milliseconds()
	return req, wait + 30*time.Second
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
	sm.ServerWindow = srv.ServerWindow
	sm.RingEvents = srv.RingEvents
	if sm.Syscalls.Scope == "process" {
		sm.Syscalls.Scope = "server"
	}
	if sm.CPU.Scope == "process" {
		sm.CPU.Scope = "server"
	}
	sm.Warnings = result.AddWarnings(sm.Warnings, srv.Warnings...)
}
