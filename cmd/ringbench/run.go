package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/runner"
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
			"comparison table. Results go to results/ringbench-<time>.json (see --out); every output path is checked " +
			"before anything is measured, and a result that still cannot be written there goes to " +
			"$TMPDIR/ringbench-<time>.json instead (exit 1, saying where).\n\n" +
			"Latency is fio's lat, the same for every backend: from when ringbench's request loop hands a request to " +
			"the backend to when the loop sees its completion (stamped by the loop, not the backend, so hand-offs, " +
			"batching and reaping delays count). Open loop (--rate): from each request's scheduled send time; requests " +
			"still unanswered when a sample ends count up to its end. A buffered file sample whose data set fell below " +
			"99% page-cache residency is marked invalid and left out of the table, compare and report.\n\n" +
			"Sweeps: --batch, --depth, --jobs, --conns, --msg-size, --threads and --gen-threads take comma lists (--batch 1,4,16 --depth 32,64). " +
			"Each workload sweeps the flags it reads: small-file and many-file --batch, --depth and --jobs; echo-proxy --conns, " +
			"--msg-size, --threads and --gen-threads. Every combination of a workload's lists is one of its points, each point " +
			"on each backend a series, and every round interleaves all points and backends, in one run and one result file: " +
			"`run -w small-file,echo-proxy --jobs 1,2,4,8 --threads 1,2,4,8 --gen-threads threads` is 4 small-file points and " +
			"4 echo-proxy points (config.sweep lists the swept flags in the order given, each with the workloads that read it; " +
			"each sample carries its point's values in its params, jobs=1 and threads=1 included). A list that no workload of " +
			"the run reads is refused. More than 64 points in all need --force. " +
			"Data sets and load generators are made once per workload and shared by its points; each point is warmed up on each backend.\n\n" +
			"Exit status: 0 measured, 1 a measurement failed (a backend failed to set up or while sampling, for any " +
			"reason but lack of support), 2 bad flag or value, 3 a backend asked for by name cannot run here, on this " +
			"kernel or under these limits (RLIMIT_MEMLOCK, policy; see `ringbench probe`), whether found before the run " +
			"or when setting it up, 130 interrupted (what was measured is saved, marked interrupted). With --backend all, " +
			"backends that cannot run here are skipped and listed.",
		Flags:  runFlags(),
		Action: runAction,
	})
}

func runFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "backend", Aliases: []string{"b"}, Value: "all", Usage: "comma-separated backends, or all (every runnable one): " + strings.Join(backend.Names(), ", ")},
		&cli.StringFlag{Name: "workload", Aliases: []string{"w"}, Value: strings.Join(defaultWorkloads, ","), Usage: "comma-separated workloads, or all"},
		&cli.DurationFlag{Name: "duration", Aliases: []string{"d"}, Value: time.Second, Usage: "length of each measured sample"},
		&cli.DurationFlag{Name: "warmup", Value: 500 * time.Millisecond, Usage: "unrecorded run per backend and workload before its first sample (0 = none)"},
		&cli.DurationFlag{Name: "interval", Value: defaultInterval, Usage: "record ops/s and p99 of each timed sample every this long, charted over time by report (0 = off; at least 10ms)"},
		&cli.IntFlag{Name: "count", Aliases: []string{"n"}, Value: 6, Usage: "samples per backend and workload (compare wants at least 4, 6 for a 95% CI)"},

		&cli.StringFlag{Name: "depth", Value: "32", Usage: "requests in flight" + sweepNote, Category: "I/O"},
		&cli.StringFlag{Name: "batch", Value: "32", Usage: "requests per submission (SQEs per io_uring_enter); at most --depth" + sweepNote +
			"; a --batch list without --depth sets --depth to max(32, the largest batch)", Category: "I/O"},
		&cli.BoolFlag{Name: "fixed-files", Usage: "uring, sqpoll: register the data set's descriptors", Category: "I/O"},
		&cli.BoolFlag{Name: "fixed-bufs", Usage: "uring, sqpoll: register buffers and read with READ_FIXED", Category: "I/O"},
		&cli.IntFlag{Name: "sq-cpu", Value: -1, Usage: "sqpoll: pin the SQPOLL kernel thread to this CPU (-1: not pinned); any CPU of this process's cpuset, also one outside --cpus", Category: "I/O"},
		cpusFlag("I/O"),
		&cli.DurationFlag{Name: "sq-idle", Value: 100 * time.Millisecond, Usage: "sqpoll: how long the poll thread spins before sleeping", Category: "I/O"},
		&cli.StringFlag{Name: "jobs", Value: "1", Usage: "small-file, many-file: I/O threads run together, each with its own engine (ring), buffers and requests (fio's numjobs), spread over the allowed CPUs; 1 to 256" + sweepNote, Category: "I/O"},
		&cli.BoolFlag{Name: "sq-share", Usage: "sqpoll with --jobs > 1: every ring shares the first one's SQPOLL thread (IORING_SETUP_ATTACH_WQ) instead of one poll thread per ring", Category: "I/O"},
		&cli.DurationFlag{Name: "cq-spin", Value: 5 * time.Microsecond, Usage: "sqpoll: spin on the completion queue this long before waiting in io_uring_enter (CPU for fewer syscalls)", Category: "I/O"},

		&cli.StringFlag{Name: "dir", Value: os.TempDir(), Usage: "directory for file data sets (created inside it, removed after unless --keep)", Category: "files"},
		&cli.BoolFlag{Name: "keep", Usage: "keep the data sets ringbench created, for the next run to reuse", Category: "files"},
		&cli.StringFlag{Name: "files", Usage: "number of files, e.g. 50000 or 50k (default: small-file 1, many-file 10000)", Category: "files"},
		&cli.StringFlag{Name: "file-size", Usage: "size of each file, e.g. 4k, 256M (default: small-file 256M, many-file 4k)", Category: "files"},
		&cli.StringFlag{Name: "block-size", Value: "4k", Usage: "small-file: bytes per read", Category: "files"},
		&cli.StringFlag{Name: "pattern", Value: "rand", Usage: "rand or seq", Category: "files"},
		&cli.BoolFlag{Name: "direct", Usage: "small-file: O_DIRECT, bypassing the page cache", Category: "files"},
		&cli.BoolFlag{Name: "noatime", Usage: "small-file: open the files with O_NOATIME (as fio's t/io_uring does), so reads skip the access-time check; needs the files' owner", Category: "files"},
		&cli.StringFlag{Name: "cache", Value: "warm", Usage: "small-file, many-file: warm (data set in the page cache) or cold (evicted before each sample: every read goes to the device)", Category: "files"},
		&cli.BoolFlag{Name: "mlock", Usage: "lock the data set in memory (this machine's page cache evicts idle pages in about a minute)", Category: "files"},
		&cli.BoolFlag{Name: "verify", Usage: "check the content of every block read (or byte echoed)"},
		&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed for data set content and offsets"},

		&cli.StringFlag{Name: "topology", Value: "echo", Usage: "echo-proxy: echo (client → server under test) or proxy (client → proxy under test → echo)", Category: "network"},
		&cli.StringFlag{Name: "conns", Value: "16", Usage: "echo-proxy: connections (k: thousands)" + sweepNote, Category: "network"},
		&cli.StringFlag{Name: "msg-size", Value: "64", Usage: "echo-proxy: message size, " + msgSizeRange + sweepNote, Category: "network"},
		&cli.IntFlag{Name: "pipeline", Value: 1, Usage: "echo-proxy: messages in flight per connection (closed loop)", Category: "network"},
		&cli.StringFlag{Name: "rate", Usage: "echo-proxy: open loop at this many requests/s, e.g. 50k, latency from scheduled send time (0: closed loop)", Category: "network"},
		&cli.StringFlag{Name: "idle-conns", Usage: "echo-proxy: hold this many idle connections, e.g. 10k, and report memory per connection", Category: "network"},
		&cli.BoolFlag{Name: "multishot", Usage: "echo-proxy on uring/sqpoll: multishot accept and recv from a provided buffer ring", Category: "network"},
		epollModeFlag("network"),
		&cli.StringFlag{Name: "threads", Value: "1", Usage: "echo-proxy: server event loops, each on its own thread with its own ring or epoll and SO_REUSEPORT listener" + sweepNote, Category: "network"},
		&cli.StringFlag{Name: "gen-threads", Value: "1", Usage: "echo-proxy: load generator threads, each with its own connections and event loop; " +
			"threads: as many as --threads at each point (a --threads list then loads each server with as many)" + sweepNote, Category: "network"},

		resultOutFlag("output"),
		&cli.BoolFlag{Name: "force", Usage: "overwrite --out or --save-baseline if it exists; run a sweep of more than 64 points", Category: "output"},
		formatFlag("output"),
		&cli.StringFlag{Name: "label", Usage: "name this result set (report and compare group by it)", Category: "output"},
		&cli.StringFlag{Name: "save-baseline", Usage: "also write the result here, as the baseline for ringbench compare in CI", Category: "output"},
		&cli.BoolFlag{Name: "count-syscalls", Value: true, Usage: "take counted samples besides the timed ones: syscalls counted with kernel tracepoints, which cost every syscall ~0.2-0.5 µs and so are never open during a timed sample (ops/s, latency, CPU/op); false: timed samples only", Category: "output"},
		&cli.StringFlag{Name: "samples", Value: "timed,counted", Usage: "the samples each round takes: timed,counted; timed (as --count-syscalls=false); counted (syscall figures only, e.g. for a CI gate on syscalls/op)", Category: "output"},
		&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress on stderr", Category: "output"},
		hlogFlag("output"),
	}
}

