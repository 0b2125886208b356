package loadgen

// The load generator and the upstream echo server run in a child process (ringbench starting itself), so
// that the server under test is alone in the measured process. Parent and child speak one JSON object per
// line over the child's stdin and stdout; the child's stderr is kept for error messages. The child exits
// when its stdin closes, so it cannot outlive a parent that dies.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/ringbench/ringbench/internal/cpuset"
	"github.com/ringbench/ringbench/internal/epollserver"
	"github.com/ringbench/ringbench/internal/fds"
	"github.com/ringbench/ringbench/internal/netutil"
)

// ChildEnv, set to "1" in a child's environment, asks the binary to run ChildMain. ringbench's `load
// --internal-child` does that; a test binary that drives the echo-proxy workload calls
// RunChildIfRequested first thing in its TestMain.
const ChildEnv = "RINGBENCH_LOADGEN_CHILD"

// ChildArgs are the arguments ringbench is started with as a child.
var ChildArgs = []string{"load", "--internal-child"}

// RunChildIfRequested runs the child protocol and exits when ChildEnv is set; otherwise it returns.
func RunChildIfRequested() {
	if os.Getenv(ChildEnv) != "1" {
		return
	}
	os.Exit(ChildMain(os.Stdin, os.Stdout))
}

type request struct {
	Op      string        `json:"op"`
	Config  *Config       `json:"config,omitempty"`
	Limit   time.Duration `json:"limit,omitempty"`
	CPUs    []int         `json:"cpus,omitempty"`
	Addr    string        `json:"addr,omitempty"`
	MaxFDs  int           `json:"max_fds,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"`
}

type response struct {
	OK         bool    `json:"ok"`
	Error      string  `json:"error,omitempty"`
	ServerGone bool    `json:"server_gone,omitempty"`
	Addr       string  `json:"addr,omitempty"`
	PID        int     `json:"pid,omitempty"`
	Result     *Result `json:"result,omitempty"`
}

// ChildMain serves the child protocol on in and out until in closes; it returns the exit status.
func ChildMain(in io.Reader, out io.Writer) int {
	// A Ctrl-C reaches the whole process group: the parent decides when to stop, and needs this child's
	// figures of a sample cut short. The child ends when its stdin closes, whatever ends the parent.
	signal.Ignore(os.Interrupt)
	enc := json.NewEncoder(out)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var (
		gen  *Generator
		idle *Generator // connections held idle, apart from the load
		up   *epollserver.Server
		upAt string // up's address
		upWG sync.WaitGroup
		cpus []int
	)
	closeGen := func(g **Generator) {
		if *g != nil {
			(*g).Close()
			*g = nil
		}
	}
	cleanup := func() {
		closeGen(&gen)
		closeGen(&idle)
		if up != nil {
			up.Close()
			upWG.Wait()
			up = nil
		}
	}
	defer cleanup()
	for sc.Scan() {
		var req request
		var resp response
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			resp.Error = fmt.Sprintf("bad request: %v", err)
			_ = enc.Encode(resp)
			continue
		}
		fail := func(err error) {
			resp.Error = err.Error()
			resp.ServerGone = errors.Is(err, ErrServerGone)
		}
		switch req.Op {
		case "hello":
			resp.OK, resp.PID = true, os.Getpid()
		case "pin":
			cpus = req.CPUs
			if err := cpuset.PinProcess(cpus); err != nil {
				fail(err)
			} else {
				resp.OK = true
			}
		case "nofile":
			if err := fds.RaiseLimit(req.MaxFDs); err != nil {
				fail(err)
			} else {
				resp.OK = true
			}
		case "upstream":
			if up != nil {
				resp.OK, resp.Addr = true, upAt
				break
			}
			addr := req.Addr
			if addr == "" {
				addr = "127.0.0.1:0"
			}
			fd, bound, err := netutil.Listen(addr, 0)
			if err != nil {
				fail(err)
				break
			}
			// The connection bound is the epoll backend's default (backend.DefaultMaxConns).
			srv, err := epollserver.New(epollserver.Config{ListenFD: fd, MaxConns: 1 << 16})
			if err != nil {
				fail(err)
				break
			}
			if len(cpus) > 0 {
				_ = cpuset.PinThread(srv.ThreadID(), cpus)
			}
			up, upAt = srv, bound
			upWG.Add(1)
			go func() { defer upWG.Done(); _ = srv.Serve() }()
			resp.OK, resp.Addr = true, bound
		case "hold", "dial":
			// dial: the generator that carries the load; hold: connections held idle beside it.
			slot := &gen
			if req.Op == "hold" {
				slot = &idle
			}
			closeGen(slot)
			if req.Config == nil {
				fail(errors.New(req.Op + ": no config"))
				break
			}
			g, err := Dial(*req.Config, cpus)
			if err != nil {
				fail(err)
				break
			}
			*slot = g
			resp.OK = true
		case "start", "mark", "stop":
			if gen == nil {
				fail(errors.New(req.Op + ": not dialled"))
				break
			}
			var err error
			switch req.Op {
			case "start":
				err = gen.Start(req.Limit)
			case "mark":
				err = gen.Mark()
			case "stop":
				var r Result
				r, err = gen.Stop()
				resp.Result = &r
			}
			if err != nil {
				fail(err)
			} else {
				resp.OK = true
			}
		case "close":
			closeGen(&gen)
			closeGen(&idle)
			resp.OK = true
		default:
			resp.Error = fmt.Sprintf("unknown op %q", req.Op)
		}
		if err := enc.Encode(resp); err != nil {
			return 1
		}
	}
	return 0
}

