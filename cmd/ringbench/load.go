package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/fds"
	"github.com/ringbench/ringbench/internal/fingerprint"
	"github.com/ringbench/ringbench/internal/loadgen"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/termsafe"
	"github.com/ringbench/ringbench/workloads"
	"github.com/ringbench/ringbench/workloads/echoproxy"
)

const loadDescription = `Drives a server started with "ringbench serve" (here or on another host) with the echo-proxy
load, and writes a result file like "ringbench run" does.

Closed loop by default: each connection keeps --pipeline requests in flight and sends the next the
moment one comes back. With --rate R the load is open loop: R requests/s in all, evenly spread over
the connections, each timed from its scheduled send time (wrk2's correction for coordinated
omission). --verify checks every echoed byte. --idle-conns N first opens N connections that complete
one small echo each and then stay idle, for the server's memory per connection.

With --control ADDR (printed by "ringbench serve"), the server measures its own process over exactly
the load's window and the result file carries its syscalls, CPU and context switches per request and
its memory per idle connection; without it, only throughput and latency. The control channel needs
the token the server printed or wrote to its --control-token-file: --control-token-file F (or
--control-token T, visible to other users in the process list).

Several load hosts: when one host cannot load the server, run "ringbench load --control ADDR
--loaders K" on K hosts (or network namespaces) at about the same time, each with its own --out, and
then "ringbench merge --out all.json A.json B.json ...". The server is the barrier: it opens its
window for a sample when the last of the K loaders has said begin (each loader waits there, its load
already running, then starts its own window of --duration) and closes it when the last has said end,
and it divides its CPU, syscalls and context switches by the sum of the K loaders' requests. The
barrier is on the server because every loader reaches the server while the loaders may not reach each
other, and because the window to line up is the server's own. The loaders' windows so line up to
within a control round trip; they must agree on --count, --duration, --warmup and the load's shape.
A loader that does not come within --loaders-wait fails that sample for all, and the message names
it; a loader that leaves fails the others. Each sample records the server window's ID, which merge
checks. --idle-conns is for one loader only.

Exit status: 0 measured, 1 the run failed (the server closed connections, stopped answering, was
killed or refused a control request), 2 bad flag or value, 3 --engine uring cannot run here,
130 interrupted.`

func init() {
	commands = append(commands, &cli.Command{
		Name:        "load",
		Usage:       "drive a ringbench serve server with echo-proxy load and write a result file",
		UsageText:   "ringbench load --target ADDR [--control ADDR --control-token-file F [--loaders K]] [--conns N --msg-size S --pipeline K | --rate R] [--idle-conns N] [--verify]",
		Description: loadDescription,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "target", Aliases: []string{"t"}, Usage: "server address, host:port"},
			&cli.StringFlag{Name: "control", Usage: "the server's control address, for its own figures"},
			&cli.StringFlag{Name: "control-token", Usage: "the server's control token (as ringbench serve printed it)"},
			&cli.StringFlag{Name: "control-token-file", Usage: "read the server's control token from this file (serve --control-token-file)"},
			&cli.IntFlag{Name: "loaders", Value: 1, Usage: "load processes (on as many hosts) measuring the server's windows together (needs --control)"},
			&cli.DurationFlag{Name: "loaders-wait", Value: echoproxy.DefaultWait, Usage: "how long the server waits for the other loaders at each sample's begin and end"},
			&cli.StringFlag{Name: "conns", Value: "16", Usage: "connections carrying load (k: thousands)"},
			&cli.StringFlag{Name: "msg-size", Value: "64", Usage: "message size, " + msgSizeRange},
			&cli.IntFlag{Name: "pipeline", Value: 1, Usage: "requests in flight per connection"},
			&cli.StringFlag{Name: "rate", Usage: "open loop at this many requests/s in all, e.g. 50k (0: closed loop)"},
			&cli.StringFlag{Name: "idle-conns", Usage: "hold this many idle connections, e.g. 10k, and report memory per connection"},
			&cli.BoolFlag{Name: "verify", Usage: "check every echoed byte"},
			&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, Usage: "fail when a connection gets no echo for this long"},
			&cli.DurationFlag{Name: "duration", Aliases: []string{"d"}, Value: 2 * time.Second, Usage: "length of each measured sample"},
			&cli.DurationFlag{Name: "warmup", Value: 200 * time.Millisecond, Usage: "load before each sample's window"},
			&cli.DurationFlag{Name: "interval", Value: defaultInterval, Usage: "record req/s and p99 every this long within each sample (0 = off; at least 10ms)"},
			&cli.IntFlag{Name: "count", Aliases: []string{"n"}, Value: 6, Usage: "samples (compare wants at least 4, 6 for a 95% CI)"},
			&cli.IntFlag{Name: "threads", Value: 1, Usage: "load generator threads, each with its own connections (split evenly) and event loop"},
			&cli.IntFlag{Name: "cpu", Value: -1, Usage: "pin the load generator to this CPU (-1: not pinned)"},
			&cli.StringFlag{Name: "engine", Value: "auto", Usage: "the load generator's own I/O: uring, epoll, or auto (uring where the kernel allows)"},
			&cli.StringFlag{Name: "topology", Value: "echo", Usage: "recorded in the result when there is no --control (the server decides)"},
			resultOutFlag(""),
			forceFlag(),
			formatFlag(""),
			hlogFlag(""),
			&cli.StringFlag{Name: "label", Usage: "name this result set"},
			&cli.BoolFlag{Name: "internal-child", Hidden: true, Usage: "run as the load-generator child of ringbench run"},
		},
		Action: loadAction,
	})
}

