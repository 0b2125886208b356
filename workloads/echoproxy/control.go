package echoproxy

// The control channel of split roles: `ringbench serve` runs the server under test and listens on a
// control address besides; `ringbench load --control ADDR` asks it, over one TCP connection speaking one
// JSON object per line, to measure its own process over exactly the load's window (syscalls, CPU, context
// switches, RSS) and its memory per idle connection, and writes those figures into its result file. The
// server's figures so stay the server process's alone even when load and server run on two hosts.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/ringbench/ringbench/internal/measure"
	"github.com/ringbench/ringbench/internal/result"
)

type ctlRequest struct {
	Op    string `json:"op"`
	Ops   int64  `json:"ops,omitempty"`
	Conns int    `json:"conns,omitempty"`
}

type ctlResponse struct {
	OK        bool               `json:"ok"`
	Error     string             `json:"error,omitempty"`
	Backend   string             `json:"backend,omitempty"`
	Topology  string             `json:"topology,omitempty"`
	Multishot bool               `json:"multishot,omitempty"`
	PID       int                `json:"pid,omitempty"`
	Sample    *result.Sample     `json:"sample,omitempty"`
	Memory    *result.ConnMemory `json:"memory,omitempty"`
}

// ControlInfo describes the server to a load generator.
type ControlInfo struct {
	Topology  string
	Multishot bool
}

// ServeControl answers control connections on ln until ln is closed, measuring windows with m. Requests
// from all connections are served one at a time.
func ServeControl(ln net.Listener, ss *ServerSide, m *measure.Meter, info ControlInfo) {
	var (
		mu   sync.Mutex
		win  *Window
		base *MemSnap
		wg   sync.WaitGroup
	)
	defer func() {
		wg.Wait()
		if win != nil {
			win.Close()
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
		conns[c] = true
		cmu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { cmu.Lock(); delete(conns, c); cmu.Unlock(); c.Close() }()
			sc := bufio.NewScanner(c)
			enc := json.NewEncoder(c)
			for sc.Scan() {
				var req ctlRequest
				var resp ctlResponse
				if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
					resp.Error = "bad request: " + err.Error()
					_ = enc.Encode(resp)
					continue
				}
				mu.Lock()
				switch req.Op {
				case "hello":
					resp.OK, resp.Backend, resp.Topology, resp.Multishot, resp.PID = true, ss.Backend.Name(), info.Topology, info.Multishot, os.Getpid()
				case "begin":
					if win != nil {
						win.Close()
					}
					w, berr := ss.Begin(m)
					if berr != nil {
						resp.Error = berr.Error()
					} else {
						win, resp.OK = w, true
					}
				case "end":
					if win == nil {
						resp.Error = "end without begin"
						break
					}
					var sm result.Sample
					err := win.End(req.Ops, &sm)
					win = nil
					if err != nil {
						resp.Error = err.Error()
						break
					}
					resp.OK, resp.Sample = true, &sm
				case "mem-base":
					m := TakeMem()
					base = &m
					resp.OK = true
				case "mem":
					if base == nil {
						resp.Error = "mem without mem-base"
						break
					}
					if err := ss.WaitOpen(int64(req.Conns), 30*time.Second); err != nil {
						resp.Error = err.Error()
						break
					}
					time.Sleep(50 * time.Millisecond)
					resp.OK, resp.Memory = true, ConnMemory(*base, TakeMem(), req.Conns)
				default:
					resp.Error = fmt.Sprintf("unknown op %q", req.Op)
				}
				mu.Unlock()
				if err := enc.Encode(resp); err != nil {
					return
				}
			}
		}()
	}
}

// ControlClient is the load generator's side of the control channel.
type ControlClient struct {
	c    net.Conn
	sc   *bufio.Scanner
	Info ControlInfo
	// Backend is the server's backend name.
	Backend string
}

// DialControl connects to a server's control address and says hello.
func DialControl(addr string) (*ControlClient, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("--control %s: %w", addr, err)
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	cc := &ControlClient{c: c, sc: sc}
	resp, err := cc.call(ctlRequest{Op: "hello"}, 10*time.Second)
	if err != nil {
		c.Close()
		return nil, err
	}
	cc.Backend, cc.Info = resp.Backend, ControlInfo{Topology: resp.Topology, Multishot: resp.Multishot}
	return cc, nil
}

func (cc *ControlClient) call(req ctlRequest, timeout time.Duration) (ctlResponse, error) {
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
		return resp, fmt.Errorf("server: %s: %s", req.Op, resp.Error)
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