// Child is a running load-generator process, seen from its parent.
type Child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan []byte
	stderr *tailBuffer
	mu     sync.Mutex
	closed bool
	waitCh chan error
	pid    int
}

// StartChild starts this binary as a load-generator child. cpus, when not empty, pins it.
func StartChild(cpus []int) (*Child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("load generator: cannot find this executable to start it: %w", err)
	}
	args := ChildArgs
	if strings.HasSuffix(exe, ".test") {
		// A test binary without the TestMain hook must not run its tests as the child.
		args = []string{"-test.run=^$"}
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), ChildEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c := &Child{cmd: cmd, stdin: stdin, lines: make(chan []byte, 4), stderr: &tailBuffer{max: 4096}, waitCh: make(chan error, 1)}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("load generator: start %s: %w", exe, err)
	}
	c.pid = cmd.Process.Pid
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			c.lines <- append([]byte(nil), sc.Bytes()...)
		}
		close(c.lines)
	}()
	go func() { c.waitCh <- cmd.Wait() }()
	if _, err := c.call(request{Op: "hello"}, 30*time.Second); err != nil {
		c.Close()
		return nil, err
	}
	if len(cpus) > 0 {
		if _, err := c.call(request{Op: "pin", CPUs: cpus}, 10*time.Second); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// PID is the child's process id.
func (c *Child) PID() int { return c.pid }

func (c *Child) call(req request, timeout time.Duration) (response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return response{}, errors.New("load generator process already closed")
	}
	b, _ := json.Marshal(req)
	b = append(b, '\n')
	if _, err := c.stdin.Write(b); err != nil {
		return response{}, c.died(req.Op, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case line, ok := <-c.lines:
		if !ok {
			return response{}, c.died(req.Op, nil)
		}
		var resp response
		if err := json.Unmarshal(line, &resp); err != nil {
			return response{}, fmt.Errorf("load generator process: %s: unreadable answer %q (is this binary ringbench?)", req.Op, truncate(string(line), 200))
		}
		if !resp.OK {
			err := errors.New(resp.Error)
			if resp.ServerGone {
				err = fmt.Errorf("%s: %w", strings.TrimSuffix(resp.Error, ": "+ErrServerGone.Error()), ErrServerGone)
			}
			return resp, err
		}
		return resp, nil
	case <-t.C:
		// Its next answer would be out of step: the child is of no further use.
		_ = c.cmd.Process.Kill()
		return response{}, fmt.Errorf("load generator process: no answer to %s within %v (killed)", req.Op, timeout)
	}
}

func (c *Child) died(op string, err error) error {
	msg := strings.TrimSpace(c.stderr.String())
	if msg == "" && err != nil {
		msg = err.Error()
	}
	if msg == "" {
		msg = "no message"
	}
	return fmt.Errorf("load generator process exited during %s: %s", op, truncate(strings.ReplaceAll(msg, "\n", "; "), 300))
}

// Pin pins the child's threads to cpus.
func (c *Child) Pin(cpus []int) error {
	_, err := c.call(request{Op: "pin", CPUs: cpus}, 10*time.Second)
	return err
}

// RaiseNoFile makes the child able to hold n descriptors.
func (c *Child) RaiseNoFile(n int) error {
	_, err := c.call(request{Op: "nofile", MaxFDs: n}, 10*time.Second)
	return err
}

// Upstream starts (once) the child's upstream echo server and returns its address.
func (c *Child) Upstream() (string, error) {
	resp, err := c.call(request{Op: "upstream"}, 30*time.Second)
	return resp.Addr, err
}

// Dial connects the child's generator (see Dial).
func (c *Child) Dial(cfg Config) error {
	to := cfg.ConnectTimeout
	if to <= 0 {
		to = 30 * time.Second
	}
	_, err := c.call(request{Op: "dial", Config: &cfg}, to+30*time.Second)
	return err
}

// Hold opens n idle connections to target (each completes one small echo first) and keeps them, apart
// from the load, until CloseConns.
func (c *Child) Hold(target string, n int, msgSize int) error {
	cfg := Config{Target: target, IdleConns: n, MsgSize: msgSize}
	_, err := c.call(request{Op: "hold", Config: &cfg}, 90*time.Second)
	return err
}

// Start starts the load (see Generator.Start).
func (c *Child) Start(limit time.Duration) error {
	_, err := c.call(request{Op: "start", Limit: limit}, 30*time.Second)
	return err
}

// Mark starts the measured window.
func (c *Child) Mark() error {
	_, err := c.call(request{Op: "mark"}, 30*time.Second)
	return err
}

// Stop ends the load and returns the window's result.
func (c *Child) Stop() (Result, error) {
	resp, err := c.call(request{Op: "stop"}, 60*time.Second)
	if resp.Result != nil {
		return *resp.Result, err
	}
	return Result{}, err
}

// CloseConns closes the generator's connections, loaded and idle (the child stays, with its upstream
// server).
func (c *Child) CloseConns() error {
	_, err := c.call(request{Op: "close"}, 60*time.Second)
	return err
}

// Close ends the child (closing its stdin, then killing it if it has not exited within 10 s) and reaps it.
func (c *Child) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.stdin.Close()
	c.mu.Unlock()
	var err error
	select {
	case err = <-c.waitCh:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		err = <-c.waitCh
		err = fmt.Errorf("load generator process did not exit; killed (%v)", err)
	}
	// Drain what is left of its stdout so the reader goroutine ends.
	for range c.lines {
	}
	if err != nil {
		if tail := strings.TrimSpace(c.stderr.String()); tail != "" {
			err = fmt.Errorf("load generator process: %w: %s", err, truncate(tail, 2000))
		}
	}
	return err
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