// sweepNote ends the usage of each flag that takes a list (runner.SweepFlags).
const sweepNote = "; a comma list (1,4,16) sweeps it (see above)"

// runInvocation is a validated `run` command line: the plan, and what to do with its result.
type runInvocation struct {
	plan     *runner.Plan
	out      string
	baseline string
	// defaultOut: out is results/ringbench-<time>.json, whose directory run creates.
	defaultOut bool
	force      bool
	format     string
	label      string
	quiet      bool
	hlog       string // --hlog DIR
}

func parseRunFlags(c *cli.Context) (*runInvocation, error) {
	if c.NArg() > 0 {
		return nil, usageError("run takes no arguments, got %q (flags go before the values, e.g. --backend uring)", c.Args().First())
	}
	inv := &runInvocation{force: c.Bool("force"), format: c.String("format"), label: c.String("label"), quiet: c.Bool("quiet")}
	if err := checkResultFormat(inv.format); err != nil {
		return nil, err
	}
	sweep, err := sweepLists(c, os.Args)
	if err != nil {
		return nil, err
	}
	cfg, err := runConfig(c, sweep)
	if err != nil {
		return nil, err
	}
	wnames, err := splitList(c.String("workload"), "--workload")
	if err != nil {
		return nil, err
	}
	bnames, err := splitList(c.String("backend"), "--backend")
	if err != nil {
		return nil, err
	}
	if err := checkSamples(c.Int("count"), c.Duration("duration"), c.Duration("warmup")); err != nil {
		return nil, err
	}
	every, err := intervalFlag(c, c.Duration("duration"))
	if err != nil {
		return nil, err
	}
	countSyscalls, countedOnly := c.Bool("count-syscalls"), false
	switch k := c.String("samples"); k {
	case "timed,counted", "counted,timed":
	case "timed":
		countSyscalls = false
	case "counted":
		if !countSyscalls {
			return nil, usageError("--samples counted: contradicts --count-syscalls=false")
		}
		countedOnly = true
	default:
		return nil, usageError("--samples %q: want timed,counted, timed or counted", k)
	}
	inv.plan, err = runner.NewPlan(runner.Request{Backends: bnames, Workloads: wnames, Config: cfg,
		Count: c.Int("count"), Duration: c.Duration("duration"), Warmup: c.Duration("warmup"), CountSyscalls: countSyscalls,
		CountedOnly: countedOnly, Interval: every, Sweep: sweep, GenThreadsSame: genThreadsSame(c), Force: inv.force})
	switch {
	case errors.Is(err, runner.ErrUnavailable):
		return nil, exitError(exitUnsupported, err)
	case err != nil:
		return nil, usageError("%v", err)
	}
	if err := workloads.CheckCache(cfg, inv.plan.Workloads); err != nil {
		return nil, usageError("%v", err)
	}
	if err := checkEpollMode(cfg.Options.EpollMode, inv.plan.Backends); err != nil {
		return nil, err
	}

	if err := inv.checkOutputs(c); err != nil {
		return nil, err
	}
	return inv, nil
}

