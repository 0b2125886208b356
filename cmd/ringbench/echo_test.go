package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/result"
)

// server is a `ringbench serve` process started by a test.
type server struct {
	cmd             *exec.Cmd
	listen, control string
	tokenFile       string // serve's --control-token-file
	stdout, stderr  *bytes.Buffer
	done            chan error
}

// startServe starts `ringbench serve args...` (argv0 prefixes it, e.g. ip netns exec) and waits for it to
// print its addresses.
func startServe(t *testing.T, prefix []string, args ...string) *server {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "control-token")
	args = append([]string{"--control-token-file", tokenFile}, args...)
	argv := append(append(append([]string{}, prefix...), ringbenchBin, "serve"), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, tokenFile: tokenFile, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() { s.stop(t, syscall.SIGKILL) })
	deadline := time.After(30 * time.Second)
	for s.control == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				err := cmd.Wait()
				t.Fatalf("serve exited before it was ready (%v): %s", err, s.stderr)
			}
			s.stdout.WriteString(l + "\n")
			f := strings.Fields(l)
			switch {
			case len(f) == 2 && f[0] == "listening":
				s.listen = f[1]
			case len(f) == 2 && f[0] == "control":
				s.control = f[1]
			}
		case <-deadline:
			t.Fatalf("serve printed no addresses within 30 s: %s", s.stderr)
		}
	}
	go func() {
		for l := range lines {
			s.stdout.WriteString(l + "\n")
		}
		s.done <- cmd.Wait()
	}()
	return s
}

// controlArgs are load's flags for this server's control port.
// loadedResult is the result file at path that the command r, named what, wrote; a non-zero exit fails t.
func loadedResult(t *testing.T, what string, r cmdResult, path string) *result.File {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("%s: exit %d\n%s\n%s", what, r.Code, r.Stdout, r.Stderr)
	}
	return loadResult(t, path)
}

func (s *server) controlArgs() []string {
	return []string{"--control", s.control, "--control-token-file", s.tokenFile}
}

// stop signals the server and waits for it (idempotent); it returns the exit code.
func (s *server) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	if s.cmd.ProcessState != nil {
		return s.cmd.ProcessState.ExitCode()
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		t.Errorf("serve did not exit within 20 s of %v", sig)
	}
	return s.cmd.ProcessState.ExitCode()
}

// listening counts the LISTEN sockets of this network namespace held by this test process or a process it
// started (directly or not): other processes on the machine may listen too, and come and go meanwhile.
func listening() int {
	return socketsHeld(tcpSockets("0A", ""), processTree(strconv.Itoa(os.Getpid()))...)
}

// tcpSockets returns this network namespace's TCP sockets in state (hex, as /proc/net/tcp writes it: "0A"
// LISTEN, "01" ESTABLISHED), connected to the port of addr unless addr is "": inode -> local address (hex,
// as /proc writes it).
func tcpSockets(state, addr string) map[string]string {
	var port string
	if addr != "" {
		_, p, _ := strings.Cut(addr, "]:")
		if p == "" {
			_, p, _ = strings.Cut(addr, ":")
		}
		n, _ := strconv.Atoi(p)
		port = fmt.Sprintf(":%04X", n)
	}
	out := map[string]string{}
	for _, p := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 9 && f[3] == state && strings.HasSuffix(f[2], port) {
				out[f[9]] = f[1]
			}
		}
	}
	return out
}

// socketsHeld counts the sockets among inodes that the processes pids hold, each once.
func socketsHeld(inodes map[string]string, pids ...string) int {
	n := 0
	for _, pid := range pids {
		fds, _ := os.ReadDir("/proc/" + pid + "/fd")
		for _, fd := range fds {
			l, _ := os.Readlink("/proc/" + pid + "/fd/" + fd.Name())
			if ino, ok := strings.CutPrefix(l, "socket:["); ok {
				ino = strings.TrimSuffix(ino, "]")
				if _, held := inodes[ino]; held {
					delete(inodes, ino)
					n++
				}
			}
		}
	}
	return n
}

// processTree returns pid and its descendants.
func processTree(pid string) []string {
	out := []string{pid}
	for i := 0; i < len(out); i++ {
		tasks, _ := os.ReadDir("/proc/" + out[i] + "/task")
		for _, t := range tasks {
			if b, err := os.ReadFile("/proc/" + out[i] + "/task/" + t.Name() + "/children"); err == nil {
				out = append(out, strings.Fields(string(b))...)
			}
		}
	}
	return out
}

// liveChildren lists this test process's child processes.
func liveChildren() []string {
	return processTree(strconv.Itoa(os.Getpid()))[1:]
}

