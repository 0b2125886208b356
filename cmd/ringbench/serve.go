package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/measure"
	"github.com/ringbench/ringbench/workloads/echoproxy"

	// Backends register themselves.
	_ "github.com/ringbench/ringbench/backends/epoll"
	_ "github.com/ringbench/ringbench/backends/gostd"
	_ "github.com/ringbench/ringbench/backends/sqpoll"
	_ "github.com/ringbench/ringbench/backends/uring"
	"github.com/ringbench/ringbench/internal/fds"
	"github.com/ringbench/ringbench/internal/netutil"
)

const serveDescription = `Runs one backend's server until interrupted (SIGINT, SIGTERM) or --duration passes: the
server-under-test half of the echo-proxy workload, for runs across two hosts (or network namespaces).

It echoes every byte back, or, with --upstream, forwards each client connection to an upstream echo
server (any "ringbench serve" will do) and the replies back. It listens on loopback unless --listen
names another address, and prints "listening ADDR" and "control ADDR" on stdout once ready.

The control address is for "ringbench load --control ADDR": over it the load generator asks this
process to measure itself (syscalls, CPU, context switches, memory per idle connection) over exactly
the load's window, and writes the figures into its result file.`

func init() {
	commands = append(commands, &cli.Command{
		Name:        "serve",
		Usage:       "run a backend's echo (or proxy) server for `ringbench load` on another host",
		UsageText:   "ringbench serve --backend B [--listen ADDR] [--upstream ADDR] [--control ADDR] [--multishot]",
		Description: serveDescription,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "backend", Aliases: []string{"b"}, Usage: "backend serving (required): " + fmt.Sprint(backend.Names())},
			&cli.StringFlag{Name: "listen", Aliases: []string{"l"}, Value: "127.0.0.1:0", Usage: "address to listen on (port 0: any free port)"},
			&cli.StringFlag{Name: "upstream", Usage: "proxy to this echo server (host:port) instead of echoing"},
			&cli.StringFlag{Name: "control", Value: "127.0.0.1:0", Usage: "control address for `ringbench load --control`, or \"off\""},
			&cli.BoolFlag{Name: "multishot", Usage: "uring, sqpoll: multishot accept and recv from a provided buffer ring"},
			&cli.IntFlag{Name: "max-conns", Value: backend.DefaultMaxConns, Usage: "close client connections beyond this many at once"},
			&cli.DurationFlag{Name: "duration", Usage: "stop after this long (0: run until interrupted)"},
			&cli.IntFlag{Name: "sq-cpu", Value: -1, Usage: "sqpoll: pin the SQPOLL kernel thread to this CPU (-1: not pinned); any CPU of this process's cpuset, also one outside --cpus"},
			cpusFlag(""),
			&cli.DurationFlag{Name: "sq-idle", Value: 100 * time.Millisecond, Usage: "sqpoll: how long the poll thread spins before sleeping"},
			&cli.DurationFlag{Name: "cq-spin", Value: 5 * time.Microsecond, Usage: "sqpoll: spin on the completion queue this long before waiting"},
		},
		Action: serveAction,
	})
}

func serveAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("serve takes no arguments, got %q", c.Args().First())
	}
	if err := applyCPUFlags(c); err != nil {
		return err
	}
	if c.String("backend") == "" {
		return usageError("--backend: required (one of %v)", backend.Names())
	}
	b, err := backend.Lookup(c.String("backend"))
	if err != nil {
		return usageError("--backend: %v", err)
	}
	topology := backend.TopologyEcho
	if up := c.String("upstream"); up != "" {
		if _, _, err := netutil.ResolveSockaddr(up, false); err != nil {
			return usageError("--upstream: %v", err)
		}
		topology = backend.TopologyProxy
	}
	if _, _, err := netutil.ResolveSockaddr(c.String("listen"), true); err != nil {
		return usageError("--listen: %v", err)
	}
	if c.Int("max-conns") < 1 {
		return usageError("--max-conns %d: must be at least 1", c.Int("max-conns"))
	}
	if c.Duration("duration") < 0 {
		return usageError("--duration %v: must not be negative", c.Duration("duration"))
	}
	need := c.Int("max-conns") + 256
	if topology == backend.TopologyProxy {
		need = 2*c.Int("max-conns") + 256
	}
	if err := fds.RaiseLimit(need); err != nil && c.IsSet("max-conns") {
		// Not fatal: the server refuses connections beyond what it can hold (accept fails with EMFILE).
		fmt.Fprintf(c.App.ErrWriter, "ringbench: warning: --max-conns %d: %v\n", c.Int("max-conns"), err)
	}
	ss, err := echoproxy.StartServer(b, echoproxy.ServerOptions{Listen: c.String("listen"), Topology: topology,
		Upstream: c.String("upstream"), Multishot: c.Bool("multishot"), MaxConns: c.Int("max-conns"),
		Options: backend.Options{SQCPU: c.Int("sq-cpu"), SQIdle: c.Duration("sq-idle"), CQSpin: c.Duration("cq-spin")}})
	if err != nil {
		if errors.Is(err, backend.ErrNotSupported) {
			return exitError(exitUnsupported, err)
		}
		return exitError(exitFailure, err)
	}
	if ss.Server.ThreadID() > 0 && runtime.GOMAXPROCS(0) < 2 {
		// Under `taskset -c N` GOMAXPROCS is 1, and then the runtime takes the only P from the server's
		// locked thread whenever it blocks in epoll_wait or io_uring_enter for more than 20 us, and sysmon
		// polls every 20 us: measured +0.7 syscalls and +8 us CPU per request at one connection. A second,
		// idle P avoids it; the server still runs on the one CPU.
		runtime.GOMAXPROCS(2)
	}
	var ctl net.Listener
	ctlDone := make(chan struct{})
	if addr := c.String("control"); addr != "off" {
		ctl, err = net.Listen("tcp", addr)
		if err != nil {
			ss.Close()
			return exitError(exitFailure, fmt.Errorf("--control %s: %w", addr, err))
		}
		// Counters are opened per window, not held: between windows this process's syscalls stay untraced.
		meter := measure.New(measure.Options{CountSyscalls: true})
		go func() {
			defer close(ctlDone)
			defer meter.Close()
			echoproxy.ServeControl(ctl, ss, meter, echoproxy.ControlInfo{Topology: topology, Multishot: c.Bool("multishot")})
		}()
	} else {
		close(ctlDone)
	}
	fmt.Fprintf(c.App.Writer, "listening %s\n", ss.Addr)
	if ctl != nil {
		fmt.Fprintf(c.App.Writer, "control %s\n", ctl.Addr())
	}
	for _, w := range ss.Warnings() {
		fmt.Fprintf(c.App.ErrWriter, "ringbench: warning: %s\n", w)
	}
	if f, ok := c.App.Writer.(*os.File); ok {
		_ = f.Sync()
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var timeout <-chan time.Time
	if d := c.Duration("duration"); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		timeout = t.C
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var runErr error
wait:
	for {
		select {
		case <-sigs:
			break wait
		case <-timeout:
			break wait
		case <-tick.C:
			if runErr = ss.Err(); runErr != nil {
				break wait
			}
		}
	}
	if ctl != nil {
		ctl.Close()
	}
	<-ctlDone
	st := ss.Server.Stats()
	if err := ss.Close(); err != nil && runErr == nil {
		runErr = err
	}
	fmt.Fprintf(c.App.Writer, "served %d connections (%d refused), %d bytes received\n", st.Accepted, st.Rejected, st.BytesIn)
	if runErr != nil {
		return exitError(exitFailure, runErr)
	}
	return nil
}
