package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/ringbench/ringbench/internal/export"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/runner"
	"github.com/ringbench/ringbench/internal/termsafe"
)

// defaultResultPath is results/ringbench-<UTC time>.json, suffixed -2, -3 ... when that exists.
func defaultResultPath(t time.Time) string {
	base := filepath.Join("results", "ringbench-"+t.UTC().Format("20060102-150405"))
	p := base + ".json"
	for i := 2; ; i++ {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return p
		}
		p = base + "-" + strconv.Itoa(i) + ".json"
	}
}

// checkOutPath refuses, before anything is created or measured, an output path that Save could not write
// at the end: one line naming flag and path, exit 2. The default path (not set by the user) may name
// directories still to be created.
func checkOutPath(flag, path string, force, isDefault bool) error {
	if err := result.CheckWritable(path, force, isDefault); err != nil {
		return usageError("%s %v", flag, err)
	}
	return nil
}

// saveResult writes f to out (creating its directory when out is the default path) and to baseline when
// set. When out cannot be written after all, the result goes to a new file in $TMPDIR instead, and the
// error (exit 1) says where: the measurement is never lost to a failed write. It returns the path holding
// the result ("" when none does).
func saveResult(f *result.File, out string, mkdir bool, baseline string, force bool) (string, error) {
	written := out
	err := func() error {
		if mkdir {
			if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
				return fmt.Errorf("--out %s: %w", out, err)
			}
		}
		return result.Save(out, f, force)
	}()
	if err != nil {
		fb, ferr := result.SaveFallback("", f, time.Now())
		if ferr != nil {
			written = ""
			err = fmt.Errorf("%w; the fallback %s failed too: %w", err, fb, ferr)
		} else {
			written = fb
			err = fmt.Errorf("%w; result written to %s instead", err, fb)
		}
	}
	if baseline != "" {
		if berr := result.Save(baseline, f, force); berr != nil {
			err = errors.Join(err, fmt.Errorf("--save-baseline: %w", berr))
		}
	}
	if err != nil {
		return written, exitError(exitFailure, errors.New(strings.ReplaceAll(err.Error(), "\n", "; ")))
	}
	return written, nil
}

// samePath reports whether a and b name the same file: the same path once cleaned, or, when both exist,
// the same inode (a link, or another spelling through a symbolic link).
func samePath(a, b string) bool {
	if aa, err := filepath.Abs(a); err == nil {
		if bb, err := filepath.Abs(b); err == nil && aa == bb {
			return true
		}
	}
	sa, erra := os.Stat(a)
	sb, errb := os.Stat(b)
	return erra == nil && errb == nil && os.SameFile(sa, sb)
}

// printChecked prints f to w in format and fails (exit 1, one line) when w does not take it, as when
// stdout is a full disk or a closed pipe. saved names where the result file is, for the message.
func printChecked(w io.Writer, format string, f *result.File, saved string) error {
	sw := &export.ErrWriter{W: w}
	err := printResult(sw, format, f)
	if err == nil {
		err = sw.Err
	}
	if err != nil {
		msg := fmt.Errorf("writing the %s output: %w", format, err)
		if saved != "" {
			msg = fmt.Errorf("%w (the result file %s was written)", msg, saved)
		}
		return exitError(exitFailure, msg)
	}
	return nil
}

// printResult prints f in format (one of export.Formats).
func printResult(w io.Writer, format string, f *result.File) error {
	return export.Write(w, format, f)
}

// progress shows a bar on stderr when it is a terminal; otherwise (a CI log) one line per sample with
// the time left, so that a long run is not silent; nothing with --quiet.
type progress struct {
	bar *progressbar.ProgressBar
	// Line mode (stderr not a terminal):
	w           io.Writer
	total, done int
	status      string
	start       time.Time
}

func newProgress(quiet bool, total int, w io.Writer) *progress {
	if quiet {
		return &progress{}
	}
	if fd, ok := w.(interface{ Fd() uintptr }); !ok || !term.IsTerminal(int(fd.Fd())) {
		return &progress{w: w, total: total, start: time.Now()}
	}
	return &progress{bar: progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetWidth(24),
		progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))}
}

