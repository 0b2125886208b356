// Package echoproxy is the network workload: a load generator, the server under test (the backend) and,
// in the proxy topology, an upstream echo server.
//
//	--topology echo:  load generator -> server under test (echoes)
//	--topology proxy: load generator -> server under test (forwards) -> upstream echo server
//
// The load generator and the upstream echo server are the same code whatever the backend, and run in a
// child process (ringbench starting itself, see internal/loadgen) pinned to a CPU of its own when there
// are two or more, so that the measured process holds nothing but the server: syscalls, CPU time and
// context switches are the server's alone. Throughput and latency come from the generator; latency is a
// whole HdrHistogram, timed from each request's scheduled send time in open loop (--rate).
//
// --idle-conns N first opens N connections that each complete one small echo and then go quiet, and
// reports the server's resident memory (and the kernel's slab growth) per connection.
package echoproxy

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/fds"
	"github.com/ringbench/ringbench/internal/loadgen"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/units"
	"github.com/ringbench/ringbench/workloads"
)

// Name is the workload's name.
const Name = "echo-proxy"

func init() { workloads.Register(Workload{}) }

// Workload is the echo-proxy workload.
type Workload struct{}

// Name implements workloads.Workload.
func (Workload) Name() string { return Name }

// Summary implements workloads.Workload.
func (Workload) Summary() string {
	return "TCP echo (or proxy to an echo server) over loopback: requests/s, round-trip latency, syscalls and CPU per request, memory per idle connection"
}

// UsesFlag implements workloads.Workload: of the flags that take a list, echo-proxy reads --conns,
// --msg-size, --threads and --gen-threads (its servers have no --depth or --batch, and --jobs is the file
// workloads').
func (Workload) UsesFlag(flag string) bool {
	switch flag {
	case "conns", "msg-size", "threads", "gen-threads":
		return true
	}
	return false
}

// Defaults.
const (
	DefaultConns   = 16
	DefaultMsgSize = 64
	DefaultTimeout = 10 * time.Second
)

// Settings are the validated echo-proxy parameters.
type Settings struct {
	Topology  string
	Conns     int
	MsgSize   int
	Pipeline  int
	Rate      float64
	IdleConns int
	Multishot bool
	// Threads are the server's event loops, GenThreads the load generator's threads.
	Threads    int
	GenThreads int
	Verify     bool
	Timeout    time.Duration
	Options    backend.Options
}

// Validate implements workloads.Workload: it checks the echo-proxy flags without starting anything. The
// limits are the load generator's (loadgen.MinMsgSize and the like), which `load` checks too.
func (Workload) Validate(cfg workloads.Config) error {
	_, err := Check(cfg)
	return err
}

