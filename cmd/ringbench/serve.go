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
the load's window, and writes the figures into its result file. It too is on loopback unless
--control names an address (":0" is loopback; a warning says when it is not). Every request must
carry the control token: --control-token sets it, else a random one is made; it is written to
--control-token-file (mode 0600, removed at exit) or else printed as "control-token TOKEN", for
"ringbench load --control-token-file F" (or --control-token T). The measurement belongs to one load
session at a time, or to the K sessions of "ringbench load --loaders K" run on K hosts: then each
window opens when the last of them has said begin and closes when the last has said end, and this
server's figures are divided by all their requests (see "ringbench load --help"). Requests from other
sessions, without the token or out of bounds (a request over
%d bytes, "mem" for more than %d connections) are refused and logged on stderr.

Exit status: 0 stopped by a signal or --duration, 1 the server failed, 2 bad flag or value, 3 the
backend cannot run here.`

func init() {
	commands = append(commands, &cli.Command{
		Name:        "serve",
		Usage:       "run a backend's echo (or proxy) server for ringbench load on another host",
		UsageText:   "ringbench serve --backend B [--listen ADDR] [--upstream ADDR] [--control ADDR [--control-token-file F]] [--multishot]",
		Description: fmt.Sprintf(serveDescription, echoproxy.MaxRequestBytes, echoproxy.MaxMemConns),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "backend", Aliases: []string{"b"}, Usage: "backend serving (required): " + fmt.Sprint(backend.Names())},
			&cli.StringFlag{Name: "listen", Aliases: []string{"l"}, Value: "127.0.0.1:0", Usage: "address to listen on (port 0: any free port)"},
			&cli.StringFlag{Name: "upstream", Usage: "proxy to this echo server (host:port) instead of echoing"},
			&cli.StringFlag{Name: "control", Value: "127.0.0.1:0", Usage: "control address for ringbench load --control, or \"off\" (no host: loopback)"},
			&cli.StringFlag{Name: "control-token", Usage: "the control token (at least 16 characters; default: a random one)"},
			&cli.StringFlag{Name: "control-token-file", Usage: "write the control token to this file (mode 0600) instead of printing it"},
			&cli.BoolFlag{Name: "multishot", Usage: "uring, sqpoll: multishot accept and recv from a provided buffer ring"},
			epollModeFlag(""),
			&cli.IntFlag{Name: "max-conns", Value: backend.DefaultMaxConns, Usage: "close client connections beyond this many at once (per thread)"},
			&cli.IntFlag{Name: "threads", Value: 1, Usage: "event loops, each on its own thread with its own ring or epoll and its own SO_REUSEPORT listener (gostd: accept loops)"},
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
	if err := checkNonNegative("duration", c.Duration("duration")); err != nil {
		return err
	}
	if err := checkThreads("threads", c.Int("threads")); err != nil {
		return err
	}
	opts := backend.Options{SQCPU: c.Int("sq-cpu"), SQIdle: c.Duration("sq-idle"), CQSpin: c.Duration("cq-spin"), EpollMode: c.String("epoll-mode")}
	if err := checkEpollMode(opts.EpollMode, []backend.Backend{b}); err != nil {
		return err
	}
	if err := checkSQFlags(opts); err != nil {
		return err
	}
	if err := checkMultishot(c.Bool("multishot"), b.Name()); err != nil {
		return err
	}
	ctlAddr := c.String("control")
	if ctlAddr != "off" {
		if ctlAddr, err = listenAddr("control", ctlAddr); err != nil {
			return err
		}
	}
	token := c.String("control-token")
	if c.IsSet("control-token") {
		if err := echoproxy.CheckToken(token); err != nil {
			return usageError("--control-token: %v", err)
		}
	} else if token, err = echoproxy.NewToken(); err != nil {
		return exitError(exitFailure, err)
	}
	tokenFile := c.String("control-token-file")
	if tokenFile != "" && ctlAddr != "off" {
		if err := writeTokenFile(tokenFile, token); err != nil {
			return usageError("--control-token-file %s: %v", tokenFile, err)
		}
		defer os.Remove(tokenFile)
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
		Threads: c.Int("threads"), Options: opts})
	if err != nil {
		if errors.Is(err, backend.ErrNotSupported) {
			return exitError(exitUnsupported, err)
		}
		return exitError(exitFailure, err)
	}
	if n := len(backend.ServerThreadIDs(ss.Server)); n > 0 && runtime.GOMAXPROCS(0) < n+1 {
		// Under `taskset -c N` GOMAXPROCS is 1, and then the runtime takes the only P from the server's
		// locked thread whenever it blocks in epoll_wait or io_uring_enter for more than 20 us, and sysmon
		// polls every 20 us: measured +0.7 syscalls and +8 us CPU per request at one connection. A second,
		// idle P avoids it; the server still runs on the one CPU. With N loops: N+1.
		runtime.GOMAXPROCS(n + 1)
	}
	var ctl net.Listener
	ctlDone := make(chan struct{})
	if ctlAddr != "off" {
		ctl, err = net.Listen("tcp", ctlAddr)
		if err != nil {
			ss.Close()
			return exitError(exitFailure, fmt.Errorf("--control %s: %w", ctlAddr, err))
		}
		if ta, ok := ctl.Addr().(*net.TCPAddr); ok && !ta.IP.IsLoopback() {
			fmt.Fprintf(c.App.ErrWriter, "ringbench: warning: the control port %s is reachable from other hosts; "+
				"only the token keeps others from it\n", ctl.Addr())
		}
		// Counters are opened per window, not held: between windows this process's syscalls stay untraced.
		meter := measure.New(measure.Options{CountSyscalls: true})
		go func() {
			defer close(ctlDone)
			defer meter.Close()
			echoproxy.ServeControl(ctl, ss, meter, echoproxy.ControlInfo{Topology: topology, Multishot: c.Bool("multishot"), EpollMode: opts.EpollMode},
				echoproxy.ControlOptions{Token: token, Log: c.App.ErrWriter})
		}()
	} else {
		close(ctlDone)
	}
	fmt.Fprintf(c.App.Writer, "listening %s\n", ss.Addr)
	if ctl != nil {
		fmt.Fprintf(c.App.Writer, "control %s\n", ctl.Addr())
		if tokenFile == "" {
			fmt.Fprintf(c.App.Writer, "control-token %s\n", token)
		}
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

// writeTokenFile writes the control token to path, readable by its owner only. An existing file is
// replaced, not written through (it could be a link to somewhere else).
func writeTokenFile(path, token string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(token + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// checkThreads refuses a --threads (or --gen-threads) value outside 1 to backend.MaxThreads.
func checkThreads(flag string, n int) error {
	if n < 1 || n > backend.MaxThreads {
		return usageError("--%s %d: want 1 to %d", flag, n, backend.MaxThreads)
	}
	return nil
}