func loadAction(c *cli.Context) error {
	if c.Bool("internal-child") {
		if code := loadgen.ChildMain(os.Stdin, os.Stdout); code != 0 {
			return cli.Exit("", code)
		}
		return nil
	}
	if c.NArg() > 0 {
		return usageError("load takes no arguments, got %q", c.Args().First())
	}
	if c.String("target") == "" {
		return usageError("--target: required (the address `ringbench serve` printed)")
	}
	ms, err := sizeFlag(c, "msg-size", "64 or 4k")
	if err != nil {
		return err
	}
	if c.Int("pipeline") < 1 {
		return usageError("--pipeline %d: must be at least 1", c.Int("pipeline"))
	}
	cfg := loadgen.Config{Target: c.String("target"), MsgSize: int(ms), Pipeline: c.Int("pipeline"),
		Verify: c.Bool("verify"), Timeout: c.Duration("timeout"), Engine: c.String("engine"),
		Threads: c.Int("threads")}
	if cfg.Conns, err = countFlag(c, "conns", loadgen.MaxConns); err != nil {
		return err
	}
	if cfg.Rate, err = rateFlag(c, "rate"); err != nil {
		return err
	}
	if cfg.Conns < 1 {
		return usageError("--conns %d: must be at least 1", cfg.Conns)
	}
	if err := checkThreads("threads", cfg.Threads); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError("%v", err)
	}
	if err := checkDialAddr("target", cfg.Target); err != nil {
		return err
	}
	ctlAddr, token, err := controlFlags(c)
	if err != nil {
		return err
	}
	idle, err := countFlag(c, "idle-conns", loadgen.MaxConns)
	if err != nil {
		return err
	}
	count, dur, warm := c.Int("count"), c.Duration("duration"), c.Duration("warmup")
	if idle < 0 || idle > loadgen.MaxConns {
		return usageError("--idle-conns %d: want 0 to %d", idle, loadgen.MaxConns)
	}
	if err := checkSamples(count, dur, warm); err != nil {
		return err
	}
	join := echoproxy.JoinOptions{Loaders: c.Int("loaders"), Wait: c.Duration("loaders-wait")}
	if join.Loaders < 1 || join.Loaders > echoproxy.MaxLoaders {
		return usageError("--loaders %d: want 1 to %d", join.Loaders, echoproxy.MaxLoaders)
	}
	if join.Wait <= 0 || join.Wait > echoproxy.MaxWait {
		return usageError("--loaders-wait %v: want more than 0, at most %v", join.Wait, echoproxy.MaxWait)
	}
	if join.Loaders > 1 && ctlAddr == "" {
		return usageError("--loaders %d needs --control: the server lines up the loaders' windows", join.Loaders)
	}
	if join.Loaders > 1 && idle > 0 {
		return usageError("--idle-conns with --loaders %d: memory per connection is measured with one loader", join.Loaders)
	}
	if cfg.Interval, err = intervalFlag(c, dur); err != nil {
		return err
	}
	if err := checkCPUFlag("cpu", c.Int("cpu")); err != nil {
		return err
	}
	if cfg.Engine == loadgen.EngineUring {
		// Asked for by name: say at once that it cannot run here, as run does for --backend uring.
		if u, err := backend.Lookup("uring"); err == nil {
			if err := u.Available(); err != nil {
				return exitError(exitUnsupported, fmt.Errorf("--engine uring cannot run here: %w", err))
			}
		}
	}
	topology := c.String("topology")
	if topology != backend.TopologyEcho && topology != backend.TopologyProxy {
		return usageError("--topology %q: want echo or proxy", topology)
	}
	format := c.String("format")
	if err := checkResultFormat(format); err != nil {
		return err
	}
	var cpus []int
	if cpu := c.Int("cpu"); cpu >= 0 {
		cpus = []int{cpu}
	}
	out, defaultOut, err := loadOutPath(c)
	if err != nil {
		return err
	}
	if err := checkHlog(c.String("hlog"), c.Bool("force")); err != nil {
		return err
	}
	if err := fds.RaiseLimit(cfg.Conns + idle + 256); err != nil {
		return usageError("--conns %d --idle-conns %d: %v", cfg.Conns, idle, err)
	}
	if runtime.GOMAXPROCS(0) < 2 {
		// Under `taskset -c N` GOMAXPROCS is 1, and then the runtime takes the only P from the generator's
		// locked thread whenever it blocks in epoll_pwait2 for more than 20 us (see serve).
		runtime.GOMAXPROCS(2)
	}

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()

	var cc *echoproxy.ControlClient
	backendName, multishot := "remote", false
	if ctlAddr != "" {
		if cc, err = echoproxy.DialControlJoin(ctlAddr, token, join); err != nil {
			return exitError(exitFailure, err)
		}
		defer cc.Close()
		backendName, topology, multishot = cc.Backend, cc.Info.Topology, cc.Info.Multishot
	}
	f := &result.File{Schema: result.Schema, Version: result.Version, Started: time.Now().UTC(), Label: c.String("label"),
		Command: os.Args, Config: result.Config{Backends: []string{backendName}, Workloads: []string{echoproxy.Name},
			Count: count, Duration: result.Duration(dur), Warmup: result.Duration(warm), Options: loadOptions(c)},
		Display: workloads.Display()}
	f.Env = fingerprint.Collect(fingerprint.Options{Version: version, Commit: commit})
	params := echoproxy.ThreadParams(echoproxy.Params(topology, cfg.Conns, cfg.MsgSize, cfg.Pipeline, cfg.Rate, idle, multishot), 0, cfg.Threads)
	if join.Loaders > 1 {
		params["loaders"] = strconv.Itoa(join.Loaders)
	}
	if cc != nil {
		params = echoproxy.EpollModeParams(params, backendName, cc.Info.EpollMode)
	}

	var memory *result.ConnMemory
	if idle > 0 {
		if cc != nil {
			if err := cc.MemBase(); err != nil {
				return exitError(exitFailure, err)
			}
		}
		held, err := loadgen.Dial(loadgen.Config{Target: cfg.Target, IdleConns: idle, MsgSize: min(cfg.MsgSize, 64)}, cpus)
		if err != nil {
			return exitError(exitFailure, fmt.Errorf("idle connections: %w", err))
		}
		defer held.Close()
		if cc != nil {
			if memory, err = cc.Mem(idle); err != nil {
				return exitError(exitFailure, err)
			}
		}
	}

	fmt.Fprintf(c.App.ErrWriter, "ringbench: %d samples of %v, each after a warm-up of %v: about %v\n",
		count, dur, warm, roundDuration(time.Duration(count)*(warm+dur)))
	began := time.Now()
	var runErr error
	for i := 0; i < count && runErr == nil && ctx.Err() == nil; i++ {
		sm := result.Sample{Backend: backendName, Workload: echoproxy.Name, Params: params, Repeat: i, EntersPerOp: -1, Memory: memory}
		line, err := loadSample(ctx, cfg, cpus, cc, warm, dur, join, &sm)
		if err != nil {
			runErr = err
			break
		}
		if cc == nil {
			sm.Warnings = append(sm.Warnings, result.Warning{Kind: result.WarnCountingUnavailable,
				Text: "no --control: the server's syscalls, CPU and memory were not measured"})
		}
		f.Samples = append(f.Samples, sm)
		elapsed := time.Since(began)
		eta := elapsed / time.Duration(i+1) * time.Duration(count-i-1)
		fmt.Fprintf(c.App.ErrWriter, "[%d/%d] sample %d: %s requests/s; %s; %v elapsed, ETA %v\n", i+1, count, i+1,
			termsafe.Fixed(sm.OpsPerSec, 0), termsafe.String(line), roundDuration(elapsed), roundDuration(eta))
	}
	f.Finished = time.Now().UTC()
	if runErr != nil {
		// The server closed connections, stopped answering or was killed: nothing trustworthy to save.
		if errors.Is(runErr, backend.ErrNotSupported) {
			return exitError(exitUnsupported, runErr)
		}
		return exitError(exitFailure, runErr)
	}
	interrupted := ctx.Err() != nil
	if interrupted {
		f.Interrupted = true
		f.Warnings = append(f.Warnings, result.Warning{Kind: result.WarnInterrupted, Text: "interrupted: fewer samples than asked for"})
	}
	if len(f.Samples) > 0 {
		written, saveErr := saveResult(f, out, defaultOut, "", c.Bool("force"))
		if err := printChecked(c.App.Writer, format, f, written); err != nil {
			return err
		}
		hlogErr := writeHlog(c.App.ErrWriter, c.String("hlog"), c.Bool("force"), f, written)
		if memory != nil && format == "table" {
			slab := "unreadable"
			if memory.SlabPerConnBytes != nil {
				slab = termsafe.Fixed(*memory.SlabPerConnBytes, 0) + " B (whole kernel, both ends of each connection when on one host)"
			}
			if _, err := fmt.Fprintf(c.App.Writer, "memory per idle connection (%d): server RSS %s B, kernel slab %s\n",
				memory.IdleConns, termsafe.Fixed(memory.RSSPerConnBytes, 0), slab); err != nil {
				return exitError(exitFailure, fmt.Errorf("writing the table output: %w", err))
			}
		}
		if saveErr != nil {
			return saveErr
		}
		if hlogErr != nil {
			return hlogErr
		}
		fmt.Fprintf(c.App.ErrWriter, "result written to %s\n", written)
	}
	if interrupted {
		return cli.Exit("ringbench: interrupted", exitInterrupted)
	}
	return nil
}