// Check fills defaults and validates, naming the flag in any error.
func Check(cfg workloads.Config) (Settings, error) {
	s := Settings{Topology: cfg.Topology, Conns: cfg.Conns, MsgSize: cfg.MsgSize, Pipeline: cfg.Pipeline, Rate: cfg.Rate,
		IdleConns: cfg.IdleConns, Multishot: cfg.Multishot, Threads: cfg.Threads, GenThreads: cfg.GenThreads, Verify: cfg.Verify, Timeout: cfg.Timeout, Options: cfg.Options}
	if s.Topology == "" {
		s.Topology = backend.TopologyEcho
	}
	if s.Topology != backend.TopologyEcho && s.Topology != backend.TopologyProxy {
		return s, fmt.Errorf("--topology %q: want echo or proxy", s.Topology)
	}
	if s.Conns == 0 {
		s.Conns = DefaultConns
	}
	if s.Conns < 1 || s.Conns > loadgen.MaxConns {
		return s, fmt.Errorf("--conns %d: want 1 to %d", s.Conns, loadgen.MaxConns)
	}
	if s.MsgSize == 0 {
		s.MsgSize = DefaultMsgSize
	}
	if s.MsgSize < loadgen.MinMsgSize || s.MsgSize > loadgen.MaxMsgSize {
		return s, fmt.Errorf("--msg-size %d: want %d B to %s", s.MsgSize, loadgen.MinMsgSize, units.FormatSize(loadgen.MaxMsgSize))
	}
	if s.Pipeline == 0 {
		s.Pipeline = 1
	}
	if s.Pipeline < 1 || s.Pipeline > loadgen.MaxPipeline {
		return s, fmt.Errorf("--pipeline %d: want 1 to %d", s.Pipeline, loadgen.MaxPipeline)
	}
	if s.Rate < 0 || s.Rate > 1e8 || s.Rate != s.Rate {
		return s, fmt.Errorf("--rate %v: want 0 (closed loop) or up to 1e8 requests/s", s.Rate)
	}
	if s.IdleConns < 0 || s.IdleConns > loadgen.MaxConns {
		return s, fmt.Errorf("--idle-conns %d: want 0 to %d", s.IdleConns, loadgen.MaxConns)
	}
	if s.Threads == 0 {
		s.Threads = 1
	}
	if s.Threads < 1 || s.Threads > backend.MaxThreads {
		return s, fmt.Errorf("--threads %d: want 1 to %d", s.Threads, backend.MaxThreads)
	}
	if s.GenThreads == 0 {
		s.GenThreads = 1
	}
	if s.GenThreads < 1 || s.GenThreads > loadgen.MaxThreads {
		return s, fmt.Errorf("--gen-threads %d: want 1 to %d", s.GenThreads, loadgen.MaxThreads)
	}
	if s.GenThreads > s.Conns {
		return s, fmt.Errorf("--gen-threads %d: more threads than --conns %d", s.GenThreads, s.Conns)
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.Timeout < 0 {
		return s, fmt.Errorf("--timeout %v: must be positive", s.Timeout)
	}
	if err := backend.CheckEpollMode(s.Options.EpollMode); err != nil {
		return s, err
	}
	if s.Options.SQCPU == 0 && s.Options.SQIdle == 0 && s.Options.CQSpin == 0 {
		s.Options.SQCPU = -1 // zero options: the poll thread is not pinned (0 would pin it to CPU 0)
	}
	return s, nil
}

// FDsNeeded is how many descriptors each side needs for conns connections (two per client in proxy).
func (s Settings) FDsNeeded() int {
	n := s.Conns + s.IdleConns
	if s.Topology == backend.TopologyProxy {
		n *= 2
	}
	return n + 512
}

// Params identify the series.
func (s Settings) Params() map[string]string {
	return ThreadParams(Params(s.Topology, s.Conns, s.MsgSize, s.Pipeline, s.Rate, s.IdleConns, s.Multishot), s.Threads, s.GenThreads)
}

// Prepare implements workloads.Workload: it checks the settings and starts the load-generator process
// (with the upstream echo server, for the proxy topology), shared by every sample.
func (Workload) Prepare(ctx context.Context, cfg workloads.Config) (workloads.Prepared, error) {
	s, err := Check(cfg)
	if err != nil {
		return nil, err
	}
	if err := fds.RaiseLimit(s.FDsNeeded()); err != nil {
		return nil, fmt.Errorf("--conns %d --idle-conns %d: %w", s.Conns, s.IdleConns, err)
	}
	serverCPUs, genCPUs := cpuSplit(s.GenThreads)
	child, err := loadgen.StartChild(genCPUs)
	if err != nil {
		return nil, err
	}
	p := &prepared{s: s, child: child, progress: cfg.Progress, serverCPUs: serverCPUs, genCPUs: genCPUs}
	if err := child.RaiseNoFile(s.FDsNeeded()); err != nil {
		child.Close()
		return nil, fmt.Errorf("load generator: %w", err)
	}
	if s.Topology == backend.TopologyProxy {
		if p.upstream, err = child.Upstream(); err != nil {
			child.Close()
			return nil, fmt.Errorf("upstream echo server: %w", err)
		}
	}
	return p, nil
}

type prepared struct {
	s          Settings
	child      *loadgen.Child
	upstream   string
	progress   func(string)
	serverCPUs []int
	genCPUs    []int
}

func (p *prepared) say(format string, args ...any) {
	if p.progress != nil {
		p.progress(fmt.Sprintf(format, args...))
	}
}

// Close implements workloads.Prepared: it ends the load-generator process.
func (p *prepared) Close() error { return p.child.Close() }

// Sample implements workloads.Prepared.
func (p *prepared) Sample(ctx context.Context, spec workloads.SampleSpec) (result.Sample, error) {
	s := p.s
	if spec.Config != nil {
		var err error
		if s, err = Check(*spec.Config); err != nil {
			return result.Sample{}, err
		}
	}
	b := spec.Backend
	sm := result.Sample{Backend: b.Name(), Workload: Name, Params: EpollModeParams(s.Params(), b.Name(), s.Options.EpollMode),
		Repeat: spec.Repeat, EntersPerOp: -1}
	restore := confine(p.serverCPUs)
	defer restore()
	ss, err := StartServer(b, ServerOptions{Topology: s.Topology, Upstream: p.upstream, Multishot: s.Multishot,
		MaxConns: s.Conns + s.IdleConns + 64, Threads: s.Threads, Options: s.Options})
	if err != nil {
		return sm, err
	}
	if len(p.genCPUs) == 0 {
		sm.Warnings = append(sm.Warnings, result.Warning{Kind: result.WarnGeneratorSharedCPU, Text: "ONE CPU: the load generator shares the server's core"})
	}
	if n := len(backend.ServerThreadIDs(ss.Server)); n > 0 && runtime.GOMAXPROCS(0) < n+1 {
		// With one P, the runtime takes it from the server's locked thread whenever that blocks in
		// epoll_wait or io_uring_enter for more than 20 us, and sysmon then polls every 20 us (measured:
		// +0.7 syscalls and +8 us CPU per request at one connection). A second, idle P avoids that.
		// With N loops: N+1.
		runtime.GOMAXPROCS(n + 1)
	}
	err = p.run(ctx, spec, s, ss, &sm)
	// Tear down in order: the clients go, the server sees them go, the server stops.
	if cerr := p.child.CloseConns(); cerr != nil && err == nil {
		err = cerr
	}
	if werr := ss.WaitClosed(10 * time.Second); werr != nil && err == nil {
		err = werr
	}
	if cerr := ss.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return sm, err
}

func (p *prepared) run(ctx context.Context, spec workloads.SampleSpec, s Settings, ss *ServerSide, sm *result.Sample) error {
	if s.IdleConns > 0 && !spec.Warmup {
		p.say("%s: opening %d idle connections", ss.Backend.Name(), s.IdleConns)
		before := TakeMem()
		if err := p.child.Hold(ss.Addr, s.IdleConns, min(s.MsgSize, 64)); err != nil {
			return fmt.Errorf("idle connections: %w", err)
		}
		if err := ss.WaitOpen(int64(s.IdleConns), 30*time.Second); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond) // let the server re-arm its receives
		sm.Memory = ConnMemory(before, TakeMem(), s.IdleConns)
	}
	cfg := loadgen.Config{Target: ss.Addr, Conns: s.Conns, MsgSize: s.MsgSize, Pipeline: s.Pipeline, Rate: s.Rate,
		Verify: s.Verify, Timeout: s.Timeout, Threads: s.GenThreads,
		Interval: spec.Interval}
	if err := p.child.Dial(cfg); err != nil {
		return p.blame(ss, err)
	}
	if err := p.child.Start(spec.Duration + time.Minute); err != nil {
		return p.blame(ss, err)
	}
	// A short ramp before the window: connections warm, the server's buffers touched.
	if err := sleep(ctx, min(spec.Duration/10, 200*time.Millisecond)); err != nil {
		_, _ = p.child.Stop()
		return err
	}
	var win *Window
	if !spec.Warmup {
		var err error
		if win, err = ss.Begin(spec.Meter); err != nil {
			_, _ = p.child.Stop()
			return err
		}
	}
	if err := p.child.Mark(); err != nil {
		if win != nil {
			win.Close()
		}
		return p.blame(ss, err)
	}
	serr := sleepWatching(ctx, spec.Duration, ss)
	if serr != nil && !spec.Warmup {
		// Interrupted inside the window: keep the cut-short sample, as the file workloads do (the runner
		// marks it interrupted, from its Seconds).
		serr = nil
	}
	res, err := p.child.Stop()
	if win != nil {
		if merr := win.End(res.Ops, sm); merr != nil && err == nil {
			err = merr
		}
	}
	if err != nil {
		return p.blame(ss, err)
	}
	if serr != nil {
		return serr
	}
	if err := ClientFigures(sm, res); err != nil {
		return err
	}
	if res.Ops == 0 {
		return fmt.Errorf("%s: no request completed in %v", ss.Backend.Name(), spec.Duration)
	}
	if !spec.Warmup {
		line := GeneratorCheck(sm, res)
		p.say("%s: %.0f requests/s; %s", ss.Backend.Name(), sm.OpsPerSec, line)
	}
	return nil
}

// blame prefers the server's own error (it crashed) to the generator's view of it (connections reset).
func (p *prepared) blame(ss *ServerSide, err error) error {
	if serr := ss.Err(); serr != nil {
		return fmt.Errorf("%w (load generator: %v)", serr, err)
	}
	if errors.Is(err, loadgen.ErrServerGone) {
		return fmt.Errorf("%s server: %w", ss.Backend.Name(), err)
	}
	return err
}

// sleepWatching sleeps like sleep, but ends early (nil) when the server stops on an error.
func sleepWatching(ctx context.Context, d time.Duration, ss *ServerSide) error {
	end := time.Now().Add(d)
	for {
		left := time.Until(end)
		if left <= 0 || ss.Err() != nil {
			return nil
		}
		if err := sleep(ctx, min(left, 100*time.Millisecond)); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
