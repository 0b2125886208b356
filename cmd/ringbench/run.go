package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/fingerprint"
	"github.com/ringbench/ringbench/internal/gobench"
	"github.com/ringbench/ringbench/internal/measure"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/summary"
	"github.com/ringbench/ringbench/workloads"

	// Backends and workloads register themselves.
	_ "github.com/ringbench/ringbench/backends/epoll"
	_ "github.com/ringbench/ringbench/backends/gostd"
	_ "github.com/ringbench/ringbench/backends/sqpoll"
	_ "github.com/ringbench/ringbench/backends/uring"
	_ "github.com/ringbench/ringbench/workloads/echoproxy"
	_ "github.com/ringbench/ringbench/workloads/manyfile"
	_ "github.com/ringbench/ringbench/workloads/smallfile"
)

// defaultWorkloads is what a bare `ringbench run` measures: the file workloads, which need no servers.
var defaultWorkloads = []string{"small-file", "many-file"}

func init() {
	commands = append(commands, &cli.Command{
		Name:      "run",
		Usage:     "run workloads on backends and write a result file",
		UsageText: "ringbench run [--backend LIST|all] [--workload LIST|all] [--duration D --warmup D --count N] [flags]",
		Description: "Measures each workload on each backend, samples interleaved across backends (ABCABC...) so that " +
			"machine noise hits all alike. With no flags: every runnable backend on small-file and many-file, then a " +
			"comparison table. Results go to results/ringbench-<time>.json (see --out).\n\n" +
			"Exit status: 0 measured, 1 a measurement failed, 2 bad flag or value, 3 a backend asked for by name cannot " +
			"run on this kernel (see `ringbench probe`), 130 interrupted (what was measured is saved, marked interrupted).",
		Flags:  runFlags(),
		Action: runAction,
	})
}

func runFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "backend", Aliases: []string{"b"}, Value: "all", Usage: "comma-separated backends, or all (every runnable one): " + strings.Join(backend.Names(), ", ")},
		&cli.StringFlag{Name: "workload", Aliases: []string{"w"}, Value: strings.Join(defaultWorkloads, ","), Usage: "comma-separated workloads, or all"},
		&cli.DurationFlag{Name: "duration", Aliases: []string{"d"}, Value: 2 * time.Second, Usage: "length of each measured sample"},
		&cli.DurationFlag{Name: "warmup", Value: 500 * time.Millisecond, Usage: "unrecorded run per backend and workload before its first sample (0 = none)"},
		&cli.IntFlag{Name: "count", Aliases: []string{"n"}, Value: 3, Usage: "samples per backend and workload (compare wants at least 4, 6 for a 95% CI)"},

		&cli.IntFlag{Name: "depth", Value: 32, Usage: "requests in flight", Category: "I/O"},
		&cli.IntFlag{Name: "batch", Value: 32, Usage: "requests per submission (SQEs per io_uring_enter); at most --depth", Category: "I/O"},
		&cli.BoolFlag{Name: "fixed-files", Usage: "uring, sqpoll: register the data set's descriptors", Category: "I/O"},
		&cli.BoolFlag{Name: "fixed-bufs", Usage: "uring, sqpoll: register buffers and read with READ_FIXED", Category: "I/O"},
		&cli.IntFlag{Name: "sq-cpu", Value: -1, Usage: "sqpoll: pin the SQPOLL kernel thread to this CPU (-1: not pinned)", Category: "I/O"},
		&cli.DurationFlag{Name: "sq-idle", Value: 100 * time.Millisecond, Usage: "sqpoll: how long the poll thread spins before sleeping", Category: "I/O"},
		&cli.DurationFlag{Name: "cq-spin", Value: 5 * time.Microsecond, Usage: "sqpoll: spin on the completion queue this long before waiting in io_uring_enter (CPU for fewer syscalls)", Category: "I/O"},

		&cli.StringFlag{Name: "dir", Value: os.TempDir(), Usage: "directory for file data sets (created inside it, removed after unless --keep)", Category: "files"},
		&cli.BoolFlag{Name: "keep", Usage: "keep the data sets ringbench created, for the next run to reuse", Category: "files"},
		&cli.IntFlag{Name: "files", Usage: "number of files (default: small-file 1, many-file 10000)", Category: "files"},
		&cli.StringFlag{Name: "file-size", Usage: "size of each file, e.g. 4k, 256M (default: small-file 256M, many-file 4k)", Category: "files"},
		&cli.StringFlag{Name: "block-size", Value: "4k", Usage: "small-file: bytes per read", Category: "files"},
		&cli.StringFlag{Name: "pattern", Value: "rand", Usage: "rand or seq", Category: "files"},
		&cli.BoolFlag{Name: "direct", Usage: "small-file: O_DIRECT, bypassing the page cache", Category: "files"},
		&cli.BoolFlag{Name: "mlock", Usage: "lock the data set in memory (this machine's page cache evicts idle pages in about a minute)", Category: "files"},
		&cli.BoolFlag{Name: "verify", Usage: "check the content of every block read (or byte echoed)"},
		&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed for data set content and offsets"},

		&cli.StringFlag{Name: "topology", Value: "echo", Usage: "echo-proxy: echo (client → server under test) or proxy (client → proxy under test → echo)", Category: "network"},
		&cli.IntFlag{Name: "conns", Value: 16, Usage: "echo-proxy: connections", Category: "network"},
		&cli.StringFlag{Name: "msg-size", Value: "64", Usage: "echo-proxy: message size, " + msgSizeRange, Category: "network"},
		&cli.IntFlag{Name: "pipeline", Value: 1, Usage: "echo-proxy: messages in flight per connection (closed loop)", Category: "network"},
		&cli.Float64Flag{Name: "rate", Usage: "echo-proxy: open loop at this many requests/s, latency from scheduled send time (0: closed loop)", Category: "network"},
		&cli.IntFlag{Name: "idle-conns", Usage: "echo-proxy: hold this many idle connections and report memory per connection", Category: "network"},
		&cli.BoolFlag{Name: "multishot", Usage: "echo-proxy on uring/sqpoll: multishot accept and recv from a provided buffer ring", Category: "network"},

		&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "result file (default results/ringbench-<UTC time>.json); never overwritten without --force", Category: "output"},
		&cli.BoolFlag{Name: "force", Usage: "overwrite --out or --save-baseline if it exists", Category: "output"},
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "what to print: table, json, gobench (Go benchmark text for benchstat), markdown", Category: "output"},
		&cli.StringFlag{Name: "label", Usage: "name this result set (report and compare group by it)", Category: "output"},
		&cli.StringFlag{Name: "save-baseline", Usage: "also write the result here, as the baseline for `ringbench compare` in CI", Category: "output"},
		&cli.BoolFlag{Name: "count-syscalls", Value: true, Usage: "count syscalls with kernel tracepoints; they cost every syscall ~0.2-0.5 µs, lowering the throughput of syscall-heavy backends (epoll, gostd) most: use --count-syscalls=false for throughput comparisons", Category: "output"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress on stderr", Category: "output"},
	}
}

// runPlan is a validated `run` invocation.
type runPlan struct {
	backends  []backend.Backend
	skipped   []result.Skip
	workloads []workloads.Workload
	cfg       workloads.Config
	count     int
	duration  time.Duration
	warmup    time.Duration
	out       string
	baseline  string
	force     bool
	format    string
	label     string
	quiet     bool
	// countSyscalls: --count-syscalls.
	countSyscalls bool
}

