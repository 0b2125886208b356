package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ringbench/ringbench/internal/findings"
	"github.com/ringbench/ringbench/internal/report"
	"github.com/ringbench/ringbench/internal/result"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "findings",
		Usage:     "test eight common claims about io_uring and epoll on this machine, and say which hold",
		UsageText: "ringbench findings [--out DIR] [--quick] [--force] [--dir DIR] [--quiet]",
		Description: "Runs the smallest set of runs that tests every claim, each an ordinary `ringbench run` (or, for " +
			"the policy claim, `ringbench sandbox --deny io_uring -- ringbench run`) writing DIR/NAME.json: echo " +
			"servers with epoll (level-triggered and oneshot), io_uring and SQPOLL at 1 and 16 connections; a batch sweep of " +
			"small-file; idle connections with and without multishot receive; small-file with a cold page cache; " +
			"and echo-proxy with io_uring refused by seccomp. Then it prints one row per claim with what was " +
			"measured and a verdict (holds, partly holds, does not hold, not measured), and writes DIR/findings.md " +
			"and the HTML report into DIR/report/.\n\n" +
			"About 3 minutes on 2 CPUs; --quick takes about 30 seconds, with too few samples to trust (for CI). A run " +
			"that cannot happen here (no directory on a block device for the cold cache, io_uring unavailable) " +
			"leaves its claims not measured, saying why; a backend that cannot run here is left out of the runs. --out must be empty or missing unless --force is given.\n\n" +
			"Exit status: 0 findings produced, 1 a run failed (the findings of the others are still produced), " +
			"2 bad flag or --out, 130 interrupted (the runs are stopped and what they wrote removed).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "directory for the result files, findings.md and report/ (default results/findings-<UTC time>)"},
			&cli.BoolFlag{Name: "quick", Usage: "tiny durations and counts: checks that every claim can be measured, not what it says"},
			&cli.BoolFlag{Name: "force", Usage: "write into --out even if it is not empty"},
			&cli.StringFlag{Name: "dir", Usage: "directory for the file data sets (default: run's); the cold-cache run needs one on a block device and looks for one when this is on tmpfs"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress on stderr"},
		},
		Action: findingsAction,
	})
}

func findingsAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("findings takes no arguments, got %q", c.Args().First())
	}
	out := c.String("out")
	if !c.IsSet("out") {
		out = filepath.Join("results", "findings-"+time.Now().UTC().Format("20060102-150405"))
	}
	if err := checkOutDir(out); err != nil {
		return usageError("--out %v", err)
	}
	existed, err := dirState(out, c.Bool("force"))
	if err != nil {
		return usageError("--out %v", err)
	}
	dir := c.String("dir")
	if dir != "" {
		if err := checkDir(dir); err != nil {
			return usageError("--dir %v", err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return exitError(exitFailure, fmt.Errorf("finding this executable to run: %w", err))
	}
	scale := fullScale
	if c.Bool("quick") {
		scale = quickScale
	}
	coldDir, coldWhy := blockDir(dir, os.TempDir(), "/var/tmp", nearestDir(out))
	plan := dropUnavailable(findingsPlan(scale, dir, coldDir, coldWhy), backendAvailable)

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(out, 0o755); err != nil {
		return exitError(exitFailure, fmt.Errorf("--out %s: %w", out, err))
	}
	progress := io.Discard
	if !c.Bool("quiet") {
		progress = c.App.ErrWriter
	}
	start := time.Now()
	var paths, created []string
	why := map[int]string{} // claim → why its run did not measure it
	failed := false
	for i, r := range plan {
		path := filepath.Join(out, r.name+".json")
		prefix := fmt.Sprintf("ringbench findings: [%d/%d] %s", i+1, len(plan), r.name)
		if r.skip != "" {
			fmt.Fprintf(progress, "%s: not run: %s\n", prefix, r.skip)
			for _, cl := range r.claims {
				why[cl] = r.skip
			}
			continue
		}
		argv := append([]string{"run"}, r.args...)
		argv = append(argv, "--out", path)
		if c.Bool("force") {
			argv = append(argv, "--force")
		}
		if r.sandbox {
			argv = append([]string{"sandbox", "--deny", "io_uring", "--", exe}, argv...)
		}
		fmt.Fprintf(progress, "%s: ringbench %s\n", prefix, shellJoin(argv))
		t0 := time.Now()
		code, tail := runChild(ctx, exe, argv)
		if _, err := os.Stat(path); err == nil {
			created = append(created, path)
		}
		switch {
		case ctx.Err() != nil || code == exitInterrupted:
			stop()
			removeCreated(out, existed, created)
			return cli.Exit("ringbench findings: interrupted; the runs were stopped and what they wrote removed", exitInterrupted)
		case code == exitOK:
			paths = append(paths, path)
			fmt.Fprintf(progress, "%s: done in %s\n", prefix, time.Since(t0).Round(100*time.Millisecond))
		case code == exitUnsupported:
			reason := "cannot run here: " + tail
			fmt.Fprintf(progress, "%s: %s\n", prefix, reason)
			for _, cl := range r.claims {
				why[cl] = "the " + r.name + " run " + reason
			}
		default:
			failed = true
			fmt.Fprintf(c.App.ErrWriter, "ringbench findings: %s failed (exit %d): %s\n", r.name, code, tail)
			for _, cl := range r.claims {
				why[cl] = fmt.Sprintf("the %s run failed (exit %d)", r.name, code)
			}
			if fileExists(path) { // what it measured before failing
				paths = append(paths, path)
			}
		}
	}

	var files []*result.File
	for _, p := range paths {
		f, err := result.Load(p)
		if err != nil {
			return exitError(exitFailure, fmt.Errorf("reading %s: %w", p, err))
		}
		files = append(files, f)
	}
	fs := findings.Evaluate(files...)
	for i := range fs {
		if w, ok := why[i+1]; ok && fs[i].Verdict == findings.NotMeasured {
			fs[i].Why = w
		}
	}
	if err := writeFindings(c, out, fs, paths); err != nil {
		return exitError(exitFailure, err)
	}
	fmt.Fprintf(progress, "ringbench findings: %d runs in %s; wrote %s and %s\n", len(paths),
		time.Since(start).Round(time.Second), filepath.Join(out, "findings.md"), filepath.Join(out, "report", "index.html"))
	if failed {
		return cli.Exit("ringbench findings: a run failed; its claims are not measured", exitFailure)
	}
	return nil
}

// writeFindings prints the table and writes DIR/findings.md and the report (when there are result files).
func writeFindings(c *cli.Context, out string, fs []findings.Finding, paths []string) error {
	if err := findings.WriteTable(c.App.Writer, fs); err != nil {
		return fmt.Errorf("writing to stdout: %w", err)
	}
	var md bytes.Buffer
	fmt.Fprintf(&md, "# ringbench findings\n\nringbench %s, %s; result files: %s.\n\n", versionString(),
		time.Now().UTC().Format("2006-01-02 15:04 MST"), strings.Join(baseNames(paths), ", "))
	link := ""
	if len(paths) > 0 {
		link = "report/index.html"
	}
	if err := findings.WriteMarkdown(&md, fs, link); err != nil {
		return err
	}
	if err := result.WriteFileAtomic(filepath.Join(out, "findings.md"), md.Bytes(), true); err != nil {
		return fmt.Errorf("writing findings.md: %w", err)
	}
	if len(paths) == 0 {
		return nil
	}
	if _, err := report.Generate(paths, report.Options{Out: filepath.Join(out, "report"), Force: true,
		Tool: "ringbench " + versionString()}); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}

// runChild runs this executable with argv, stopping it with SIGINT (then SIGKILL) when ctx ends; it
// returns the exit status and the last line the child wrote on stderr.
func runChild(ctx context.Context, exe string, argv []string) (int, string) {
	cmd := exec.CommandContext(ctx, exe, argv...)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	tail := lastLine(errb.String())
	var ee *exec.ExitError
	switch {
	case err == nil:
		return exitOK, tail
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode(), tail
	case ctx.Err() != nil:
		return exitInterrupted, tail
	}
	return exitFailure, oneLine(err.Error())
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimPrefix(lines[len(lines)-1], "ringbench: ")
}

// dirState says whether out exists, and refuses it when it is not empty and force is not set.
func dirState(out string, force bool) (bool, error) {
	entries, err := os.ReadDir(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("%s: %w", out, err)
	case len(entries) > 0 && !force:
		return true, fmt.Errorf("%s: exists and is not empty (use --force to write into it)", out)
	}
	return true, nil
}

// removeCreated removes what an interrupted findings wrote: out itself when it did not exist before, else
// the result files it created there.
func removeCreated(out string, existed bool, created []string) {
	if !existed {
		os.RemoveAll(out)
		return
	}
	for _, p := range created {
		os.Remove(p)
	}
}

// shellJoin joins argv as a shell would read it back, quoting the arguments that need it.
func shellJoin(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`|&;<>()*?[]#~") {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}
