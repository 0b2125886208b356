package uring

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/netutil"
	"github.com/ringbench/ringbench/internal/ring"
	"github.com/ringbench/ringbench/internal/testsupport"
)

// startServer runs a server with test knobs on a loopback listener and stops it at cleanup.
func startServer(t *testing.T, cfg backend.ServerConfig, p ring.Params, k knobs) (*Server, string) {
	t.Helper()
	fd, addr, err := netutil.Listen("127.0.0.1:0", 512)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ListenFD = fd
	s, err := newServer(cfg, p, "test", k)
	if err != nil {
		if errors.Is(err, backend.ErrNotSupported) || errors.Is(err, ring.ErrNotSupported) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	testsupport.Serve(t, s)
	return s, addr
}

// streamByte is byte off of connection c's stream: echoes out of order, or of the wrong bytes, show.
func streamByte(c, off int) byte { return byte(off*131 + off/251 + c*17) }

// echoConns opens conns connections to addr; each writes total bytes of its own stream in random pieces
// without waiting for the echo (pipelining) while a reader checks that the echo is the stream, in order.
func echoConns(t *testing.T, addr string, conns, total int, seed uint64) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 2*conns)
	for c := 0; c < conns; c++ {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = nc.SetDeadline(time.Now().Add(60 * time.Second))
		wg.Add(2)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			buf := make([]byte, 4096)
			for off := 0; off < total; {
				n := min(1+rng.IntN(len(buf)), total-off)
				for i := range n {
					buf[i] = streamByte(c, off+i)
				}
				if _, err := nc.Write(buf[:n]); err != nil {
					errs <- fmt.Errorf("conn %d: write: %w", c, err)
					return
				}
				off += n
			}
		}()
		go func() {
			defer wg.Done()
			defer nc.Close()
			buf := make([]byte, 8192)
			for off := 0; off < total; {
				n, err := nc.Read(buf[:min(len(buf), total-off)])
				for i := range n {
					if buf[i] != streamByte(c, off+i) {
						errs <- fmt.Errorf("conn %d: echo byte %d is %#x, want %#x (out of order or corrupt)", c, off+i, buf[i], streamByte(c, off+i))
						return
					}
				}
				off += n
				if err != nil && off < total {
					if err == io.EOF {
						err = io.ErrUnexpectedEOF
					}
					errs <- fmt.Errorf("conn %d: read after %d of %d bytes: %w", c, off, total, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestServerCompletionOrderTinySQ: with a tiny SQ and reap batch, the server often finds the SQ full
// while handling completions and reaps more aside. Under SQPOLL every retry does (Submit only
// publishes), and those CQEs must still be handled before newer ones, in ring order: otherwise
// multishot echoes two chunks of one socket swapped, and plain mode handles a recv before the send
// linked ahead of it and closes the connection with an error.
func TestServerCompletionOrderTinySQ(t *testing.T) {
	iters := 4
	if testing.Short() {
		iters = 2
	}
	for _, mode := range []struct {
		name string
		p    ring.Params
	}{
		{"sqpoll", ring.Params{SQPoll: true, SQThreadCPU: -1, SingleIssuer: true}},
		{"uring", ring.Params{SingleIssuer: true, DeferTaskrun: true}},
	} {
		for _, multishot := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/multishot=%v", mode.name, multishot), func(t *testing.T) {
				cfg := backend.ServerConfig{Multishot: multishot, BufSize: 1024}
				s, addr := startServer(t, cfg, mode.p, knobs{sqEntries: 4, cqEntries: 8, reapBatch: 4})
				for it := 0; it < iters && !t.Failed(); it++ {
					echoConns(t, addr, 64, 64<<10, uint64(it))
				}
				if n := s.Stats().Errors; n != 0 {
					t.Errorf("%d connections closed on an error", n)
				}
			})
		}
	}
}

// TestServerPauseAfterENOBUFS: with as many provided buffers as pauseAt, a burst fills every buffer in
// one go, so the recv ends with ENOBUFS in the same batch in which the connection is paused, before the
// backpressure cancel reaches it. The pause must still end, and the next burst pause the connection
// again: a paused flag left set by that race (the connection re-armed as starved while still paused)
// disabled backpressure on the connection for good.
func TestServerPauseAfterENOBUFS(t *testing.T) {
	const rounds = 20
	for _, mode := range []struct {
		name string
		p    ring.Params
	}{
		{"uring", ring.Params{SingleIssuer: true, DeferTaskrun: true}},
		{"sqpoll", ring.Params{SQPoll: true, SQThreadCPU: -1, SingleIssuer: true}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			cfg := backend.ServerConfig{Multishot: true, BufSize: 1024}
			s, addr := startServer(t, cfg, mode.p, knobs{bufRingEntries: pauseAt})
			nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(60 * time.Second))
			const burst = 2 * pauseAt * 1024
			out := make([]byte, burst)
			in := make([]byte, burst)
			for r := 0; r < rounds; r++ {
				for i := range out {
					out[i] = streamByte(r, i)
				}
				if _, err := nc.Write(out); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(nc, in); err != nil {
					t.Fatalf("round %d: %v", r, err)
				}
				if string(in) != string(out) {
					t.Fatalf("round %d: echo differs", r)
				}
			}
			st := s.Stats()
			if st.Paused < rounds/2 {
				t.Errorf("%d pauses in %d bursts of %d buffers' worth: backpressure stopped pausing the connection", st.Paused, rounds, 2*pauseAt)
			}
			if st.Errors != 0 {
				t.Errorf("%d errors", st.Errors)
			}
			t.Logf("%d pauses in %d bursts", st.Paused, rounds)
		})
	}
}
