package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/probe"
)

func verdictOf(t *testing.T, r probe.Report, name string) probe.Verdict {
	t.Helper()
	for _, v := range r.Backends {
		if v.Backend == name {
			return v
		}
	}
	t.Fatalf("no verdict for backend %s: %+v", name, r.Backends)
	return probe.Verdict{}
}

func decodeProbe(t *testing.T, res cmdResult) probe.Report {
	t.Helper()
	if res.Code != 0 {
		t.Fatalf("exit %d, want 0; stderr: %s", res.Code, res.Stderr)
	}
	var r probe.Report
	if err := json.Unmarshal([]byte(res.Stdout), &r); err != nil {
		t.Fatalf("probe --json output is not JSON: %v\n%s", err, res.Stdout)
	}
	return r
}

func TestProbeJSONOnThisMachine(t *testing.T) {
	r := decodeProbe(t, runRingbench(t, "", 30*time.Second, "probe", "--format", "json"))
	if r.Tool.Version != "test" || r.Tool.Commit != "testcommit" || r.Schema != probe.Schema || r.Version != probe.SchemaVersion ||
		r.SchemaVersion != probe.SchemaVersion {
		t.Errorf("header: %+v schema %q version %d schema_version %d", r.Tool, r.Schema, r.Version, r.SchemaVersion)
	}
	// --json, hidden from --help, is still --format json.
	if old := decodeProbe(t, runRingbench(t, "", 30*time.Second, "probe", "--json")); old.Schema != probe.Schema {
		t.Errorf("--json: schema %q", old.Schema)
	}
	help := runRingbench(t, "", 30*time.Second, "probe", "--help")
	if !strings.Contains(help.Stdout, "--format value") || strings.Contains(help.Stdout, "   --json") {
		t.Errorf("probe --help:\n%s", help.Stdout)
	}
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "probe", "--format", "xml"), "--format")
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "probe", "--json", "--format", "table"), "--json")
	for _, n := range backend.Names() {
		verdictOf(t, r, n)
	}
	iu := r.IOUring
	if !iu.SetupOK {
		t.Skipf("io_uring setup fails here (%s): %s", iu.SetupErrno, iu.SetupError)
	}
	for _, op := range []string{"READ", "OPENAT", "ACCEPT", "RECV"} {
		if !slices.Contains(iu.Opcodes, op) {
			t.Errorf("opcode %s missing: %v", op, iu.Opcodes)
		}
	}
	for _, f := range iu.SetupFlags {
		if f.Name == "SQPOLL" && !f.Accepted {
			t.Errorf("SQPOLL refused: %s", f.Reason)
		}
	}
	for _, n := range backend.Names() {
		if v := verdictOf(t, r, n); !v.Runnable {
			t.Errorf("%s not runnable: %s", n, v.Reason)
		}
	}
}

func TestProbeTextOnThisMachine(t *testing.T) {
	res := runRingbench(t, "", 30*time.Second, "probe")
	if res.Code != 0 || res.Stderr != "" {
		t.Fatalf("exit %d, stderr %q", res.Code, res.Stderr)
	}
	for _, want := range []string{"ringbench test (testcommit) probe", "\nio_uring\n", "  io_uring_disabled ",
		"  setup flags ", "\nBackends\n", "  epoll    runnable", "  gostd    runnable"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, res.Stdout)
		}
	}
	if strings.Contains(res.Stdout, "  setup               ok\n") {
		for _, want := range []string{"SQPOLL         accepted", "  uring    runnable", "  sqpoll   runnable"} {
			if !strings.Contains(res.Stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, res.Stdout)
			}
		}
	}
}

func TestProbeHelpExplainsVerdicts(t *testing.T) {
	res := runRingbench(t, "", 30*time.Second, "probe", "--help")
	if res.Code != 0 {
		t.Fatalf("exit %d", res.Code)
	}
	for _, want := range []string{"--json", "runnable", "NOT RUNNABLE", "exit status 0", "io_uring_disabled", "sqpoll", "false zero"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("help lacks %q:\n%s", want, res.Stdout)
		}
	}
}

func TestProbeUsageErrors(t *testing.T) {
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "probe", "extra"), "extra")
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "probe", "--no-such-flag"), "no-such-flag")
}
