package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// ringbenchBin is the real binary, built once by TestMain: command tests run it as a user would.
var ringbenchBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ringbench-cmdtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ringbenchBin = filepath.Join(dir, "ringbench")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=test -X main.commit=testcommit", "-o", ringbenchBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ringbench:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// cmdResult is what one ringbench invocation did.
type cmdResult struct {
	Stdout, Stderr string
	Code           int
}

// runRingbench runs the built binary with args in dir ("" = a fresh temp dir) and a time limit.
func runRingbench(t *testing.T, dir string, timeout time.Duration, args ...string) cmdResult {
	t.Helper()
	return runCmd(t, dir, timeout, nil, append([]string{ringbenchBin}, args...)...)
}

// runCmd runs argv with extra environment entries.
func runCmd(t *testing.T, dir string, timeout time.Duration, env []string, argv ...string) cmdResult {
	t.Helper()
	return runCmdStderr(t, dir, timeout, env, &bytes.Buffer{}, argv...)
}

// runCmdStderr is runCmd with stderr written to stderr as it comes (a watchWriter sees it while it runs).
func runCmdStderr(t *testing.T, dir string, timeout time.Duration, env []string, stderr interface {
	io.Writer
	fmt.Stringer
}, argv ...string) cmdResult {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s timed out after %v\nstdout:\n%s\nstderr:\n%s", strings.Join(argv, " "), timeout, out.String(), stderr.String())
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	return cmdResult{Stdout: out.String(), Stderr: stderr.String(), Code: code}
}

// writeFile writes content to dir/name and returns that path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// assertUsageError checks the contract for bad input: exit 2 and one line on stderr naming want.
func assertUsageError(t *testing.T, r cmdResult, want string) {
	t.Helper()
	if r.Code != exitUsage {
		t.Errorf("exit %d, want %d; stderr: %q", r.Code, exitUsage, r.Stderr)
	}
	msg := strings.TrimRight(r.Stderr, "\n")
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, want) {
		t.Errorf("stderr must be one line naming %q, got %q", want, r.Stderr)
	}
}

func TestVersionPrintsInjectedCommit(t *testing.T) {
	r := runRingbench(t, "", 30*time.Second, "version")
	if r.Code != 0 || !strings.Contains(r.Stdout, "ringbench test") || !strings.Contains(r.Stdout, "commit testcommit") {
		t.Fatalf("version: %+v", r)
	}
}

// TestVersionFromBuildInfo: a build without -ldflags in a git checkout says the revision the Go toolchain
// stamped, "-dirty" when the tree had changes.
func TestVersionFromBuildInfo(t *testing.T) {
	bi := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}
	if v, c := stampFromBuildInfo(bi, "dev", ""); v != "v1.2.3" || c != "0123456789ab-dirty" {
		t.Errorf("stamp: %q %q", v, c)
	}
	if v, c := stampFromBuildInfo(bi, "v9", "abc"); v != "v9" || c != "abc" {
		t.Errorf("linker flags must win: %q %q", v, c)
	}
	if v, c := stampFromBuildInfo(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "dev", ""); v != "dev" || c != "" {
		t.Errorf("no stamp: %q %q", v, c)
	}

	// A real build without -ldflags says the revision the toolchain stamped, when it stamped one.
	bin := filepath.Join(t.TempDir(), "ringbench")
	if out, err := exec.Command("go", "build", "-buildvcs=auto", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	info, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`vcs\.revision=([0-9a-f]{12})`).FindSubmatch(info)
	if m == nil {
		t.Skip("the toolchain stamped no VCS revision here (not a git checkout, or git unusable)")
	}
	r := runCmd(t, "", 30*time.Second, nil, bin, "version")
	if r.Code != 0 || !strings.Contains(r.Stdout, "commit "+string(m[1])) {
		t.Fatalf("want commit %s: %+v", m[1], r)
	}
}

func TestUsageErrorsExit2WithOneLine(t *testing.T) {
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "--no-such-flag"), "no-such-flag")
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "no-such-command"), "no-such-command")
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "version", "extra"), "extra")
}
