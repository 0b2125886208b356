package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/result"
)

// TestLoadUnaffectedByControlIntruders runs a real load session while intruders, with and without the
// token, hammer the control port with begin, end and mem: each is refused and logged, and load's figures
// stay the server's own.
func TestLoadUnaffectedByControlIntruders(t *testing.T) {
	srv := startServe(t, nil, "--backend", "epoll")
	tokenB, err := os.ReadFile(srv.tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tokenB))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var answered atomic.Int64
	intrude := func(tok string) {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			c, err := net.DialTimeout("tcp", srv.control, time.Second)
			if err != nil {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			sc := bufio.NewScanner(c)
			for _, op := range []string{`"begin"`, `"end","ops":1`, `"mem-base"`, `"mem","conns":100000000`} {
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				fmt.Fprintf(c, "{\"op\":%s,\"token\":%q}\n", op, tok)
				if !sc.Scan() {
					break
				}
				var resp struct{ OK bool }
				if json.Unmarshal(sc.Bytes(), &resp) == nil {
					// With the token, a request may be taken once load's session has ended (and released the
					// measurement); during it, an accepted begin or end would make load fail, checked below.
					if resp.OK && tok == "" {
						t.Errorf("intruder's %s was accepted without the token", op)
					}
					answered.Add(1)
				}
			}
			c.Close()
			time.Sleep(5 * time.Millisecond)
		}
	}
	// With the token, an intruder that came first would own the measurement: it comes once load's session
	// holds it, which load says by printing its estimate (after its hello and its idle-memory requests).
	held := &watchWriter{want: "samples of", seen: make(chan struct{})}
	wg.Add(2)
	go intrude("")
	go func() {
		select {
		case <-held.seen:
			intrude(token)
		case <-stop:
			wg.Done()
		}
	}()
	out := filepath.Join(t.TempDir(), "l.json")
	r := runCmdStderr(t, "", 90*time.Second, nil, held, append(append([]string{ringbenchBin, "load", "--target", srv.listen}, srv.controlArgs()...),
		"--conns", "4", "--duration", "1s", "--count", "2", "--idle-conns", "50", "--out", out)...)
	close(stop)
	wg.Wait()
	f := loadedResult(t, "load", r, out)
	for _, s := range f.Samples {
		if s.Ops == 0 || !s.Syscalls.Available || s.Syscalls.PerOp < 0.5 || s.CPU.PerOpNs < 200 || s.Memory == nil {
			t.Errorf("sample %d disturbed: ops %d syscalls %+v cpu %+v memory %+v", s.Repeat, s.Ops, s.Syscalls, s.CPU, s.Memory)
		}
	}
	if answered.Load() == 0 {
		t.Fatal("the intruders got no answer at all")
	}
	srv.stop(t, syscall.SIGTERM)
	if log := srv.stderr.String(); !strings.Contains(log, "refused") || strings.Contains(log, "\x1b") {
		t.Errorf("serve's stderr should log refusals, one sanitized line each: %q", log)
	}
}

// watchWriter keeps what is written to it and closes seen once it holds want.
type watchWriter struct {
	mu   sync.Mutex
	buf  strings.Builder
	want string
	seen chan struct{}
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	had := strings.Contains(w.buf.String(), w.want)
	w.buf.Write(p)
	if !had && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestExitStatusesAgree is one row per flag value that used to exit with a status other commands did not.
func TestExitStatusesAgree(t *testing.T) {
	fixture := fixturePath(t, "kernel-6.1-kvm.json")
	notMine := "127.0.0.1:1"
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve", "-b", "epoll", "--control", "foo"}, exitUsage, "--control"},
		{[]string{"serve", "-b", "epoll", "--control", "127.0.0.1:99999"}, exitUsage, "--control"},
		{[]string{"serve", "-b", "sqpoll", "--sq-cpu", "99"}, exitUsage, "--sq-cpu 99"},
		{[]string{"serve", "-b", "sqpoll", "--sq-cpu", "-5"}, exitUsage, "--sq-cpu -5"},
		{[]string{"serve", "-b", "sqpoll", "--sq-idle", "-5s"}, exitUsage, "--sq-idle"},
		{[]string{"serve", "-b", "epoll", "--multishot"}, exitUsage, "--multishot"},
		{[]string{"serve", "-b", "epoll", "--control-token", "short"}, exitUsage, "--control-token"},
		{[]string{"run", "--sq-cpu", "99"}, exitUsage, "--sq-cpu 99"},
		{[]string{"run", "--duration", "1ns"}, exitUsage, "--duration"},
		{[]string{"load", "--target", notMine, "--cpu", "99"}, exitUsage, "--cpu 99"},
		{[]string{"load", "--target", notMine, "--cpu", "-5"}, exitUsage, "--cpu -5"},
		{[]string{"load", "--target", notMine, "--control", "bogus", "--control-token", "0123456789abcdef"}, exitUsage, "--control"},
		{[]string{"load", "--target", notMine, "--control", notMine}, exitUsage, "token"},
		{[]string{"load", "--target", notMine, "--control-token", "0123456789abcdef"}, exitUsage, "need --control"},
		{[]string{"load", "--target", notMine, "--conns", "100001"}, exitUsage, "--conns"},
		{[]string{"load", "--target", notMine, "--duration", "1ns"}, exitUsage, "--duration"},
		{[]string{"report", "--out", "/proc/rep", fixture}, exitUsage, "--out /proc/rep"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := runRingbench(t, "", 30*time.Second, tc.args...)
			if tc.code == exitUsage {
				assertUsageError(t, r, tc.want)
				return
			}
			if r.Code != tc.code || !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("exit %d, want %d naming %q; stderr %q", r.Code, tc.code, tc.want, r.Stderr)
			}
		})
	}
	t.Run("load --conns 100000 beyond the descriptor limit", func(t *testing.T) {
		r := runRingbench(t, "", 30*time.Second, "load", "--target", notMine, "--conns", "100000")
		if r.Code != 0 && r.Code != exitFailure { // 0/1 only where the limit can be raised: nothing listens
			assertUsageError(t, r, "--conns 100000")
		}
	})
	t.Run("load --engine uring without io_uring", func(t *testing.T) {
		requireURing(t)
		r := runCmd(t, "", 30*time.Second, nil, ringbenchBin, "sandbox", "--deny", "io_uring", "--", ringbenchBin,
			"load", "--target", notMine, "--engine", "uring")
		if r.Code != exitUnsupported || !strings.Contains(r.Stderr, "--engine uring") {
			t.Errorf("exit %d, want %d naming --engine uring; stderr %q", r.Code, exitUnsupported, r.Stderr)
		}
	})
}

