package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/result"
)

// netnsLAN makes network namespaces joined by a bridge in the first one, on one /24, and deletes them
// when the test ends (also when it fails). It returns the namespaces' names and addresses; it skips the
// test, saying why, where namespaces cannot be made.
func netnsLAN(t *testing.T, n int) (ip string, names, addrs []string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("no ip command (iproute2) to make network namespaces")
	}
	rb := make([]byte, 3)
	if _, err := rand.Read(rb); err != nil {
		t.Fatal(err)
	}
	tag := hex.EncodeToString(rb) // unique per run: names of at most 15 characters
	subnet := fmt.Sprintf("10.215.%d", int(rb[0])%250)
	run := func(args ...string) error {
		out, err := exec.Command(ip, args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	for i := range n {
		ns := fmt.Sprintf("rbm%s%d", tag, i)
		if err := run("netns", "add", ns); err != nil {
			t.Skipf("cannot make a network namespace here: %v", err)
		}
		// Deleting a namespace deletes the bridge and the veth ends in it, and so their peers.
		t.Cleanup(func() {
			if err := run("netns", "del", ns); err != nil {
				t.Errorf("removing the test's namespace: %v", err)
			}
		})
		names = append(names, ns)
		addrs = append(addrs, fmt.Sprintf("%s.%d", subnet, i+1))
	}
	br := "rbm" + tag + "br"
	steps := [][]string{
		{"-n", names[0], "link", "add", br, "type", "bridge"},
		{"-n", names[0], "addr", "add", addrs[0] + "/24", "dev", br},
		{"-n", names[0], "link", "set", br, "up"},
		{"-n", names[0], "link", "set", "lo", "up"},
	}
	for i := 1; i < n; i++ {
		hub, leaf := fmt.Sprintf("rbm%sh%d", tag, i), fmt.Sprintf("rbm%sl%d", tag, i)
		steps = append(steps,
			[]string{"link", "add", hub, "type", "veth", "peer", "name", leaf},
			[]string{"link", "set", hub, "netns", names[0]},
			[]string{"link", "set", leaf, "netns", names[i]},
			[]string{"-n", names[0], "link", "set", hub, "master", br},
			[]string{"-n", names[0], "link", "set", hub, "up"},
			[]string{"-n", names[i], "addr", "add", addrs[i] + "/24", "dev", leaf},
			[]string{"-n", names[i], "link", "set", leaf, "up"},
			[]string{"-n", names[i], "link", "set", "lo", "up"})
	}
	for _, step := range steps {
		if err := run(step...); err != nil {
			t.Skipf("cannot join the namespaces with veth pairs and a bridge: %v", err)
		}
	}
	return ip, names, addrs
}

// TestTwoLoadHostsMeasureOneServerWindow serves in one network namespace and loads from two others over
// veth, both loads measuring the server's windows together (--loaders 2), then merges their files: the
// merged requests and latency counts are the two files' sums exactly, and they are what the server
// counted in each of its windows.
func TestTwoLoadHostsMeasureOneServerWindow(t *testing.T) {
	ip, ns, addrs := netnsLAN(t, 3)
	srv := startServe(t, []string{ip, "netns", "exec", ns[0]}, "--backend", "epoll",
		"--listen", addrs[0]+":0", "--control", addrs[0]+":0")
	dir := t.TempDir()
	outs := []string{filepath.Join(dir, "b.json"), filepath.Join(dir, "c.json")}
	var wg sync.WaitGroup
	res := make([]cmdResult, 2)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Bounded: two samples of 300 ms, 2 connections, and a barrier wait of 30 s at most.
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, ip, "netns", "exec", ns[i+1], ringbenchBin, "load", "--target", srv.listen,
				"--control", srv.control, "--control-token-file", srv.tokenFile, "--loaders", "2", "--loaders-wait", "30s",
				"--conns", "2", "--count", "2", "--duration", "300ms", "--warmup", "100ms", "--out", outs[i])
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			res[i] = cmdResult{Stderr: stderr.String(), Code: cmd.ProcessState.ExitCode()}
			if err != nil && res[i].Code == 0 {
				res[i].Code = -1
			}
		}()
	}
	wg.Wait()
	for i, r := range res {
		if r.Code != 0 {
			t.Fatalf("load from %s: exit %d\n%s\nserve: %s", ns[i+1], r.Code, r.Stderr, srv.stderr)
		}
	}
	merged := filepath.Join(dir, "merged.json")
	if r := runRingbench(t, "", 60*time.Second, "merge", "--out", merged, outs[0], outs[1]); r.Code != 0 {
		t.Fatalf("merge: exit %d\n%s", r.Code, r.Stderr)
	}
	fb, fc, fm := loadResult(t, outs[0]), loadResult(t, outs[1]), loadResult(t, merged)
	if len(fm.Samples) != 2 || len(fb.Samples) != 2 || len(fc.Samples) != 2 {
		t.Fatalf("samples: %d, %d merged into %d, want 2 each", len(fb.Samples), len(fc.Samples), len(fm.Samples))
	}
	for i, m := range fm.Samples {
		b, c := fb.Samples[i], fc.Samples[i]
		if m.Ops != b.Ops+c.Ops || b.Ops == 0 || c.Ops == 0 {
			t.Errorf("sample %d: merged ops %d, want %d + %d", i, m.Ops, b.Ops, c.Ops)
		}
		h, err := result.DecodeHistogram(m.Latency.Histogram)
		if err != nil {
			t.Fatal(err)
		}
		if h.TotalCount() != b.Latency.Count+c.Latency.Count || m.Latency.Count != h.TotalCount() {
			t.Errorf("sample %d: merged histogram holds %d (says %d), want %d + %d", i, h.TotalCount(), m.Latency.Count,
				b.Latency.Count, c.Latency.Count)
		}
		w := m.ServerWindow
		if w == nil || w.Ops != m.Ops || w.Loaders != 2 || *b.ServerWindow != *w || *c.ServerWindow != *w {
			t.Errorf("sample %d: the server's window %+v (loaders' %+v, %+v), want one counting the merged %d requests",
				i, w, b.ServerWindow, c.ServerWindow, m.Ops)
		}
		if !m.Syscalls.Available || m.Syscalls.PerOp != float64(m.Syscalls.Total)/float64(m.Ops) || m.Syscalls.Total != b.Syscalls.Total {
			t.Errorf("sample %d: server syscalls %+v, want the window's over the merged %d requests", i, m.Syscalls, m.Ops)
		}
	}
	if fm.Samples[0].ServerWindow.ID == fm.Samples[1].ServerWindow.ID {
		t.Errorf("two samples share the server window %s", fm.Samples[0].ServerWindow.ID)
	}
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("serve exit %d: %s", code, srv.stderr)
	}

	// Bad input: one line naming the file, exit 2; the output is never replaced without --force.
	r := runRingbench(t, "", 30*time.Second, "merge", "--out", filepath.Join(dir, "twice.json"), outs[0], outs[0])
	assertUsageError(t, r, "given twice")
	r = runRingbench(t, "", 30*time.Second, "merge", "--out", filepath.Join(dir, "x.json"), outs[0], filepath.Join(dir, "nope.json"))
	assertUsageError(t, r, "nope.json")
	r = runRingbench(t, "", 30*time.Second, "merge", "--out", merged, outs[0], outs[1])
	assertUsageError(t, r, merged)
	if r := runRingbench(t, "", 30*time.Second, "merge", "--force", "--out", merged, outs[0], outs[1]); r.Code != 0 {
		t.Errorf("merge --force: exit %d: %s", r.Code, r.Stderr)
	}
	for _, p := range []string{"twice.json", "x.json"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("a refused merge wrote %s", p)
		}
	}
}
