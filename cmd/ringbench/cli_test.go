package main

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHelpShowsPlaceholdersAndOneDefault: no backticked usage text turned into a placeholder, one default
// per flag, -f means --format only (not report's --force), and the defaults fit compare.
func TestHelpShowsPlaceholdersAndOneDefault(t *testing.T) {
	help := func(cmd string) string {
		r := runRingbench(t, "", 30*time.Second, cmd, "--help")
		if r.Code != 0 {
			t.Fatalf("%s --help: %+v", cmd, r)
		}
		return r.Stdout
	}
	run, load, serve := help("run"), help("load"), help("serve")
	for _, c := range []struct{ text, want, bad string }{
		{run, "--save-baseline value", "--save-baseline ringbench"},
		{load, "--control-token value", "--control-token ringbench"},
		{load, "--internal-child", ""},
		{serve, "--control value", "--control ringbench"},
	} {
		if c.want == "--internal-child" {
			if strings.Contains(c.text, c.want) {
				t.Errorf("hidden flag shown:\n%s", c.text)
			}
			continue
		}
		if !strings.Contains(c.text, c.want) || strings.Contains(c.text, c.bad) {
			t.Errorf("want %q, not %q, in:\n%s", c.want, c.bad, c.text)
		}
	}
	files := regexp.MustCompile(`(?m)^ *--files value .*$`).FindString(run)
	if files == "" || strings.Count(files, "default") != 1 {
		t.Errorf("--files line %q: want one default", files)
	}
	for _, want := range []string{`--count value, -n value`, `(default: 6)`, `(default: 1s)`} {
		if !strings.Contains(run, want) {
			t.Errorf("run --help lacks %q", want)
		}
	}
	if !regexp.MustCompile(`--count value, -n value .*\(default: 6\)`).MatchString(load) {
		t.Errorf("load --count is not 6 by default:\n%s", load)
	}
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "report", "x.json", "-f"), "-f")
}

// TestFlagErrorsSayWhy: a value the flag parser refused keeps the reason; unknown flags and commands get
// a suggestion; counts and rates take k and M.
func TestFlagErrorsSayWhy(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		want string
		args []string
	}{
		{`--duration "30": missing unit, e.g. 30s`, []string{"run", "--duration", "30"}},
		{`--warmup "1x": not a duration`, []string{"run", "--warmup", "1x"}},
		{`--count "x": not a whole number`, []string{"run", "--count", "x"}},
		{`--verify "maybe": want true or false`, []string{"run", "--verify=maybe"}},
		{"did you mean --duration?", []string{"run", "--durtion", "1s"}},
		{"did you mean --width?", []string{"report", "a.json", "--widht", "800"}},
		{`Did you mean "run"?`, []string{"rnu"}},
		{`--rate 1m: not a rate`, []string{"run", "--rate", "1m"}},
		{`--conns 200k: at most 100000`, []string{"load", "--target", "127.0.0.1:9", "--conns", "200k"}},
		{"--conns 0: must be at least 1", []string{"run", "--conns", "0k"}},
		// 10k idle connections and a 50k rate parse: the run stops at --dir, checked after them.
		{"--dir /nonexistent", []string{"run", "--workload", "echo-proxy", "--idle-conns", "10k", "--rate", "50k", "--files", "2k", "--dir", "/nonexistent"}},
	} {
		assertUsageError(t, runRingbench(t, dir, 30*time.Second, c.args...), c.want)
	}
}

// TestRunOffATerminalSaysHowLongAndWhere: with stderr not a terminal (a CI log), run prints its
// estimate first and one line per sample with the time left.
func TestRunOffATerminalSaysHowLongAndWhere(t *testing.T) {
	d := newRunDirs(t)
	r := d.run(t, 60*time.Second, "run", "--dir", d.data, "--backend", "epoll", "--workload", "small-file", "--files", "1",
		"--file-size", "64k", "--count", "2", "--duration", "100ms", "--warmup", "0", "--out", "r.json")
	if r.Code != 0 {
		t.Fatalf("%+v", r)
	}
	if !regexp.MustCompile(`(?m)^ringbench: 4 samples of 100ms \(1 workloads × 1 backends × 2 rounds × 2 kinds\) and 1 warm-ups of 0s: about [0-9.]+m?s`).MatchString(r.Stderr) {
		t.Errorf("no estimate:\n%s", r.Stderr)
	}
	lines := regexp.MustCompile(`(?m)^ringbench: \[(\d)/4\] small-file on epoll: (timed|counted) sample \d/2 done, .* elapsed, ETA .*$`).FindAllStringSubmatch(r.Stderr, -1)
	if len(lines) != 4 || lines[3][1] != "4" {
		t.Errorf("want 4 progress lines:\n%s", r.Stderr)
	}
}
