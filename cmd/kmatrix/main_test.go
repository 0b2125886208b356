package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestParseAndTable(t *testing.T) {
	out := t.TempDir()
	for _, log := range []string{"../../internal/kmatrix/testdata/tcg-6.1.console.log", "../../internal/kmatrix/testdata/tcg-6.12.console.log"} {
		code, stdout, stderr := runCLI("parse", "-log", log, "-out", out, "-accel", "tcg", "-note", "from a test")
		if code != 0 {
			t.Fatalf("parse %s: exit %d: %s", log, code, stderr)
		}
		if !strings.Contains(stdout, "tcg: probe ok; run: ran epoll,sqpoll,uring") || !strings.Contains(stdout, "warning: from a test") {
			t.Fatalf("parse output %q", stdout)
		}
	}
	code, stdout, stderr := runCLI("table", out)
	if code != 0 || !strings.Contains(stdout, "| 6.1.0-56-cloud-amd64 | tcg (emulated) | absent | ok | 0x1fff | 48 |") ||
		!strings.Contains(stdout, "| 6.12.117+deb12-cloud-amd64 | tcg (emulated) | 0 | ok | 0xffff | 57 |") {
		t.Fatalf("table: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestParseFailures(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI("parse", "-log", "../../internal/kmatrix/testdata/tcg-6.12-mttcg-oops.console.log", "-out", out, "-accel", "tcg")
	if code != 1 || !strings.Contains(stderr, "Kernel panic") || !strings.Contains(stdout, "6.12-tcg:") {
		t.Fatalf("crashed boot: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "6.12-tcg.boot.json")); err != nil {
		t.Fatalf("a failed boot still gets its summary: %v", err)
	}
	if code, _, stderr := runCLI("parse", "-log", filepath.Join(out, "missing.log"), "-out", out); code != 1 || !strings.Contains(stderr, "missing.log") {
		t.Fatalf("missing log: %d %s", code, stderr)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		nil, {"bogus"}, {"parse"}, {"parse", "-log", "x"}, {"parse", "-log", "x", "-out", "y", "-accel", "hvf"},
		{"table"}, {"initramfs", "spec"}, {"caps", "extra"}, {"parse", "-nosuchflag"},
	} {
		if code, _, _ := runCLI(args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	if code, stdout, _ := runCLI("help"); code != 0 || !strings.Contains(stdout, "kmatrix parse") {
		t.Fatalf("help: %d %q", code, stdout)
	}
	if code, _, stderr := runCLI("table", t.TempDir()); code != 1 || !strings.Contains(stderr, "no *.boot.json") {
		t.Fatalf("empty table dir: %d %s", code, stderr)
	}
}

func TestCaps(t *testing.T) {
	code, stdout, stderr := runCLI("caps")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(stdout), &v); err != nil || v["schema"] != "ringbench/kmatrix-caps" {
		t.Fatalf("caps output %q: %v", stdout, err)
	}
}