// noLeaks checks, after a test, that no process it started is left and no listening port stayed open.
func noLeaks(t *testing.T, listenBefore int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		kids, n := liveChildren(), listening()
		if len(kids) == 0 && n <= listenBefore {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("leaked: child processes %v, listening sockets %d (before: %d)", kids, n, listenBefore)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServeAndLoadWriteAResultFile(t *testing.T) {
	before := listening()
	dir := t.TempDir()
	for _, tc := range []struct{ backend, extra string }{{"epoll", ""}, {"uring", "--multishot"}, {"gostd", ""}} {
		t.Run(tc.backend+tc.extra, func(t *testing.T) {
			args := []string{"--backend", tc.backend}
			if tc.extra != "" {
				args = append(args, tc.extra)
			}
			srv := startServe(t, nil, args...)
			out := filepath.Join(dir, tc.backend+".json")
			r := runRingbench(t, dir, 60*time.Second, "load", "--target", srv.listen, "--control", srv.control, "--control-token-file", srv.tokenFile,
				"--conns", "4", "--msg-size", "256", "--duration", "300ms", "--idle-conns", "300", "--verify", "--out", out)
			f := loadedResult(t, "load", r, out)
			s := f.Samples[0]
			if s.Backend != tc.backend || s.Workload != "echo-proxy" || s.Ops == 0 || s.Latency.Count != s.Ops {
				t.Fatalf("sample: %+v", s)
			}
			if ivOps := intervalOps(s); len(s.Intervals) < 3 || ivOps != s.Ops {
				t.Errorf("%d intervals of the default 100ms holding %d requests, the sample %d", len(s.Intervals), ivOps, s.Ops)
			}
			if !s.Syscalls.Available || s.CPU.PerOpNs <= 0 || s.Memory == nil || s.Memory.IdleConns != 300 {
				t.Errorf("server figures missing: syscalls %+v cpu %+v memory %+v", s.Syscalls, s.CPU, s.Memory)
			}
			if !strings.Contains(r.Stderr, "samples of") || !strings.Contains(r.Stderr, "[1/") || !strings.Contains(r.Stderr, "ETA") {
				t.Errorf("load prints no estimate or no progress line with an ETA per sample:\n%s", r.Stderr)
			}
			if !strings.Contains(r.Stderr, "load generator") || !strings.Contains(r.Stdout, "memory per idle connection") {
				t.Errorf("output lacks the generator's CPU or the memory line:\n%s\n%s", r.Stdout, r.Stderr)
			}
			if code := srv.stop(t, syscall.SIGTERM); code != 0 {
				t.Errorf("serve exit %d: %s", code, srv.stderr)
			}
			if !strings.Contains(srv.stdout.String(), "served") {
				t.Errorf("serve output: %s", srv.stdout)
			}
		})
	}
	noLeaks(t, before)
}

func TestServeProxiesToAnUpstream(t *testing.T) {
	before := listening()
	echo := startServe(t, nil, "--backend", "epoll")
	proxy := startServe(t, nil, "--backend", "uring", "--upstream", echo.listen)
	out := filepath.Join(t.TempDir(), "p.json")
	r := runRingbench(t, "", 60*time.Second, "load", "--target", proxy.listen, "--control", proxy.control, "--control-token-file", proxy.tokenFile,
		"--conns", "8", "--pipeline", "2", "--duration", "300ms", "--verify", "--out", out)
	f := loadedResult(t, "load", r, out)
	if p := f.Samples[0].Params; p["topology"] != "proxy" || p["pipeline"] != "2" {
		t.Errorf("params %v", p)
	}
	proxy.stop(t, syscall.SIGTERM)
	echo.stop(t, syscall.SIGTERM)
	noLeaks(t, before)
}

func TestLoadReportsAKilledServer(t *testing.T) {
	before := listening()
	srv := startServe(t, nil, "--backend", "uring")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ringbenchBin, "load", "--target", srv.listen, "--control", srv.control, "--control-token-file", srv.tokenFile,
		"--conns", "8", "--duration", "20s", "--timeout", "3s", "--out", filepath.Join(t.TempDir(), "k.json"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill the server in the middle of the run, once the load holds its 8 connections to it.
	waitFor(t, 30*time.Second, "the load's 8 connections to the server", func() bool {
		return socketsHeld(tcpSockets("01", srv.listen), processTree(strconv.Itoa(cmd.Process.Pid))...) >= 8
	})
	srv.stop(t, syscall.SIGKILL)
	start := time.Now()
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitFailure {
		t.Fatalf("load after the server was killed: %v, want exit %d; stderr: %s", err, exitFailure, stderr.String())
	}
	if time.Since(start) > 15*time.Second {
		t.Errorf("load took %v to notice", time.Since(start))
	}
	// Before its samples, load prints its estimate; after them, the failure: one line blaming the server.
	msg := strings.TrimSpace(stderr.String())
	if first, rest, ok := strings.Cut(msg, "\n"); ok && strings.Contains(first, "samples of") {
		msg = rest
	}
	if !strings.Contains(msg, "server") || strings.Count(msg, "\n") != 0 {
		t.Errorf("want one line blaming the server, got %q", msg)
	}
	noLeaks(t, before)
}

func TestServeAndLoadAcrossNetworkNamespaces(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	before := listening()
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("no ip command (iproute2) to make network namespaces")
	}
	pid := os.Getpid()
	nsS, nsL := fmt.Sprintf("rbs%d", pid), fmt.Sprintf("rbl%d", pid)
	vS, vL := fmt.Sprintf("rbvs%d", pid%1000000), fmt.Sprintf("rbvl%d", pid%1000000)
	subnet := fmt.Sprintf("10.213.%d", pid%250)
	run := func(args ...string) error {
		out, err := exec.Command(ip, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	if err := run("netns", "add", nsS); err != nil {
		t.Skipf("cannot make a network namespace here: %v", err)
	}
	t.Cleanup(func() { _ = run("netns", "del", nsS) })
	if err := run("netns", "add", nsL); err != nil {
		t.Skipf("cannot make a second network namespace here: %v", err)
	}
	t.Cleanup(func() { _ = run("netns", "del", nsL) }) // deleting a namespace deletes its end of the veth
	for _, step := range [][]string{
		{"link", "add", vS, "type", "veth", "peer", "name", vL},
		{"link", "set", vS, "netns", nsS},
		{"link", "set", vL, "netns", nsL},
		{"-n", nsS, "addr", "add", subnet + ".1/24", "dev", vS},
		{"-n", nsL, "addr", "add", subnet + ".2/24", "dev", vL},
		{"-n", nsS, "link", "set", vS, "up"},
		{"-n", nsL, "link", "set", vL, "up"},
		{"-n", nsS, "link", "set", "lo", "up"},
		{"-n", nsL, "link", "set", "lo", "up"},
	} {
		if err := run(step...); err != nil {
			t.Skipf("cannot join the namespaces with a veth pair: %v", err)
		}
	}
	srv := startServe(t, []string{ip, "netns", "exec", nsS}, "--backend", "uring",
		"--listen", subnet+".1:0", "--control", subnet+".1:0")
	if !strings.HasPrefix(srv.listen, subnet+".1:") {
		t.Fatalf("serve listens on %s, want %s.1", srv.listen, subnet)
	}
	out := filepath.Join(t.TempDir(), "ns.json")
	r := runCmd(t, "", 60*time.Second, nil, ip, "netns", "exec", nsL, ringbenchBin, "load", "--target", srv.listen,
		"--control", srv.control, "--control-token-file", srv.tokenFile, "--conns", "4", "--duration", "300ms", "--verify", "--out", out)
	f := loadedResult(t, "load across namespaces", r, out)
	if s := f.Samples[0]; s.Ops == 0 || s.Backend != "uring" || !s.Syscalls.Available {
		t.Fatalf("sample %+v", s)
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("serve exit %d: %s", code, srv.stderr)
	}
	noLeaks(t, before)
}

func TestServeAndLoadUsageErrors(t *testing.T) {
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "serve"), "backend")
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "serve", "--backend", "nope"), "nope")
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "serve", "--backend", "epoll", "--listen", "example.com:80"), "--listen")
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "load"), "--target")
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "load", "--target", "127.0.0.1:1", "--msg-size", "0"), `--msg-size "0"`)
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "load", "--target", "127.0.0.1:1", "--msg-size", "2M"), "--msg-size 2097152")
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "load", "--target", "127.0.0.1:1", "--pipeline", "0"), "--pipeline")
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "load", "--target", "127.0.0.1:1", "--rate", "-3"), "--rate")
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "load", "--target", "127.0.0.1:1", "--engine", "kqueue"), "--engine")
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "load", "--target", "127.0.0.1:1", "--interval", "5ms"), "--interval 5ms")
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "load", "--target", "127.0.0.1:1", "--duration", "1s", "--interval", "2s"), "--interval 2s")
}

