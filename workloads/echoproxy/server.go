package echoproxy

import (
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/cpuset"
	"github.com/ringbench/ringbench/internal/loadgen"
	"github.com/ringbench/ringbench/internal/measure"
	"github.com/ringbench/ringbench/internal/netutil"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/workloads"
)

// ServerOptions configure a server under test.
type ServerOptions struct {
	Listen    string // host:port; "" is 127.0.0.1:0 (loopback, a free port)
	Topology  string
	Upstream  string
	Multishot bool
	MaxConns  int
	Threads   int // event loops, each with its own listening socket on Listen (SO_REUSEPORT)
	Options   backend.Options
}

// ServerSide is a server under test running in this process, on its backend's own thread.
type ServerSide struct {
	Backend backend.Backend
	Server  backend.Server
	Addr    string
	errCh   chan error
	err     error
	closed  bool
}

// StartServer sets up b's server and starts serving. A backend that cannot serve sockets, or cannot run
// here, gives an error wrapping backend.ErrNotSupported.
func StartServer(b backend.Backend, o ServerOptions) (*ServerSide, error) {
	if err := b.Available(); err != nil {
		return nil, err
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:0"
	}
	backlog := max(o.MaxConns, 4096)
	fds, addr, err := netutil.ListenN(o.Listen, backlog, o.Threads)
	if err != nil {
		return nil, err
	}
	cfg := backend.ServerConfig{ListenFD: fds[0], Topology: o.Topology, Upstream: o.Upstream,
		Multishot: o.Multishot, MaxConns: o.MaxConns, Threads: o.Threads, Options: o.Options}
	if o.Threads > 1 {
		cfg.ListenFDs = fds
	}
	srv, err := b.NewServer(cfg)
	if err != nil {
		return nil, err // NewServer closed fd
	}
	s := &ServerSide{Backend: b, Server: srv, Addr: addr, errCh: make(chan error, 1)}
	go func() { s.errCh <- srv.Serve() }()
	return s, nil
}

// Err reports, without waiting, whether the server has stopped on an error.
func (s *ServerSide) Err() error {
	if s.err != nil {
		return s.err
	}
	select {
	case err := <-s.errCh:
		if err == nil {
			err = errors.New("server stopped")
		}
		s.err = fmt.Errorf("%s server: %w", s.Backend.Name(), err)
		s.closed = true
		return s.err
	default:
		return nil
	}
}

