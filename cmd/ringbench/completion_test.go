package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBashCompletionCompletes sources the bash script in a real bash and completes "ringbench ru" and
// "ringbench run --dur" through the binary itself.
func TestBashCompletionCompletes(t *testing.T) {
	r := runRingbench(t, "", 30*time.Second, "completion", "bash")
	if r.Code != 0 {
		t.Fatalf("%+v", r)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "ringbench.bash")
	if err := os.WriteFile(script, []byte(r.Stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) string {
		t.Helper()
		prog := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _ringbench_complete; echo "${COMPREPLY[*]}"`
		res := runCmd(t, dir, 30*time.Second, []string{"PATH=" + filepath.Dir(ringbenchBin) + ":" + os.Getenv("PATH")},
			append([]string{"bash", "-c", prog, "bash", script}, words...)...)
		if res.Code != 0 {
			t.Fatalf("bash: %+v", res)
		}
		return strings.TrimSpace(res.Stdout)
	}
	if got := complete("ringbench", "ru"); got != "run" {
		t.Errorf("ringbench ru<TAB>: %q", got)
	}
	if got := complete("ringbench", "run", "--dur"); got != "--duration" {
		t.Errorf("ringbench run --dur<TAB>: %q", got)
	}
}

func TestCompletionAndManPages(t *testing.T) {
	for shell, want := range map[string]string{"zsh": "compdef _ringbench ringbench", "fish": "complete -c ringbench"} {
		if r := runRingbench(t, "", 30*time.Second, "completion", shell); r.Code != 0 || !strings.Contains(r.Stdout, want) {
			t.Errorf("completion %s: %+v", shell, r)
		}
	}
	assertUsageError(t, runRingbench(t, "", 30*time.Second, "completion", "tcsh"), "tcsh")
	r := runRingbench(t, "", 30*time.Second, "man")
	if r.Code != 0 || !strings.Contains(r.Stdout, ".TH ringbench 1") || !strings.Contains(r.Stdout, "compare") {
		t.Errorf("man: exit %d, %.200q", r.Code, r.Stdout)
	}
	if r := runRingbench(t, "", 30*time.Second, "man", "--markdown"); r.Code != 0 || !strings.Contains(r.Stdout, "# NAME") {
		t.Errorf("man --markdown: exit %d, %.200q", r.Code, r.Stdout)
	}
}