// checkOutputs settles --out and --save-baseline and checks, before anything is created or measured,
// that both can be written at the end: refusing to clobber, or to lose minutes of measuring to a bad path.
func (inv *runInvocation) checkOutputs(c *cli.Context) error {
	inv.out = c.String("out")
	inv.defaultOut = inv.out == ""
	if inv.defaultOut {
		inv.out = defaultResultPath(time.Now())
	}
	if err := checkOutPath("--out", inv.out, inv.force, inv.defaultOut); err != nil {
		return err
	}
	inv.hlog = c.String("hlog")
	if err := checkHlog(inv.hlog, inv.force); err != nil {
		return err
	}
	inv.baseline = c.String("save-baseline")
	if inv.baseline != "" {
		if err := checkOutPath("--save-baseline", inv.baseline, inv.force, false); err != nil {
			return err
		}
		if samePath(inv.out, inv.baseline) {
			return usageError("--save-baseline %s: the same file as --out", inv.baseline)
		}
	}
	return nil
}

// runConfig parses the workload and backend flags. It checks what only the command line knows (a zero the
// user typed, --cpus and --sq-cpu, --dir); each workload checks its own limits (runner.NewPlan). A swept
// flag (sweep, from sweepLists) is set to its first value here; runner.NewPlan makes and checks each point.
func runConfig(c *cli.Context, sweep []runner.Axis) (workloads.Config, error) {
	if err := applyCPUFlags(c); err != nil {
		return workloads.Config{}, err
	}
	ints := map[string]int{}
	for _, flag := range []string{"depth", "batch", "jobs", "threads", "gen-threads"} {
		if flag == "gen-threads" && genThreadsSame(c) {
			continue
		}
		if a := sweepAxis(sweep, flag); a != nil {
			ints[flag] = a.Values[0]
			continue
		}
		n, err := intFlag(c, flag)
		if err != nil {
			return workloads.Config{}, err
		}
		ints[flag] = n
	}
	if a := sweepAxis(sweep, "batch"); a != nil && !c.IsSet("depth") {
		ints["depth"] = max(32, slices.Max(a.Values))
	}
	cfg := workloads.Config{
		Dir: c.String("dir"), Keep: c.Bool("keep"), Verify: c.Bool("verify"), Seed: c.Uint64("seed"),
		Options: backend.Options{Depth: ints["depth"], Batch: ints["batch"], FixedFiles: c.Bool("fixed-files"),
			FixedBufs: c.Bool("fixed-bufs"), SQCPU: c.Int("sq-cpu"), SQIdle: c.Duration("sq-idle"), CQSpin: c.Duration("cq-spin"),
			EpollMode: c.String("epoll-mode")},
		Pattern: c.String("pattern"), Direct: c.Bool("direct"), NoAtime: c.Bool("noatime"), Mlock: c.Bool("mlock"), Cache: c.String("cache"),
		Jobs: ints["jobs"], SQShare: c.Bool("sq-share"),
		Topology: c.String("topology"), Pipeline: c.Int("pipeline"), Multishot: c.Bool("multishot"),
		Threads: ints["threads"], GenThreads: ints["gen-threads"],
	}
	// With --batch or --depth swept, each point's pair is checked alone (runner.NewPlan).
	if sweepAxis(sweep, "batch") == nil && sweepAxis(sweep, "depth") == nil {
		if err := cfg.Options.Validate(); err != nil {
			return cfg, usageError("%v", err)
		}
	}
	var err error
	// The workloads check the upper limits, naming the flag; this one only keeps the value an int.
	const maxCount = 1 << 31
	if cfg.Files, err = countFlag(c, "files", maxCount); err != nil {
		return cfg, err
	}
	if a := sweepAxis(sweep, "conns"); a != nil {
		cfg.Conns = a.Values[0]
	} else if cfg.Conns, err = countFlag(c, "conns", maxCount); err != nil {
		return cfg, err
	}
	if cfg.IdleConns, err = countFlag(c, "idle-conns", maxCount); err != nil {
		return cfg, err
	}
	if cfg.Rate, err = rateFlag(c, "rate"); err != nil {
		return cfg, err
	}
	// Zero means "the workload's default" inside Config, so a zero the user typed must be refused here.
	for _, d := range []struct {
		name string
		v    int
	}{{"conns", cfg.Conns}, {"pipeline", cfg.Pipeline}, {"files", cfg.Files}, {"jobs", cfg.Jobs}} {
		if c.IsSet(d.name) && d.v < 1 {
			return cfg, usageError("--%s %d: must be at least 1", d.name, d.v)
		}
	}
	if err := checkSQFlags(cfg.Options); err != nil {
		return cfg, err
	}
	if genThreadsSame(c) {
		cfg.GenThreads = cfg.Threads
	}
	for _, t := range []struct {
		flag string
		n    int
	}{{"threads", cfg.Threads}, {"gen-threads", cfg.GenThreads}} {
		values := []int{t.n}
		if a := sweepAxis(sweep, t.flag); a != nil {
			values = a.Values
		}
		for _, n := range values {
			if err := checkThreads(t.flag, n); err != nil {
				return cfg, err
			}
		}
	}
	if c.IsSet("file-size") {
		if cfg.FileSize, err = sizeFlag(c, "file-size", "4k or 256M"); err != nil {
			return cfg, err
		}
	}
	bs, err := sizeFlag(c, "block-size", "4k")
	if err != nil {
		return cfg, err
	}
	cfg.BlockSize = int(bs)
	if a := sweepAxis(sweep, "msg-size"); a != nil {
		cfg.MsgSize = a.Values[0]
	} else {
		ms, err := sizeFlag(c, "msg-size", "64 or 4k")
		if err != nil {
			return cfg, err
		}
		cfg.MsgSize = int(ms)
	}
	if err := checkDir(cfg.Dir); err != nil {
		return cfg, usageError("--dir %s", err)
	}
	return cfg, nil
}