func TestServeAndLoadThreads(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--backend", "epoll", "--threads", "0"},
		{"serve", "--backend", "epoll", "--threads", "257"},
		{"load", "--target", "127.0.0.1:1", "--threads", "0"},
		{"load", "--target", "127.0.0.1:1", "--conns", "2", "--threads", "3"},
		{"run", "--workload", "echo-proxy", "--backend", "epoll", "--threads", "300"},
		{"run", "--workload", "echo-proxy", "--backend", "epoll", "--gen-threads", "0"},
	} {
		assertUsageError(t, runRingbench(t, "", 30*time.Second, args...), "threads")
	}
	before := listening()
	srv := startServe(t, nil, "--backend", "uring", "--threads", "2", "--multishot")
	out := filepath.Join(t.TempDir(), "t.json")
	r := runRingbench(t, "", 60*time.Second, "load", "--target", srv.listen, "--control", srv.control, "--control-token-file", srv.tokenFile,
		"--conns", "8", "--threads", "2", "--duration", "300ms", "--verify", "--out", out)
	f := loadedResult(t, "load", r, out)
	s := f.Samples[0]
	if s.Ops == 0 || s.Latency.Count != s.Ops || s.Params["gen-threads"] != "2" || !s.Syscalls.Available {
		t.Errorf("sample: ops %d latency count %d params %v syscalls %+v", s.Ops, s.Latency.Count, s.Params, s.Syscalls)
	}
	if !strings.Contains(r.Stderr, "busiest of its 2 threads") {
		t.Errorf("output lacks the generator threads:\n%s", r.Stderr)
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("serve exit %d: %s", code, srv.stderr)
	}
	noLeaks(t, before)
}