func parseRunFlags(c *cli.Context) (*runPlan, error) {
	if c.NArg() > 0 {
		return nil, usageError("run takes no arguments, got %q (flags go before the values, e.g. --backend uring)", c.Args().First())
	}
	p := &runPlan{count: c.Int("count"), duration: c.Duration("duration"), warmup: c.Duration("warmup"),
		force: c.Bool("force"), format: c.String("format"), label: c.String("label"), quiet: c.Bool("quiet"),
		countSyscalls: c.Bool("count-syscalls")}
	switch {
	case p.count < 1:
		return nil, usageError("--count %d: must be at least 1", p.count)
	case p.count > 1000:
		return nil, usageError("--count %d: at most 1000", p.count)
	case p.duration <= 0:
		return nil, usageError("--duration %v: must be positive", p.duration)
	case p.duration > time.Hour:
		return nil, usageError("--duration %v: at most 1h", p.duration)
	case p.warmup < 0 || p.warmup > time.Hour:
		return nil, usageError("--warmup %v: must be between 0 and 1h", p.warmup)
	}
	switch p.format {
	case "table", "json", "gobench", "markdown":
	default:
		return nil, usageError("--format %q: want table, json, gobench or markdown", p.format)
	}

	cfg := workloads.Config{
		Dir: c.String("dir"), Keep: c.Bool("keep"), Verify: c.Bool("verify"), Seed: c.Uint64("seed"),
		Options: backend.Options{Depth: c.Int("depth"), Batch: c.Int("batch"), FixedFiles: c.Bool("fixed-files"),
			FixedBufs: c.Bool("fixed-bufs"), SQCPU: c.Int("sq-cpu"), SQIdle: c.Duration("sq-idle"), CQSpin: c.Duration("cq-spin")},
		Files: c.Int("files"), Pattern: c.String("pattern"), Direct: c.Bool("direct"), Mlock: c.Bool("mlock"),
		Topology: c.String("topology"), Conns: c.Int("conns"), Pipeline: c.Int("pipeline"), Rate: c.Float64("rate"),
		IdleConns: c.Int("idle-conns"), Multishot: c.Bool("multishot"),
	}
	if err := cfg.Options.Validate(); err != nil {
		return nil, usageError("%v", err)
	}
	// Zero means "the workload's default" inside Config, so a zero the user typed must be refused here.
	for _, name := range []string{"conns", "pipeline"} {
		if c.IsSet(name) && c.Int(name) < 1 {
			return nil, usageError("--%s %d: must be at least 1", name, c.Int(name))
		}
	}
	if c.IsSet("files") && cfg.Files < 1 {
		return nil, usageError("--files %d: must be at least 1", cfg.Files)
	}
	if cfg.Options.SQCPU < -1 {
		return nil, usageError("--sq-cpu %d: a CPU number, or -1", cfg.Options.SQCPU)
	}
	if cpu := cfg.Options.SQCPU; cpu >= 0 {
		// The kernel refuses (EINVAL) to pin the poll thread to a CPU this process may not run on; say so
		// here rather than let it read as "SQPOLL not supported".
		var set unix.CPUSet
		if err := unix.SchedGetaffinity(0, &set); err == nil && (cpu >= 8*int(unsafe.Sizeof(set)) || !set.IsSet(cpu)) {
			return nil, usageError("--sq-cpu %d: not a CPU this process may use (%d allowed; see taskset)", cpu, set.Count())
		}
	}
	if cfg.Options.SQIdle < 0 || cfg.Options.CQSpin < 0 {
		return nil, usageError("--sq-idle and --cq-spin must not be negative")
	}
	var err error
	if c.IsSet("file-size") {
		if cfg.FileSize, err = sizeFlag(c, "file-size", "4k or 256M"); err != nil {
			return nil, err
		}
	}
	bs, err := sizeFlag(c, "block-size", "4k")
	if err != nil {
		return nil, err
	}
	cfg.BlockSize = int(bs)
	ms, err := sizeFlag(c, "msg-size", "64 or 4k")
	if err != nil {
		return nil, err
	}
	cfg.MsgSize = int(ms)
	if err := checkDir(cfg.Dir); err != nil {
		return nil, usageError("--dir %s", err)
	}
	p.cfg = cfg

	// Workloads.
	wnames, err := splitList(c.String("workload"), "--workload")
	if err != nil {
		return nil, err
	}
	if len(wnames) == 1 && wnames[0] == "all" {
		p.workloads = append(p.workloads, workloads.All()...)
	} else {
		for _, n := range wnames {
			w, err := workloads.Lookup(n)
			if err != nil {
				return nil, usageError("--workload: %v", err)
			}
			p.workloads = append(p.workloads, w)
		}
	}
	for _, w := range p.workloads {
		if err := w.Validate(cfg); err != nil {
			return nil, usageError("%s: %v", w.Name(), err)
		}
	}

	// Backends: "all" runs every runnable one and records the others as skipped; a backend named
	// explicitly that cannot run here is an error of its own (exit 3).
	bnames, err := splitList(c.String("backend"), "--backend")
	if err != nil {
		return nil, err
	}
	all := len(bnames) == 1 && bnames[0] == "all"
	if all {
		bnames = backend.Names()
	}
	for _, n := range bnames {
		b, err := backend.Lookup(n)
		if err != nil {
			return nil, usageError("--backend: %v", err)
		}
		if aerr := b.Available(); aerr != nil {
			if !all {
				return nil, cli.Exit(fmt.Sprintf("ringbench: --backend %s cannot run here: %v (see `ringbench probe`)", n, aerr), exitUnsupported)
			}
			p.skipped = append(p.skipped, result.Skip{Backend: n, Reason: aerr.Error()})
			continue
		}
		p.backends = append(p.backends, b)
	}
	if len(p.backends) == 0 {
		return nil, cli.Exit("ringbench: no backend can run here (see `ringbench probe`)", exitUnsupported)
	}

	// Output files: refuse to clobber before spending minutes measuring.
	p.out = c.String("out")
	if p.out == "" {
		p.out = defaultResultPath(time.Now())
	} else if !p.force {
		if _, err := os.Lstat(p.out); err == nil {
			return nil, usageError("--out %s: file exists (use --force to overwrite)", p.out)
		}
	}
	if d := filepath.Dir(p.out); d != "" {
		if st, err := os.Stat(d); err == nil && !st.IsDir() {
			return nil, usageError("--out %s: %s is not a directory", p.out, d)
		} else if err != nil && c.IsSet("out") {
			return nil, usageError("--out %s: directory %s: %v", p.out, d, errors.Unwrap(err))
		}
	}
	p.baseline = c.String("save-baseline")
	if p.baseline != "" && !p.force {
		if _, err := os.Lstat(p.baseline); err == nil {
			return nil, usageError("--save-baseline %s: file exists (use --force to overwrite)", p.baseline)
		}
	}
	return p, nil
}

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

