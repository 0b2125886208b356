package loadgen

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/result"
)

// stallServer is an echo server that can be stopped: while its gate is held, no connection echoes or
// reads anything more (each read waits at the gate before its echo and before the next read). Bytes sent
// after the gate was taken come back only after it is released.
type stallServer struct {
	addr string
	gate sync.RWMutex
}

func newStallServer(t *testing.T) *stallServer {
	t.Helper()
	s := &stallServer{}
	s.addr = tcpServer(t, func(c net.Conn) {
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			s.gate.RLock() // held across the echo: while the gate is taken, nothing is echoed
			_, err = c.Write(buf[:n])
			s.gate.RUnlock()
			if err != nil {
				return
			}
		}
	})
	return s
}

const (
	stall    = 50 * time.Millisecond
	stallP99 = 40 * time.Millisecond
	// stallRate: at 2000 requests/s, the requests due in the first 10 ms of a 50 ms stall (20 of them)
	// wait at least 40 ms; they are 1% of a window of up to a second, ten times the window's nominal 100 ms.
	stallRate = 2000
)

// openLoopUnderStall runs an open loop (one connection, one request in flight: nothing but the schedule
// can time the requests a stall holds back) and stalls the server inside the window as during does.
func openLoopUnderStall(t *testing.T, engine string, during func(s *stallServer)) Result {
	t.Helper()
	s := newStallServer(t)
	g := started(t, Config{Target: s.addr, Conns: 1, Pipeline: 1, Rate: stallRate, Engine: engine})
	defer g.Close()
	time.Sleep(20 * time.Millisecond)
	if err := g.Mark(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	during(s)
	r, err := g.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if !r.Corrected || r.Engine != engine {
		t.Fatalf("corrected %v, engine %q", r.Corrected, r.Engine)
	}
	return r
}

func p99(t *testing.T, r Result) time.Duration {
	t.Helper()
	h, err := result.DecodeHistogram(r.Histogram)
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(h.ValueAtQuantile(99))
}

// TestOpenLoopSeesAStall: the server stops for 50 ms in the middle of the window, then answers again.
// The requests due during the stall are sent late, once it ends; timed from their scheduled send time
// (the coordinated-omission correction) they put p99 at 40 ms or more. Timed from when they were sent,
// they would look fast and p99 would hide the stall.
func TestOpenLoopSeesAStall(t *testing.T) {
	for _, engine := range []string{EngineEpoll, EngineUring} {
		t.Run(engine, func(t *testing.T) {
			r := openLoopUnderStall(t, engine, func(s *stallServer) {
				s.gate.Lock()
				time.Sleep(stall)
				s.gate.Unlock()
				time.Sleep(30 * time.Millisecond) // the held-back requests go out and come back
			})
			if got := p99(t, r); got < stallP99 {
				t.Errorf("p99 %v over %d requests (%d unfinished) with a %v stall: want at least %v", got, r.Ops, r.Unfinished, stall, stallP99)
			}
		})
	}
}

// TestOpenLoopKeepsTheTailAtTheWindowsEnd: the server stops 20 ms into the window and is still stopped
// when the window closes 50 ms later. The requests due meanwhile never complete inside the window; they
// are recorded from their scheduled time to the window's end, so p99 is at least 40 ms, and counted.
func TestOpenLoopKeepsTheTailAtTheWindowsEnd(t *testing.T) {
	for _, engine := range []string{EngineEpoll, EngineUring} {
		t.Run(engine, func(t *testing.T) {
			var s *stallServer
			r := openLoopUnderStall(t, engine, func(srv *stallServer) {
				s = srv
				s.gate.Lock()
				time.Sleep(stall)
			})
			s.gate.Unlock()
			if got := p99(t, r); got < stallP99 {
				t.Errorf("p99 %v over %d requests (%d unfinished) with the server stopped for the last %v: want at least %v",
					got, r.Ops, r.Unfinished, stall, stallP99)
			}
			if r.Unfinished < stallRate*int64(stall)/int64(time.Second) {
				t.Errorf("%d requests unfinished at the window's end, want at least the %d due during the stall",
					r.Unfinished, stallRate*int64(stall)/int64(time.Second))
			}
		})
	}
}
