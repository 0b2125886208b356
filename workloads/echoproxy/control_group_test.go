package echoproxy

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/loadgen"
	"github.com/ringbench/ringbench/internal/result"
)

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
		g, err := loadgen.Dial(loadgen.Config{Target: r.ss.Addr, Conns: 2, MsgSize: 64, Pipeline: 1, Engine: loadgen.EngineEpoll}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		if err := g.Start(time.Minute); err != nil {
			t.Fatal(err)
		}
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
				gens[i], err = loadgen.Dial(loadgen.Config{Target: r.ss.Addr, Conns: 2, MsgSize: 64, Pipeline: 1, Engine: loadgen.EngineEpoll}, nil)
				if err == nil {
					err = gens[i].Start(time.Minute)
				}
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
	ss, err := StartServer(lookup(t, "epoll"), ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const token = "0123456789abcdef0123"
	done := make(chan struct{})
	go func() {
		defer close(done)
		ServeControl(ln, ss, meter, ControlInfo{Topology: "echo"}, ControlOptions{Token: token})
	}()
	a, err := DialControlJoin(ln.Addr().String(), token, JoinOptions{Loaders: 2, Name: "hostA", Wait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	begun := make(chan error, 1)
	go func() { begun <- a.Begin() }()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	ln.Close()
	select {
	case <-done:
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