func runAction(c *cli.Context) error {
	plan, err := parseRunFlags(c)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	errw := c.App.ErrWriter
	go func() {
		// After the first signal, restore the default action: a second Ctrl-C ends ringbench at once.
		<-ctx.Done()
		stop()
		if cause := context.Cause(ctx); cause != nil && cause != context.Canceled { // a signal, not our own stop
			fmt.Fprintf(errw, "ringbench: %v: stopping, saving what was measured and removing what ringbench created "+
				"(interrupt again to quit at once)\n", cause)
		}
	}()

	prog := newProgress(plan, c.App.ErrWriter)
	plan.cfg.Progress = prog.status
	f := &result.File{
		Schema: result.Schema, Version: result.Version, Started: time.Now().UTC(), Label: plan.label,
		Command: os.Args, Skipped: plan.skipped,
		Config: result.Config{Count: plan.count, Duration: result.Duration(plan.duration), Warmup: result.Duration(plan.warmup),
			Options: flagOptions(c)},
	}
	for _, b := range plan.backends {
		f.Config.Backends = append(f.Config.Backends, b.Name())
	}
	for _, w := range plan.workloads {
		f.Config.Workloads = append(f.Config.Workloads, w.Name())
	}
	f.Env = fingerprint.Collect(fingerprint.Options{Version: version, Commit: commit, DataDir: plan.cfg.Dir})
	warnEnvironment(f, plan)

	runErr := measureAll(ctx, plan, f, prog)
	prog.finish()
	f.Finished = time.Now().UTC()
	interrupted := ctx.Err() != nil
	if interrupted {
		f.Interrupted = true
		f.Warnings = append(f.Warnings, "interrupted: fewer samples than asked for")
	}
	if len(f.Samples) == 0 {
		switch {
		case interrupted:
			return cli.Exit("ringbench: interrupted before any sample was measured; no result file written", exitInterrupted)
		case runErr != nil:
			return asExitError(exitFailure, runErr)
		}
	}
	if err := os.MkdirAll(filepath.Dir(plan.out), 0o755); err != nil {
		return exitError(exitFailure, fmt.Errorf("--out %s: %w", plan.out, err))
	}
	if err := result.Save(plan.out, f, plan.force); err != nil {
		return exitError(exitFailure, err)
	}
	if plan.baseline != "" {
		if err := result.Save(plan.baseline, f, plan.force); err != nil {
			return exitError(exitFailure, err)
		}
	}
	if err := printResult(c.App.Writer, plan.format, f); err != nil {
		return exitError(exitFailure, err)
	}
	fmt.Fprintf(c.App.ErrWriter, "result written to %s\n", plan.out)
	switch {
	case interrupted:
		return cli.Exit("ringbench: interrupted; partial result saved", exitInterrupted)
	case runErr != nil:
		return asExitError(exitFailure, runErr)
	}
	return nil
}

