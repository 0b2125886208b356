package loadgen

import (
	"math"
	"net"
	"testing"
	"time"
)

// checkTiling wants r's intervals to tile its window: interval i starts at i*every and lasts every, but
// the last, which ends with the window; their requests sum to r.Ops.
func checkTiling(t *testing.T, r Result, d, every time.Duration) {
	t.Helper()
	window := int64(math.Round(r.Seconds * 1e9))
	want := int((window + int64(every) - 1) / int64(every))
	if len(r.Intervals) != want || len(r.Intervals) < int(d/every) {
		t.Fatalf("%d intervals over %v in steps of %v, want %d", len(r.Intervals), time.Duration(window), every, want)
	}
	var ops int64
	for i, iv := range r.Intervals {
		ops += iv.Ops
		last := i == len(r.Intervals)-1
		if iv.StartNs != int64(i)*int64(every) || !last && iv.LengthNs != int64(every) || last && iv.StartNs+iv.LengthNs != window {
			t.Errorf("interval %d of %d: %+v (every %v, window %v)", i, len(r.Intervals), iv, every, time.Duration(window))
		}
	}
	if ops != r.Ops {
		t.Errorf("intervals hold %d requests, the window %d", ops, r.Ops)
	}
}

// TestIntervalsTileTheWindow runs the generator on each engine for 200 ms in intervals of 20 ms.
func TestIntervalsTileTheWindow(t *testing.T) {
	addr := echoServer(t)
	const d, every = 200 * time.Millisecond, 20 * time.Millisecond
	for _, engine := range []string{EngineEpoll, EngineUring} {
		t.Run(engine, func(t *testing.T) {
			r := run(t, Config{Target: addr, Conns: 4, MsgSize: 64, Pipeline: 2, Engine: engine, Interval: every}, d)
			if r.Ops == 0 {
				t.Fatal("no request completed")
			}
			checkTiling(t, r, d, every)
		})
	}
}

// TestIntervalsOfThreadsMerge: with two generator threads, the merged intervals still hold every request.
func TestIntervalsOfThreadsMerge(t *testing.T) {
	addr := echoServer(t)
	const d, every = 200 * time.Millisecond, 20 * time.Millisecond
	r := run(t, Config{Target: addr, Conns: 4, MsgSize: 64, Pipeline: 2, Threads: 2, Interval: every}, d)
	if len(r.Threads) != 2 || r.Ops == 0 {
		t.Fatalf("%d threads, %d requests", len(r.Threads), r.Ops)
	}
	checkTiling(t, r, d, every)
}

// stallingEchoServer echoes after a 1 ms pause per read, and once, at read stallAt of a connection, after
// 300 ms: with one connection and one request in flight, an interval of 100 ms then holds at most about
// 100 requests, so the stalled one is over 1% of its interval and must show in its p99.
func stallingEchoServer(t *testing.T, stallAt int) string {
	t.Helper()
	return tcpServer(t, func(c net.Conn) {
		buf := make([]byte, 64<<10)
		for reads := 1; ; reads++ {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			time.Sleep(time.Millisecond)
			if reads == stallAt {
				time.Sleep(300 * time.Millisecond)
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	})
}

// TestIntervalsShowAStall: the server stalls for 300 ms once; intervals of 100 ms show at least two with
// no request, then one whose p99 is at least the stall.
func TestIntervalsShowAStall(t *testing.T) {
	const d, every = 800 * time.Millisecond, 100 * time.Millisecond
	addr := stallingEchoServer(t, 30)
	r := run(t, Config{Target: addr, Conns: 1, MsgSize: 64, Pipeline: 1, Engine: EngineEpoll, Interval: every}, d)
	checkTiling(t, r, d, every)
	end := 0
	for i, iv := range r.Intervals {
		if iv.P99Ns > r.Intervals[end].P99Ns {
			end = i
		}
	}
	if p99 := time.Duration(r.Intervals[end].P99Ns); p99 < 300*time.Millisecond {
		t.Fatalf("highest p99 %v in interval %d, want at least the 300ms stall: %+v", p99, end, r.Intervals)
	}
	if end < 2 || r.Intervals[end-1].Ops != 0 || r.Intervals[end-2].Ops != 0 {
		t.Errorf("interval %d holds the stall, but the two before it are not empty: %+v", end, r.Intervals)
	}
}
