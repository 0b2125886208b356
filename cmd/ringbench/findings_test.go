package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// verdictRow is a claim's row in the findings table.
var verdictRow = regexp.MustCompile(`(?m)^([1-8])\s+(holds|partly holds|does not hold|not measured)\s+\S`)

// TestFindingsQuick runs `findings --quick` for real: every run, the table, findings.md and the report.
func TestFindingsQuick(t *testing.T) {
	out := filepath.Join(t.TempDir(), "fnd")
	data := t.TempDir()
	r := runRingbench(t, "", 5*time.Minute, "findings", "--quick", "--quiet", "--out", out, "--dir", data)
	if r.Code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if r.Stderr != "" {
		t.Errorf("--quiet, but stderr says %q", r.Stderr)
	}
	rows := verdictRow.FindAllStringSubmatch(r.Stdout, -1)
	if len(rows) != 8 {
		t.Fatalf("%d verdict rows, want 8:\n%s", len(rows), r.Stdout)
	}
	for i, row := range rows {
		if row[1] != string(rune('1'+i)) {
			t.Errorf("row %d is claim %s", i+1, row[1])
		}
	}
	cold := true
	if _, err := os.Stat(filepath.Join(out, "cold.json")); err != nil {
		// Only a machine without a writable block-device directory skips it, and the table says so.
		cold = false
		if !strings.Contains(r.Stdout, "no writable directory on a block device") {
			t.Errorf("no cold.json and no reason:\n%s", r.Stdout)
		}
	}
	for _, name := range []string{"echo.json", "oneshot.json", "batch.json", "idle.json", "idle-multishot.json", "policy.json",
		"findings.md", "report/index.html"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "findings.md"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(out, "report", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	// Every verdict of findings.md links to a section of the report that is there.
	links := regexp.MustCompile(`\]\(report/index\.html#([a-z0-9-]+)\)`).FindAllSubmatch(md, -1)
	measured := 8 - strings.Count(string(md), "| not measured |")
	if len(links) != measured {
		t.Errorf("%d links for %d measured claims:\n%s", len(links), measured, md)
	}
	for _, l := range links {
		if !bytes.Contains(page, []byte(`id="`+string(l[1])+`"`)) {
			t.Errorf("findings.md links to #%s, which the report lacks", l[1])
		}
	}
	if !bytes.Contains(page, []byte(`<section id="findings">`)) {
		t.Error("the report has no Findings section")
	}
	// The claims each run measures are measured, but those that depend on the machine's figures.
	if strings.Contains(r.Stdout, "no io_uring batch sweep") || strings.Contains(r.Stdout, "no result set run with io_uring refused") ||
		strings.Contains(r.Stdout, "with --idle-conns") || (cold && strings.Contains(r.Stdout, "no --cache cold series")) {
		t.Errorf("a run's claim is not measured:\n%s", r.Stdout)
	}
	assertEmpty(t, data, "--dir")
}

func TestFindingsBadInput(t *testing.T) {
	full := t.TempDir()
	writeFile(t, full, "x", "")
	fresh := filepath.Join(t.TempDir(), "new")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"findings", "--out", full}, "--out " + full + ": exists and is not empty"},
		{[]string{"findings", "--out", fresh, "--dir", filepath.Join(full, "nope")}, "--dir"},
		{[]string{"findings", "--out", fresh, "extra"}, `findings takes no arguments, got "extra"`},
		{[]string{"findings", "--out", fresh, "--quick=maybe"}, "--quick"},
		{[]string{"findings", "--out", fresh, "--bogus"}, "flag provided but not defined: -bogus"},
	} {
		r := runRingbench(t, "", time.Minute, c.args...)
		assertUsageError(t, r, c.want)
		if _, err := os.Stat(fresh); err == nil {
			t.Fatalf("%v created --out before refusing", c.args)
		}
	}
}

// TestFindingsInterrupted: SIGINT during a run stops it, and nothing is left: no --out, no data set, no
// child process.
func TestFindingsInterrupted(t *testing.T) {
	out := filepath.Join(t.TempDir(), "fnd")
	data := t.TempDir()
	cmd := exec.Command(ringbenchBin, "findings", "--quick", "--out", out, "--dir", data)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		done <- cmd.Wait()
	}()
	var said []string
	deadline := time.After(3 * time.Minute)
	// The batch run makes a data set in --dir: interrupt it while it runs.
	for waiting := true; waiting; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("findings ended before the batch run:\n%s", strings.Join(said, "\n"))
			}
			said = append(said, l)
			waiting = !strings.Contains(l, "batch: ringbench run")
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("no batch run in 3 minutes:\n%s", strings.Join(said, "\n"))
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for l := range lines {
		said = append(said, l)
	}
	err = <-done
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Fatalf("%v, want exit %d:\n%s", err, exitInterrupted, strings.Join(said, "\n"))
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("--out %s left behind", out)
	}
	assertEmpty(t, data, "--dir")
	// No child of findings runs on: none names its --out any more.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(out)) {
			t.Errorf("a child is still running: %s", bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
		}
	}
}

func TestFindingsDropUnavailable(t *testing.T) {
	plan := findingsPlan(quickScale, "", "/var/tmp", "")
	noRing := func(name string) error {
		if name == "uring" || name == "sqpoll" {
			return errors.New("io_uring_setup: EPERM")
		}
		return nil
	}
	backends := map[string]string{}
	skips := map[string]string{}
	for _, r := range dropUnavailable(plan, noRing) {
		skips[r.name] = r.skip
		for i, a := range r.args {
			if a == "--backend" {
				backends[r.name] = r.args[i+1]
			}
		}
	}
	for name, want := range map[string]string{"echo": "epoll", "oneshot": "epoll", "batch": "epoll", "idle": "epoll", "cold": "epoll", "policy": "all"} {
		if backends[name] != want || skips[name] != "" {
			t.Errorf("%s: --backend %q (skip %q), want %q", name, backends[name], skips[name], want)
		}
	}
	if want := "cannot run here: uring: io_uring_setup: EPERM"; skips["idle-multishot"] != want {
		t.Errorf("idle-multishot: skip %q, want %q", skips["idle-multishot"], want)
	}
}