// asExitError is exitError for an error that may already carry its exit status (a usage error).
func asExitError(code int, err error) error {
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return err
	}
	return exitError(code, err)
}

// measureAll prepares every workload first (data sets, servers), so that a data set that cannot be made (a
// full --dir, say) stops the run before anything is measured; then it warms each backend once and takes
// --count rounds of samples of each workload, one per backend per round (ABCABC...), so that drift on a
// shared machine hits every backend alike. What was prepared is closed (data sets removed unless --keep)
// in every case, interruption included.
func measureAll(ctx context.Context, plan *runPlan, f *result.File, prog *progress) (err error) {
	prepared := make([]workloads.Prepared, 0, len(plan.workloads))
	defer func() {
		for i, p := range prepared {
			if cerr := p.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("%s: cleaning up: %w", plan.workloads[i].Name(), cerr)
			}
		}
	}()
	for _, w := range plan.workloads {
		if ctx.Err() != nil {
			return nil
		}
		prog.status(fmt.Sprintf("%s: preparing", w.Name()))
		p, err := w.Prepare(ctx, plan.cfg)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ue interface{ Usage() bool }
			if errors.As(err, &ue) || isFlagError(err) {
				return usageError("%s: %v", w.Name(), err)
			}
			return fmt.Errorf("%s: %w", w.Name(), err)
		}
		prepared = append(prepared, p)
	}
	// Counters stay open from the first sample to the last: opening and closing them per sample costs
	// the kernel about half a second each time.
	meter := measure.New(measure.Options{CountSyscalls: plan.countSyscalls, Hold: true})
	defer meter.Close()
	var errs []error
	for i, w := range plan.workloads {
		if ctx.Err() != nil {
			break
		}
		if err := sampleWorkload(ctx, plan, meter, w, prepared[i], f, prog); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func sampleWorkload(ctx context.Context, plan *runPlan, meter *measure.Meter, w workloads.Workload, prepared workloads.Prepared, f *result.File, prog *progress) error {
	failed := map[string]error{}
	if plan.warmup > 0 {
		for _, b := range plan.backends {
			if ctx.Err() != nil {
				return nil
			}
			prog.status(fmt.Sprintf("%s on %s: warm-up", w.Name(), b.Name()))
			if _, err := prepared.Sample(ctx, workloads.SampleSpec{Backend: b, Duration: plan.warmup, Warmup: true}); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if errors.Is(err, backend.ErrNotSupported) {
					f.Skipped = append(f.Skipped, result.Skip{Backend: b.Name(), Workload: w.Name(), Reason: err.Error()})
					failed[b.Name()] = nil
					continue
				}
				failed[b.Name()] = err
			}
		}
	}
	for r := 0; r < plan.count; r++ {
		for _, b := range plan.backends {
			if ctx.Err() != nil {
				return nil
			}
			if _, bad := failed[b.Name()]; bad {
				continue
			}
			prog.status(fmt.Sprintf("%s on %s: sample %d/%d", w.Name(), b.Name(), r+1, plan.count))
			s, err := prepared.Sample(ctx, workloads.SampleSpec{Backend: b, Duration: plan.duration, Repeat: r, Meter: meter})
			prog.step()
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if errors.Is(err, backend.ErrNotSupported) {
					f.Skipped = append(f.Skipped, result.Skip{Backend: b.Name(), Workload: w.Name(), Reason: err.Error()})
					failed[b.Name()] = nil
					continue
				}
				failed[b.Name()] = err
				continue
			}
			if ctx.Err() != nil && s.Seconds < plan.duration.Seconds() {
				s.Warnings = append(s.Warnings, fmt.Sprintf("interrupted: cut short after %.3gs of %v", s.Seconds, plan.duration))
			}
			f.Samples = append(f.Samples, s)
		}
	}
	var errs []error
	for _, b := range plan.backends {
		if err := failed[b.Name()]; err != nil {
			errs = append(errs, fmt.Errorf("%s on %s: %w", w.Name(), b.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// isFlagError reports whether a workload's Prepare complained about a flag value (its message names it).
func isFlagError(err error) bool {
	return strings.HasPrefix(err.Error(), "--")
}

// warnEnvironment records conditions of the whole run that make figures less trustworthy. Conditions of one
// backend (SQPOLL without a core of its own) are the engine's to report, per sample.
func warnEnvironment(f *result.File, plan *runPlan) {
	if f.Env.Virt.Emulated {
		f.Warnings = append(f.Warnings, "emulated CPU: performance figures are not comparable with native runs")
	}
}

func flagOptions(c *cli.Context) map[string]string {
	opts := map[string]string{}
	for _, fl := range c.Command.Flags {
		name := fl.Names()[0]
		if c.IsSet(name) || name == "depth" || name == "batch" || name == "dir" {
			opts[name] = fmt.Sprint(c.Value(name))
		}
	}
	return opts
}

func writeJSON(w io.Writer, f *result.File) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(f)
}

func printResult(w io.Writer, format string, f *result.File) error {
	switch format {
	case "json":
		return writeJSON(w, f)
	case "gobench":
		return gobench.Write(w, f)
	case "markdown":
		summary.WriteMarkdown(w, summary.Rows(f.Samples))
	default:
		summary.WriteTable(w, summary.Rows(f.Samples))
	}
	for _, s := range f.Skipped {
		where := s.Backend
		if s.Workload != "" {
			where += " on " + s.Workload
		}
		fmt.Fprintf(w, "skipped %s: %s\n", where, s.Reason)
	}
	for _, warn := range f.Warnings {
		fmt.Fprintf(w, "WARNING: %s\n", warn)
	}
	return nil
}

// progress shows a bar on stderr when it is a terminal, and nothing otherwise.
type progress struct {
	bar *progressbar.ProgressBar
}

func newProgress(plan *runPlan, w io.Writer) *progress {
	fd, ok := w.(interface{ Fd() uintptr })
	if plan.quiet || !ok || !term.IsTerminal(int(fd.Fd())) {
		return &progress{}
	}
	total := len(plan.workloads) * len(plan.backends) * plan.count
	return &progress{bar: progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetWidth(24),
		progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))}
}

func (p *progress) status(s string) {
	if p.bar != nil {
		p.bar.Describe(s)
	}
}

func (p *progress) step() {
	if p.bar != nil {
		_ = p.bar.Add(1)
	}
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