func runAction(c *cli.Context) error {
	inv, err := parseRunFlags(c)
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

	if !inv.quiet {
		p := inv.plan
		series := p.Points() * len(p.Backends)
		fmt.Fprintf(errw, "ringbench: %d samples of %v (%s × %d backends × %d rounds × %d kinds) and %d warm-ups of %v: "+
			"about %v, plus preparing data sets\n", p.Samples(), p.Duration, planPoints(p), len(p.Backends), p.Count,
			p.Samples()/max(1, series*p.Count), series, p.Warmup, roundDuration(estimateRun(p)))
	}
	prog := newProgress(inv.quiet, inv.plan.Samples(), c.App.ErrWriter)
	opts := flagOptions(c)
	if !c.IsSet("depth") { // a --batch list may have raised it
		opts["depth"] = strconv.Itoa(inv.plan.Config.Options.Depth)
	}
	f, runErr := runner.Run(ctx, inv.plan, runner.Meta{Label: inv.label, Command: os.Args, Options: opts,
		Version: version, Commit: commit}, prog)
	prog.finish()
	if len(f.Samples) == 0 {
		switch {
		case f.Interrupted && runErr != nil:
			return cli.Exit(fmt.Sprintf("ringbench: interrupted before any sample was measured; no result file written: %v", runErr), exitInterrupted)
		case f.Interrupted:
			return cli.Exit("ringbench: interrupted before any sample was measured; no result file written", exitInterrupted)
		case runErr != nil:
			return runExitError(runErr)
		}
	}
	written, saveErr := saveResult(f, inv.out, inv.defaultOut, inv.baseline, inv.force)
	if err := printChecked(c.App.Writer, inv.format, f, written); err != nil {
		return err
	}
	hlogErr := writeHlog(c.App.ErrWriter, inv.hlog, inv.force, f, written)
	if saveErr != nil {
		return saveErr
	}
	if hlogErr != nil {
		return hlogErr
	}
	fmt.Fprintf(c.App.ErrWriter, "result written to %s\n", written)
	switch {
	case f.Interrupted:
		return cli.Exit("ringbench: interrupted; partial result saved", exitInterrupted)
	case runErr != nil:
		return runExitError(runErr)
	}
	return nil
}

// planPoints says what the series of a plan are made of, for the estimate line: "2 workloads" without a
// sweep, else its points in all and each workload's ("6 points [small-file 4, echo-proxy 2]").
func planPoints(p *runner.Plan) string {
	if len(p.Sweep) == 0 {
		return fmt.Sprintf("%d workloads", len(p.Workloads))
	}
	parts := make([]string, len(p.Workloads))
	for i, w := range p.Workloads {
		parts[i] = fmt.Sprintf("%s %d", w.Name(), len(p.Sweeps[i].Points))
	}
	return fmt.Sprintf("%d points [%s]", p.Points(), strings.Join(parts, ", "))
}

// runExitError is the exit status of a failed run: 2 when the user's flags caused it, 3 when all that went
// wrong is that a backend named with --backend cannot run a workload on this kernel or under these limits
// (runner.ErrUnavailable), else 1.
func runExitError(err error) error {
	switch {
	case errors.Is(err, runner.ErrBadInput):
		return exitError(exitUsage, err)
	case errors.Is(err, runner.ErrUnavailable):
		return exitError(exitUnsupported, err)
	}
	return exitError(exitFailure, err)
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
