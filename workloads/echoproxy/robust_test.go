package echoproxy

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/loadgen"
	"github.com/ringbench/ringbench/workloads"
)

// startLoad dials cfg's load generator in this process and starts it with a minute's limit; the caller
// closes it.
func startLoad(cfg loadgen.Config) (*loadgen.Generator, error) {
	g, err := loadgen.Dial(cfg, nil)
	if err != nil {
		return nil, err
	}
	if err := g.Start(time.Minute); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// withLoad runs a verified load of conns connections against ss (in this process) around fn, and fails
// the test if the load saw any error or made no progress while fn ran.
func withLoad(t *testing.T, ss *ServerSide, conns int, fn func()) {
	t.Helper()
	g, err := startLoad(loadgen.Config{Target: ss.Addr, Conns: conns, MsgSize: 512, Verify: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.Mark(); err != nil {
		t.Fatal(err)
	}
	fn()
	time.Sleep(100 * time.Millisecond)
	res, err := g.Stop()
	if err != nil {
		t.Fatalf("the well-behaved clients failed: %v", err)
	}
	if res.Ops == 0 {
		t.Fatal("the well-behaved clients got no echo at all")
	}
}

// eachServer runs fn against a server of every variant, started in this process, then wants every
// connection closed within 10 s, the server to have met no error and to close cleanly, and nothing left
// behind.
func eachServer(t *testing.T, fn func(t *testing.T, ss *ServerSide)) {
	for _, v := range variants(t) {
		t.Run(v.String(), func(t *testing.T) {
			base := takeBaseline()
			ss, err := StartServer(lookup(t, v.name), ServerOptions{Multishot: v.multishot, Options: sqOptions()})
			if err != nil {
				t.Fatal(err)
			}
			fn(t, ss)
			if err := ss.WaitClosed(10 * time.Second); err != nil {
				t.Fatal(err)
			}
			if err := ss.Err(); err != nil {
				t.Fatal(err)
			}
			if err := ss.Close(); err != nil {
				t.Fatal(err)
			}
			base.check(t)
		})
	}
}

func TestClientsThatResetMidMessage(t *testing.T) {
	eachServer(t, func(t *testing.T, ss *ServerSide) {
		withLoad(t, ss, 4, func() {
			var wg sync.WaitGroup
			for i := 0; i < 40; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					c, err := net.Dial("tcp", ss.Addr)
					if err != nil {
						t.Error(err)
						return
					}
					tc := c.(*net.TCPConn)
					// Half a message, or a megabyte the server cannot finish echoing (we do not read),
					// then a reset.
					n := 300
					if i%2 == 1 {
						n = 1 << 20
					}
					_ = c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
					_, _ = c.Write(make([]byte, n))
					time.Sleep(time.Duration(i%5) * 5 * time.Millisecond)
					_ = tc.SetLinger(0)
					c.Close()
				}(i)
			}
			wg.Wait()
		})
	})
}

func TestClientsThatStopReading(t *testing.T) {
	eachServer(t, func(t *testing.T, ss *ServerSide) {
		before := TakeMem()
		var stalled []net.Conn
		var written int64
		withLoad(t, ss, 4, func() {
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := 0; i < 4; i++ {
				c, err := net.Dial("tcp", ss.Addr)
				if err != nil {
					t.Fatal(err)
				}
				stalled = append(stalled, c)
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Write for a second without ever reading: the server's echoes back up, then our
					// writes do; the server must stop reading us rather than buffer without bound.
					buf := make([]byte, 64<<10)
					_ = c.SetWriteDeadline(time.Now().Add(time.Second))
					for {
						n, err := c.Write(buf)
						mu.Lock()
						written += int64(n)
						mu.Unlock()
						if err != nil {
							return
						}
					}
				}()
			}
			wg.Wait()
		})
		grew := TakeMem().RSS - before.RSS
		t.Logf("stalled clients pushed %d MiB; server RSS grew %d KiB", written>>20, grew>>10)
		if written > 256<<20 {
			t.Errorf("the server accepted %d MiB from clients that never read: it is not applying backpressure", written>>20)
		}
		if grew > 32<<20 && !raceEnabled {
			t.Errorf("server RSS grew %d MiB while clients did not read", grew>>20)
		}
		for _, c := range stalled {
			c.Close()
		}
	})
}

func TestTooManyConnectionsIsExplained(t *testing.T) {
	p, err := Workload{}.Prepare(context.Background(), workloads.Config{Topology: "proxy", Conns: 90_000})
	if err == nil {
		p.Close()
		t.Skip("this process may hold 180,000 descriptors: nothing to explain")
	}
	if msg := err.Error(); !strings.Contains(msg, "RLIMIT_NOFILE") || !strings.Contains(msg, "--conns") || strings.Contains(msg, "\n") {
		t.Fatalf("unclear error: %v", err)
	}
}

func sqOptions() backend.Options {
	return backend.Options{SQCPU: -1, SQIdle: 50 * time.Millisecond, CQSpin: 5 * time.Microsecond}
}