// TestPeerTextIsSanitizedOnStdout writes result files whose label, backend name and figures are hostile,
// and checks that compare prints no escape sequence and no 300-digit number.
func TestPeerTextIsSanitizedOnStdout(t *testing.T) {
	dir := t.TempDir()
	evil := "\x1b]0;owned\a\x1b[2J\u009b31m"
	mk := func(n int, v float64) []result.Sample {
		s := cmpSamples(n, v, 3, "epoll")
		for i := range s {
			s[i].Backend, s[i].Ops = "epoll"+evil, 1000
			s[i].Warnings = []result.Warning{{Kind: "x", Text: "warning" + evil}}
		}
		return s
	}
	a := writeResult(t, dir, "a.json", "base"+evil, cmpEnv("6.1"), mk(6, 1e308))
	b := writeResult(t, dir, "b.json", "new"+evil, cmpEnv("6.1"), mk(6, 1000))
	r := runRingbench(t, dir, 30*time.Second, "compare", a, b)
	if r.Code != 0 && r.Code != exitFailure && r.Code != exitInconclusive {
		t.Fatalf("compare: exit %d: %s", r.Code, r.Stderr)
	}
	for _, out := range []string{r.Stdout, r.Stderr} {
		if strings.ContainsAny(out, "\x1b\a\u009b") {
			t.Errorf("raw control characters reached the output:\n%q", out)
		}
		if regexp.MustCompile(`[0-9]{30}`).MatchString(out) {
			t.Errorf("an unbounded number reached the output:\n%s", out)
		}
	}
	if !strings.Contains(r.Stdout, `\x1b`) {
		t.Errorf("the escape should show, visibly, as \\x1b:\n%s", r.Stdout)
	}
}

// TestServeControlAddressIsLoopbackUnlessNamed: "" and ":0" bind loopback; a named address that is not
// loopback binds but warns.
func TestServeControlAddressIsLoopbackUnlessNamed(t *testing.T) {
	for _, addr := range []string{"", ":0"} {
		srv := startServe(t, nil, "--backend", "epoll", "--control", addr)
		if !strings.HasPrefix(srv.control, "127.0.0.1:") {
			t.Errorf("--control %q: bound %s, want loopback", addr, srv.control)
		}
		srv.stop(t, syscall.SIGTERM)
		if strings.Contains(srv.stderr.String(), "reachable from other hosts") {
			t.Errorf("--control %q: warned about a loopback address: %s", addr, srv.stderr)
		}
	}
	srv := startServe(t, nil, "--backend", "epoll", "--control", "0.0.0.0:0")
	srv.stop(t, syscall.SIGTERM)
	if !strings.Contains(srv.stderr.String(), "reachable from other hosts") {
		t.Errorf("--control 0.0.0.0:0: no warning: %s", srv.stderr)
	}
}

// TestPrintResultEscapesFileText checks the lines printResult adds below the table: skipped backends
// and file warnings.
func TestPrintResultEscapesFileText(t *testing.T) {
	evil := "\x1b[2J\x1b]0;owned\a"
	f := &result.File{Skipped: []result.Skip{{Backend: "uring" + evil, Reason: "no" + evil}},
		Warnings: []result.Warning{{Kind: "x", Text: "warned" + evil}}}
	var b strings.Builder
	if err := printResult(&b, "table", f); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); strings.ContainsAny(out, "\x1b\a") || !strings.Contains(out, `warned\x1b[2J`) {
		t.Errorf("printResult:\n%q", out)
	}
}