// WaitOpen waits until the server holds at least n client connections.
func (s *ServerSide) WaitOpen(n int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st := s.Server.Stats()
		if st.Open >= n {
			return nil
		}
		if err := s.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s server holds %d connections, %d expected, after %v", s.Backend.Name(), st.Open, n, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// WaitClosed waits until the server has seen every client connection close.
func (s *ServerSide) WaitClosed(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for s.Server.Stats().Open > 0 {
		if s.Err() != nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s server still holds %d connections %v after the clients closed them",
				s.Backend.Name(), s.Server.Stats().Open, timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// Close stops the server and waits for it; it returns the error Serve stopped with, if any.
func (s *ServerSide) Close() error {
	cerr := s.Server.Close()
	if !s.closed {
		s.closed = true
		if err := <-s.errCh; err != nil && s.err == nil {
			s.err = err
		}
	}
	if s.err != nil {
		return s.err
	}
	return cerr
}

// Warnings are the server's own (an SQPOLL thread without a core, a ring flag the kernel lacks).
func (s *ServerSide) Warnings() []result.Warning {
	w, ok := s.Server.(backend.Warner)
	if !ok {
		return nil
	}
	var out []result.Warning
	for _, bw := range w.Warnings() {
		out = append(out, result.Warning(bw))
	}
	return out
}

// Window is one measured interval of the server.
type Window struct {
	ss     *ServerSide
	span   span
	before backend.EngineCounters
}

// Begin starts measuring the server process (and, apart, its I/O threads: every event loop's) with m.
func (s *ServerSide) Begin(m *measure.Meter) (*Window, error) {
	if m == nil {
		return nil, workloads.ErrNoMeter
	}
	w := &Window{ss: s, before: s.Server.Counters()}
	sp, err := beginSpan(m, backend.ServerThreadIDs(s.Server), w.before.Enters >= 0)
	if err != nil {
		return nil, err
	}
	w.span = sp
	return w, nil
}

// End fills sm's server figures (syscalls, CPU, context switches, RSS, io_uring_enter calls) over ops
// requests.
func (w *Window) End(ops int64, sm *result.Sample) error {
	defer w.span.Close()
	err := w.span.End(ops, sm)
	after := w.ss.Server.Counters()
	sm.EntersPerOp = -1
	if after.Enters >= 0 && ops > 0 {
		sm.EntersPerOp = float64(after.Enters-w.before.Enters) / float64(ops)
	}
	sm.Warnings = result.AddWarnings(sm.Warnings, w.ss.Warnings()...)
	return err
}

// Close releases the counters without reading them.
func (w *Window) Close() { w.span.Close() }

// Params are the parameters that identify an echo-proxy series.
func Params(topology string, conns, msgSize, pipeline int, rate float64, idle int, multishot bool) map[string]string {
	p := map[string]string{
		"topology": topology,
		"conns":    strconv.Itoa(conns),
		"msg-size": strconv.Itoa(msgSize),
		"pipeline": strconv.Itoa(pipeline),
	}
	if rate > 0 {
		p["rate"] = strconv.FormatFloat(rate, 'f', -1, 64)
	}
	if idle > 0 {
		p["idle-conns"] = strconv.Itoa(idle)
	}
	if multishot {
		p["multishot"] = "true"
	}
	return p
}

// ThreadParams adds the thread counts to an echo-proxy series' parameters when they are not 1 (so a
// series of one-thread runs keeps the parameters it had before there were threads).
func ThreadParams(p map[string]string, threads, genThreads int) map[string]string {
	if threads > 1 {
		p["threads"] = strconv.Itoa(threads)
	}
	if genThreads > 1 {
		p["gen-threads"] = strconv.Itoa(genThreads)
	}
	return p
}

// EpollModeParams adds "epoll-mode" to the parameters of an epoll backend's series when its server runs in
// a mode other than the level-triggered default (edge or oneshot), so that the default's series keep the
// parameters they had before there were modes. No sample ever recorded epoll-mode for the default (before
// the edge-triggered mode it was called "edge" and recorded nothing), so "edge" in a file always means the
// edge-triggered mode. Other backends ignore the mode and get nothing.
func EpollModeParams(p map[string]string, backendName, mode string) map[string]string {
	if backendName == "epoll" && !backend.EpollModeDefault(mode) {
		p["epoll-mode"] = mode
	}
	return p
}

// ClientFigures fills sm's throughput and latency from the load generator's result.
func ClientFigures(sm *result.Sample, r loadgen.Result) error {
	sm.Ops, sm.Bytes, sm.Seconds = r.Ops, r.Bytes, r.Seconds
	if r.Seconds > 0 {
		sm.OpsPerSec = float64(r.Ops) / r.Seconds
		sm.BytesPerSec = float64(r.Bytes) / r.Seconds
	}
	lat, err := r.Latency()
	if err != nil {
		return fmt.Errorf("load generator histogram: %w", err)
	}
	sm.Latency = lat
	sm.Intervals = r.Intervals
	return nil
}

// GeneratorCheck compares the load generator's CPU per request with the server's: it returns a line
// saying both (and how busy the generator's threads were), and adds a warning to sm when a generator
// thread used at least as much CPU per request it carried as the server used per request: it may then be
// what limits throughput. With several generator threads each is checked on its own requests (one
// saturated thread holds its connections back however idle the others are).
func GeneratorCheck(sm *result.Sample, r loadgen.Result) string {
	if r.Ops <= 0 {
		return ""
	}
	threads := r.Threads
	if len(threads) == 0 {
		threads = []loadgen.ThreadResult{{Ops: r.Ops, Seconds: r.Seconds, ThreadCPUNs: r.ThreadCPUNs}}
	}
	gen := float64(r.ThreadCPUNs) / float64(r.Ops)
	busy, worst, worstBusy := 0.0, -1.0, 0.0
	for _, t := range threads {
		busy = max(busy, t.Busy())
		if t.Ops > 0 {
			if c := float64(t.ThreadCPUNs) / float64(t.Ops); c > worst {
				worst, worstBusy = c, t.Busy()
			}
		}
	}
	who := "its thread"
	if len(threads) > 1 {
		who = fmt.Sprintf("busiest of its %d threads", len(threads))
	}
	line := fmt.Sprintf("load generator %.2f µs CPU per request (process %.2f µs; %s %.0f%% busy; %s engine)",
		gen/1e3, float64(r.ProcessCPUNs)/float64(r.Ops)/1e3, who, 100*busy, r.Engine)
	if sm.CPU.PerOpNs > 0 {
		line += fmt.Sprintf(", server %.2f µs", sm.CPU.PerOpNs/1e3)
		if worst >= sm.CPU.PerOpNs {
			sm.Warnings = result.AddWarnings(sm.Warnings, result.Warn(result.WarnGeneratorBottleneck,
				"LOAD GENERATOR MAY BE THE BOTTLENECK: it used %.2f µs CPU per request, the server %.2f µs (generator thread %.0f%% busy)",
				worst/1e3, sm.CPU.PerOpNs/1e3, 100*worstBusy))
		}
	}
	return line
}

// cpuSplit gives the load generator the last CPU this process may use and the server the others; with a
// single CPU both share it (nil, nil).
//
// With genThreads > 1 the generator gets the last genThreads CPUs where at least as many are left for the
// server; otherwise the last one, as with one thread.
func cpuSplit(genThreads int) (server, gen []int) {
	cpus := cpuset.Allowed()
	if len(cpus) < 2 {
		return nil, nil
	}
	g := 1
	if genThreads > 1 && len(cpus) >= 2*genThreads {
		g = genThreads
	}
	return cpus[:len(cpus)-g], cpus[len(cpus)-g:]
}

// confine keeps this process (the server) off the load generator's CPU for the length of a sample, with
// GOMAXPROCS matching the CPUs left (the Go net server of the anchor figures ran with GOMAXPROCS=1; a
// server with a locked thread of its own gets 2, see Sample). The returned function restores both.
func confine(server []int) func() {
	if len(server) == 0 {
		return func() {}
	}
	all := cpuset.Allowed()
	prev := runtime.GOMAXPROCS(len(server))
	_ = cpuset.PinProcess(server)
	return func() {
		_ = cpuset.PinProcess(all)
		runtime.GOMAXPROCS(prev)
	}
}