// loadOutPath is --out (or the default results/ringbench-<time>.json), checked writable before any
// connection is made.
func loadOutPath(c *cli.Context) (out string, isDefault bool, err error) {
	out = c.String("out")
	isDefault = out == ""
	if isDefault {
		out = defaultResultPath(time.Now())
	}
	return out, isDefault, checkOutPath("--out", out, c.Bool("force"), isDefault)
}

// loadSample runs one sample: connect, warm up, window (bracketed on the server over --control), stop.
func loadSample(ctx context.Context, cfg loadgen.Config, cpus []int, cc *echoproxy.ControlClient, warm, dur time.Duration,
	join echoproxy.JoinOptions, sm *result.Sample) (string, error) {
	g, err := loadgen.Dial(cfg, cpus)
	if err != nil {
		return "", err
	}
	defer g.Close()
	limit := warm + dur + time.Minute
	if join.Loaders > 1 {
		// Besides: waiting at the server for the other loaders, at begin and at end.
		limit += 2 * join.Wait
	}
	if err := g.Start(limit); err != nil {
		return "", err
	}
	// Waits end early when the generator fails (the server closed connections or died).
	wait := func(d time.Duration) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		case <-g.Failed():
		}
	}
	wait(warm)
	if cc != nil {
		if err := cc.Begin(); err != nil {
			_, _ = g.Stop()
			return "", err
		}
	}
	if err := g.Mark(); err != nil {
		return "", err
	}
	wait(dur)
	res, err := g.Stop()
	if err != nil {
		return "", err
	}
	if cc != nil {
		srv, err := cc.End(res.Ops)
		if err != nil {
			return "", err
		}
		echoproxy.MergeServer(sm, srv)
	}
	if err := echoproxy.ClientFigures(sm, res); err != nil {
		return "", err
	}
	if res.Ops == 0 {
		return "", errors.New("no request completed")
	}
	return echoproxy.GeneratorCheck(sm, res), nil
}