// Status implements runner.Progress.
func (p *progress) Status(s string) {
	if p.bar != nil {
		p.bar.Describe(s)
	}
	p.status = s
}

// Step implements runner.Progress.
func (p *progress) Step() {
	if p.bar != nil {
		_ = p.bar.Add(1)
		return
	}
	if p.w == nil {
		return
	}
	p.done++
	elapsed := time.Since(p.start)
	eta := "?"
	if p.done > 0 && p.done <= p.total {
		eta = roundDuration(elapsed * time.Duration(p.total-p.done) / time.Duration(p.done)).String()
	}
	fmt.Fprintf(p.w, "ringbench: [%d/%d] %s done, %s elapsed, ETA %s\n", p.done, p.total, termsafe.String(p.status),
		roundDuration(elapsed), eta)
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// counterSetupEstimate is a rough cost of opening and closing the syscall counters around a round's
// counted phase (one tracepoint event per syscall per CPU; about 0.3 s measured here), for estimateRun only.
const counterSetupEstimate = 300 * time.Millisecond

// estimateRun is a plan's measuring time: its samples, the warm-ups, and the counters opened and closed
// per round. Preparing data sets (writing files) comes on top and depends on the disk.
func estimateRun(p *runner.Plan) time.Duration {
	pairs := time.Duration(p.Points() * len(p.Backends))
	d := time.Duration(p.Samples())*p.Duration + pairs*p.Warmup
	if p.CountSyscalls {
		d += time.Duration(len(p.Workloads)*p.Count) * counterSetupEstimate
	}
	return d
}

// roundDuration rounds to seconds (to 100 ms under 10 s), for humans.
func roundDuration(d time.Duration) time.Duration {
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// resultOutFlag is --out of run and load, the result file they write.
func resultOutFlag(category string) cli.Flag {
	return &cli.StringFlag{Name: "out", Aliases: []string{"o"}, Category: category,
		Usage: "result file (default results/ringbench-<UTC time>.json); never overwritten without --force"}
}

// forceFlag is --force of load, merge and compare, whose --out is one file.
func forceFlag() cli.Flag {
	return &cli.BoolFlag{Name: "force", Usage: "overwrite --out if it exists"}
}

// formatFlag is --format of run, load, merge and show, which print results in one of export.Formats.
func formatFlag(category string) cli.Flag {
	return &cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Category: category,
		Usage: "what to print: " + strings.Replace(strings.Join(export.Formats, ", "), "gobench", "gobench (Go benchmark text for benchstat)", 1)}
}

// hlogFlag is --hlog of run, load and show.
func hlogFlag(category string) cli.Flag {
	return &cli.StringFlag{Name: "hlog", Category: category, Usage: "also write each series' latency as an HdrHistogram " +
		"interval log (DIR/NAME.hlog, ns) and percentile distribution (DIR/NAME.hgrm, µs); existing ones are replaced only with --force"}
}

// checkHlog checks --hlog DIR before anything is measured: exit 2, one line, when the logs could not be
// written there.
func checkHlog(dir string, force bool) error {
	if dir == "" {
		return nil
	}
	if err := export.CheckHlogDir(dir, force); err != nil {
		return usageError("--hlog %v", err)
	}
	return nil
}

// writeHlog writes the histogram logs of f into dir (when set) and says on errw what it wrote; a failure
// is exit 1 and names the result file, which holds the histograms (`ringbench show --hlog` writes them again).
func writeHlog(errw io.Writer, dir string, force bool, f *result.File, saved string) error {
	if dir == "" {
		return nil
	}
	paths, err := export.WriteHlog(dir, force, f)
	if err != nil {
		msg := fmt.Errorf("--hlog: %w", err)
		if saved != "" {
			msg = fmt.Errorf("%w (the result file %s was written)", msg, saved)
		}
		return exitError(exitFailure, msg)
	}
	fmt.Fprintf(errw, "histogram logs: %d files in %s\n", len(paths), dir)
	return nil
}