func loadOptions(c *cli.Context) map[string]string {
	opts := map[string]string{}
	for _, fl := range c.Command.Flags {
		name := fl.Names()[0]
		if name != "internal-child" && c.IsSet(name) {
			opts[name] = fmt.Sprint(c.Value(name))
		}
	}
	return opts
}

// controlFlags checks --control, --control-token and --control-token-file together, and returns the
// control address and token ("" and "" without --control).
func controlFlags(c *cli.Context) (addr, token string, err error) {
	addr = c.String("control")
	if c.IsSet("control-token") && c.IsSet("control-token-file") {
		return "", "", usageError("--control-token and --control-token-file: give one of them")
	}
	if addr == "" {
		if c.IsSet("control") {
			return "", "", usageError("--control: empty address")
		}
		if c.IsSet("control-token") || c.IsSet("control-token-file") {
			return "", "", usageError("--control-token and --control-token-file need --control")
		}
		return "", "", nil
	}
	if err := checkDialAddr("control", addr); err != nil {
		return "", "", err
	}
	switch {
	case c.IsSet("control-token"):
		token = c.String("control-token")
		if err := echoproxy.CheckToken(token); err != nil {
			return "", "", usageError("--control-token: %v", err)
		}
	case c.IsSet("control-token-file"):
		if token, err = echoproxy.ReadTokenFile(c.String("control-token-file")); err != nil {
			return "", "", usageError("--control-token-file: %v", err)
		}
	default:
		return "", "", usageError("--control needs the server's token: --control-token-file F or --control-token T " +
			"(ringbench serve prints it, or writes it to its --control-token-file)")
	}
	return addr, token, nil
}
