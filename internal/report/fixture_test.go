package report

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/fingerprint"
	"github.com/ringbench/ringbench/internal/result"
)

// This file generates realistic result files, as `ringbench run` writes them, for the tests and for
// internal/report/testdata (go test ./internal/report -run TestFixturesUpToDate -update rewrites those). The figures follow
// what was measured on the project's machine (shared notes 01 and 02): page-cache reads at ~400k/s,
// io_uring batching 32 reads per io_uring_enter, epoll one pread64 per read, echo servers at 2.13 / 0.43 /
// 0.14 syscalls per request at 16 connections, SQPOLL burning a core for its poll thread.

// seriesSpec describes one backend on one workload: per-op figures that samples scatter around.
type seriesSpec struct {
	workload, backend string
	params            map[string]string
	opsPerSec         float64
	spread            float64 // relative sample-to-sample spread of throughput
	bytesPerOp        int64
	latMedianNs       float64
	latSigma          float64 // lognormal shape
	tailNs            float64 // 0.1% of ops land around here (page faults, preemption)
	syscalls          map[string]float64
	scope             string
	enters            float64 // -1 = not a ring
	userNs, sysNs     float64 // per op; sysNs includes poll and worker
	pollNs, workerNs  float64
	ctxsw             float64
	peakRSS           int64
	residency         []float64 // per repeat: fraction before the sample (nil = not a file workload)
	locked            bool
	memRSS, memSlab   float64 // per idle connection (0 = not measured)
}

// fixtureOpts are what differ between fixture files.
type fixtureOpts struct {
	seed        uint64
	started     time.Time
	kernel      fingerprint.Kernel
	ioUring     fingerprint.IOUring
	virt        fingerprint.Virt
	count       int
	slowdown    float64 // throughput divisor (emulation)
	uringFactor float64 // io_uring throughput relative to the 6.12 figures
	noSyscalls  string  // reason syscall counting was unavailable ("" = available)
	workloads   map[string]bool
	backends    map[string]bool
	label       string
	warnings    []result.Warning
	skipped     []result.Skip
	residency   []float64 // small-file residency before each sample (nil = locked, all 1.0)
}

func fixtureSpecs(o fixtureOpts) []seriesSpec {
	file := func(depth bool) map[string]string {
		if depth {
			return map[string]string{"depth": "32", "batch": "32"}
		}
		return nil
	}
	conns := func(n string) map[string]string { return map[string]string{"conns": n, "msg-size": "64"} }
	uf := o.uringFactor
	specs := []seriesSpec{
		// small-file: 4 KiB random reads of a 256 MiB file in the page cache.
		{workload: "small-file", backend: "epoll", params: file(false), opsPerSec: 430e3, spread: 0.04, bytesPerOp: 4096,
			latMedianNs: 2100, latSigma: 0.22, tailNs: 40e3, scope: "process", enters: -1,
			syscalls: map[string]float64{"pread64": 1.0, "futex": 0.0015, "other": 0.0009},
			userNs:   520, sysNs: 1480, ctxsw: 0.0004, peakRSS: 21 << 20},
		{workload: "small-file", backend: "uring", params: file(true), opsPerSec: 405e3 * uf, spread: 0.05, bytesPerOp: 4096,
			latMedianNs: 79e3 / uf, latSigma: 0.12, tailNs: 400e3, scope: "process", enters: 0.0313,
			syscalls: map[string]float64{"io_uring_enter": 0.0313, "futex": 0.0012, "other": 0.0006},
			userNs:   610, sysNs: 1050, ctxsw: 0.0003, peakRSS: 23 << 20},
		{workload: "small-file", backend: "sqpoll", params: file(true), opsPerSec: 160e3 * uf, spread: 0.25, bytesPerOp: 4096,
			latMedianNs: 200e3 / uf, latSigma: 0.5, tailNs: 4e6, scope: "process", enters: 0.0061,
			syscalls: map[string]float64{"io_uring_enter": 0.0061, "futex": 0.0021, "other": 0.0018},
			userNs:   900, sysNs: 7400, pollNs: 6800, ctxsw: 0.004, peakRSS: 23 << 20},
		// many-file: 10,000 files of 4 KiB, open + read + close each.
		{workload: "many-file", backend: "epoll", opsPerSec: 238e3, spread: 0.04, bytesPerOp: 4096,
			latMedianNs: 4200, latSigma: 0.2, tailNs: 60e3, scope: "process", enters: -1,
			syscalls: map[string]float64{"openat": 1.0, "read": 1.0, "close": 1.0, "futex": 0.002, "other": 0.001},
			userNs:   900, sysNs: 3300, ctxsw: 0.0005, peakRSS: 22 << 20},
		{workload: "many-file", backend: "uring", params: file(true), opsPerSec: 251e3 * uf, spread: 0.05, bytesPerOp: 4096,
			latMedianNs: 127e3 / uf, latSigma: 0.12, tailNs: 600e3, scope: "process", enters: 0.0315,
			syscalls: map[string]float64{"io_uring_enter": 0.0315, "futex": 0.001, "other": 0.0007},
			userNs:   1000, sysNs: 2800, workerNs: 150, ctxsw: 0.0004, peakRSS: 25 << 20},
		{workload: "many-file", backend: "sqpoll", params: file(true), opsPerSec: 120e3 * uf, spread: 0.2, bytesPerOp: 4096,
			latMedianNs: 260e3 / uf, latSigma: 0.45, tailNs: 5e6, scope: "process", enters: 0.007,
			syscalls: map[string]float64{"io_uring_enter": 0.007, "futex": 0.002, "other": 0.002},
			userNs:   1200, sysNs: 9800, pollNs: 7000, workerNs: 120, ctxsw: 0.005, peakRSS: 25 << 20},
	}
	// echo-proxy: 64-byte messages, closed loop, at 1 and 16 connections; idle-connection memory at 16.
	type echo struct {
		backend           string
		rate1, rate16     float64
		sc1, sc16         map[string]float64
		enters1, enters16 float64
		cpu1, cpu16       [3]float64 // user, sys, poll per request (ns)
		rss               float64
	}
	echoes := []echo{
		{"epoll", 36e3, 128e3,
			map[string]float64{"epoll_wait": 1.0, "read": 1.0, "write": 1.0},
			map[string]float64{"epoll_wait": 0.13, "read": 1.0, "write": 1.0}, -1, -1,
			[3]float64{3800, 15200, 0}, [3]float64{1400, 5700, 0}, 12},
		{"uring", 38e3, 141e3,
			map[string]float64{"io_uring_enter": 2.0},
			map[string]float64{"io_uring_enter": 0.43}, 2.0, 0.43,
			[3]float64{3300, 13700, 0}, [3]float64{1200, 5400, 0}, 4198},
		{"sqpoll", 30e3, 118e3,
			map[string]float64{"io_uring_enter": 1.85},
			map[string]float64{"io_uring_enter": 0.14}, 1.85, 0.14,
			[3]float64{4000, 46000, 30000}, [3]float64{1500, 12500, 9000}, 4210},
		{"gostd", 31e3, 96e3,
			map[string]float64{"read": 1.0, "write": 1.0, "epoll_pwait": 1.3, "futex": 1.9, "nanosleep": 0.71},
			map[string]float64{"read": 1.0, "write": 1.0, "epoll_pwait": 0.6, "futex": 0.35, "nanosleep": 0.16}, -1, -1,
			[3]float64{9000, 20000, 0}, [3]float64{4500, 9500, 0}, 9100},
	}
	for _, e := range echoes {
		f := 1.0
		if e.backend == "uring" || e.backend == "sqpoll" {
			f = uf
		}
		specs = append(specs,
			seriesSpec{workload: "echo-proxy", backend: e.backend, params: conns("1"), opsPerSec: e.rate1 * f, spread: 0.06,
				bytesPerOp: 128, latMedianNs: 1 / (e.rate1 * f) * 1e9 * 0.97, latSigma: 0.15, tailNs: 900e3,
				syscalls: e.sc1, scope: "server", enters: e.enters1, userNs: e.cpu1[0], sysNs: e.cpu1[1] + e.cpu1[2],
				pollNs: e.cpu1[2], ctxsw: 1.0, peakRSS: 31 << 20},
			seriesSpec{workload: "echo-proxy", backend: e.backend, params: conns("16"), opsPerSec: e.rate16 * f, spread: 0.06,
				bytesPerOp: 128, latMedianNs: 16 / (e.rate16 * f) * 1e9 * 0.95, latSigma: 0.3, tailNs: 2e6,
				syscalls: e.sc16, scope: "server", enters: e.enters16, userNs: e.cpu16[0], sysNs: e.cpu16[1] + e.cpu16[2],
				pollNs: e.cpu16[2], ctxsw: 0.18, peakRSS: 118 << 20, memRSS: e.rss, memSlab: 1180},
		)
	}
	var out []seriesSpec
	for _, s := range specs {
		if o.workloads != nil && !o.workloads[s.workload] || o.backends != nil && !o.backends[s.backend] {
			continue
		}
		if s.workload == "small-file" {
			s.locked = o.residency == nil
			s.residency = o.residency
		}
		if s.workload == "many-file" {
			s.locked = true
		}
		s.opsPerSec /= o.slowdown
		s.latMedianNs *= o.slowdown
		s.tailNs *= o.slowdown
		s.userNs *= o.slowdown
		s.sysNs *= o.slowdown
		s.pollNs *= o.slowdown
		s.workerNs *= o.slowdown
		out = append(out, s)
	}
	return out
}

// fixtureEnv is a fingerprint of a 2-vCPU guest like the project's machine.
func fixtureEnv(o fixtureOpts) fingerprint.Fingerprint {
	return fingerprint.Fingerprint{
		TimeUTC:  o.started,
		HostHash: "3f9a1c20b7d4",
		Tool:     fingerprint.Tool{Version: "v0.1.0", Commit: "4e1d2c7"},
		Kernel:   o.kernel,
		Distro:   "Debian GNU/Linux 12 (bookworm)",
		CPU: fingerprint.CPU{Model: "AMD EPYC 7B13", Microcode: "0xa0011d1", Logical: 2, Physical: 2, SMT: "notsupported",
			Affinity: "0-1", ScalingDriver: "", Governor: "", Turbo: ""},
		Mitigations: map[string]string{
			"meltdown":          "Not affected",
			"spectre_v1":        "Mitigation: usercopy/swapgs barriers and __user pointer sanitization",
			"spectre_v2":        "Mitigation: Retpolines; IBPB: conditional; STIBP: disabled; RSB filling; PBRSB-eIBRS: Not affected; BHI: Not affected",
			"spec_store_bypass": "Mitigation: Speculative Store Bypass disabled via prctl",
			"retbleed":          "Not affected",
			"srso":              "Mitigation: Safe RET",
		},
		IOUring: o.ioUring,
		Limits:  fingerprint.Limits{MemlockBytes: 8 << 20, Nofile: 1048576},
		Memory:  fingerprint.Memory{TotalBytes: 4 << 30, THP: "madvise", NUMANodes: 1},
		Virt:    o.virt,
		LoadAvg: []float64{0.08, 0.12, 0.09},
		Go:      fingerprint.GoRuntime{Version: "go1.26.8", GOMAXPROCS: 2},
		DataDir: &fingerprint.DataDir{Path: "/var/tmp/ringbench", FSType: "ext4", MountOptions: "rw,relatime",
			Device: "vda1", Scheduler: "mq-deadline"},
	}
}

func ioUring(disabled string, features uint32, last int, flags ...string) fingerprint.IOUring {
	return fingerprint.IOUring{Disabled: disabled, SetupOK: true, Features: features, LastOpcode: last,
		Opcodes:    []string{"NOP", "READV", "WRITEV", "READ", "WRITE", "OPENAT", "CLOSE", "ACCEPT", "RECV", "SEND", "POLL_ADD", "TIMEOUT", "PROVIDE_BUFFERS"},
		SetupFlags: flags, SQPoll: true}
}

// makeFixture builds one result file.
func makeFixture(o fixtureOpts) *result.File {
	if o.slowdown == 0 {
		o.slowdown = 1
	}
	if o.uringFactor == 0 {
		o.uringFactor = 1
	}
	rng := rand.New(rand.NewPCG(o.seed, o.seed^0x9e3779b97f4a7c15))
	specs := fixtureSpecs(o)
	f := &result.File{Schema: result.Schema, Version: result.Version, Started: o.started, Label: o.label,
		Env: fixtureEnv(o), Warnings: o.warnings, Skipped: o.skipped, Display: fixtureDisplay}
	backends, workloads := []string{}, []string{}
	seenB, seenW := map[string]bool{}, map[string]bool{}
	for _, s := range specs {
		if !seenB[s.backend] {
			seenB[s.backend] = true
			backends = append(backends, s.backend)
		}
		if !seenW[s.workload] {
			seenW[s.workload] = true
			workloads = append(workloads, s.workload)
		}
	}
	const seconds = 5.0
	f.Config = result.Config{Backends: backends, Workloads: workloads, Count: o.count,
		Duration: result.Duration(5 * time.Second), Warmup: result.Duration(time.Second),
		Options: map[string]string{"file-size": "4096", "files": "10000", "msg-size": "64"}}
	f.Command = []string{"ringbench", "run", "--backend", joinComma(backends), "--workload", joinComma(workloads),
		"--count", itoa(o.count), "--out", "results.json"}
	// Repeats interleave backends, as run does.
	for rep := 0; rep < o.count; rep++ {
		for _, s := range specs {
			f.Samples = append(f.Samples, makeSample(rng, s, rep, seconds, o.noSyscalls))
		}
	}
	f.Finished = o.started.Add(time.Duration(float64(o.count*len(specs)) * (seconds + 1) * float64(time.Second)))
	return f
}

func makeSample(rng *rand.Rand, s seriesSpec, rep int, seconds float64, noSyscalls string) result.Sample {
	jit := func(rel float64) float64 { return 1 + rel*(2*rng.Float64()-1) }
	rate := s.opsPerSec * jit(s.spread)
	ops := int64(rate * seconds)
	smp := result.Sample{Backend: s.backend, Workload: s.workload, Params: s.params, Repeat: rep,
		Seconds: seconds, Ops: ops, Bytes: ops * s.bytesPerOp, OpsPerSec: float64(ops) / seconds,
		BytesPerSec: float64(ops*s.bytesPerOp) / seconds, EntersPerOp: s.enters, PeakRSSBytes: s.peakRSS}

	// Latency: a lognormal body plus a thin tail, recorded with weights so that the count matches ops.
	h := result.NewHistogram()
	const draws = 20000
	weight := max(1, ops/draws)
	for i := 0; i < draws; i++ {
		v := s.latMedianNs * math.Exp(s.latSigma*rng.NormFloat64())
		if rng.Float64() < 0.001 {
			v = s.tailNs * (0.5 + 2*rng.Float64())
		}
		_ = h.RecordValues(max(1, int64(v)), weight)
	}
	smp.Latency = result.LatencyFrom(h)

	if noSyscalls != "" {
		smp.Syscalls = result.Syscalls{Available: false, Reason: noSyscalls}
		smp.ContextSwitches = result.Counted{Available: false, Reason: noSyscalls}
	} else {
		sc := result.Syscalls{Available: true, Scope: s.scope, ByName: map[string]uint64{}}
		names := make([]string, 0, len(s.syscalls))
		for name := range s.syscalls {
			names = append(names, name)
		}
		sort.Strings(names) // map order is random; the fixtures must not be
		for _, name := range names {
			c := uint64(s.syscalls[name] * float64(ops) * jit(0.002))
			sc.ByName[name] = c
			sc.Total += c
		}
		sc.PerOp = float64(sc.Total) / float64(ops)
		smp.Syscalls = sc
		cs := uint64(s.ctxsw * float64(ops) * jit(0.1))
		smp.ContextSwitches = result.Counted{Available: true, Total: cs, PerOp: float64(cs) / float64(ops)}
	}

	cpuJit := jit(0.03)
	user := uint64(s.userNs * float64(ops) * cpuJit)
	sys := uint64(s.sysNs * float64(ops) * cpuJit)
	poll := uint64(s.pollNs * float64(ops) * cpuJit)
	worker := uint64(s.workerNs * float64(ops) * cpuJit)
	scope := "process"
	if s.scope == "server" {
		scope = "server"
	}
	smp.CPU = result.CPU{UserNs: user, SysNs: sys, PollThreadNs: poll, WorkerNs: worker,
		PerOpNs: float64(user+sys) / float64(ops), Scope: scope}

	if s.workload != "echo-proxy" {
		before := 1.0
		if rep < len(s.residency) {
			before = s.residency[rep]
		}
		after := math.Min(1, before+0.3)
		if before == 1 {
			after = 1
		}
		smp.Residency = &result.Residency{Before: before, After: after, Locked: s.locked}
	}
	if s.memRSS != 0 {
		slab := s.memSlab * jit(0.02)
		smp.Memory = &result.ConnMemory{IdleConns: 10000, RSSPerConnBytes: math.Round(s.memRSS * jit(0.03)),
			SlabPerConnBytes: &slab}
		smp.Memory.RSSDeltaBytes = int64(smp.Memory.RSSPerConnBytes * 10000)
	}
	return smp
}

func joinComma(s []string) string {
	out := ""
	for i, v := range s {
		if i > 0 {
			out += ","
		}
		out += v
	}
	return out
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

var (
	fixtureOnce  sync.Once
	fixtureBytes map[string][]byte
)

// fixtureJSONFor returns a fixture file's JSON, generated once per test binary (generation is slow under
// -race). Callers get a fresh copy.
func fixtureJSONFor(t testing.TB, name string) []byte {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureBytes = map[string][]byte{}
		for n, f := range fixtures() {
			data, err := json.MarshalIndent(f, "", "  ")
			if err != nil {
				panic(err)
			}
			fixtureBytes[n] = append(data, '\n')
		}
	})
	data, ok := fixtureBytes[name]
	if !ok {
		t.Fatalf("no fixture %s", name)
	}
	return append([]byte(nil), data...)
}

// fixtureFile returns a fresh, decoded copy of a fixture.
func fixtureFile(t testing.TB, name string) *result.File {
	t.Helper()
	var f result.File
	if err := json.Unmarshal(fixtureJSONFor(t, name), &f); err != nil {
		t.Fatal(err)
	}
	return &f
}

// fixtureDisplay is the display `run` records (workloads.Display with every backend and workload built in).
var fixtureDisplay = result.Display{
	Backends: []string{"epoll", "uring", "sqpoll", "gostd"},
	Workloads: []result.WorkloadDisplay{
		{Name: "small-file", Op: "read", Rate: "IOPS"},
		{Name: "many-file", Op: "file", Rate: "files/s"},
		{Name: "echo-proxy", Op: "request", Rate: "req/s"},
	},
}

// fixtures are the committed result files in internal/report/testdata, by file name.
func fixtures() map[string]*result.File {
	flags61 := []string{"SQPOLL", "SINGLE_ISSUER", "DEFER_TASKRUN", "COOP_TASKRUN", "TASKRUN_FLAG"}
	flags612 := append(append([]string{}, flags61...), "NO_SQARRAY")
	k61 := fingerprint.Kernel{Release: "6.1.0-28-cloud-amd64", Version: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)",
		Arch: "x86_64", Cmdline: "console=ttyS0 quiet"}
	k612 := fingerprint.Kernel{Release: "6.12.38+deb13-cloud-amd64", Version: "#1 SMP PREEMPT_DYNAMIC Debian 6.12.38-1 (2025-07-16)",
		Arch: "x86_64", Cmdline: "console=ttyS0 quiet"}
	kvm := fingerprint.Virt{Hypervisor: "KVM", Accelerator: "kvm"}
	return map[string]*result.File{
		"kernel-6.1-kvm.json": makeFixture(fixtureOpts{
			seed: 61, started: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC), kernel: k61,
			ioUring: ioUring("absent", 0x1fff, 48, flags61...), virt: kvm, count: 5, uringFactor: 0.92,
			// The page cache lost part of the data set before the third sample.
			residency: []float64{1, 1, 0.62, 1, 1},
		}),
		"kernel-6.12-kvm.json": makeFixture(fixtureOpts{
			seed: 612, started: time.Date(2026, 11, 20, 11, 0, 0, 0, time.UTC), kernel: k612,
			ioUring: ioUring("0", 0xffff, 57, flags612...), virt: kvm, count: 5,
		}),
		"kernel-6.1-tcg.json": makeFixture(fixtureOpts{
			seed: 6100, started: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC), kernel: k61,
			ioUring: ioUring("absent", 0x1fff, 48, flags61...),
			virt:    fingerprint.Virt{Hypervisor: "QEMU", Accelerator: "tcg", Emulated: true}, count: 2, slowdown: 25,
			noSyscalls: "perf_event_open: ENOENT (no syscall tracepoints in this kernel's initramfs build)",
			workloads:  map[string]bool{"small-file": true, "echo-proxy": true},
			backends:   map[string]bool{"epoll": true, "uring": true},
			warnings:   []result.Warning{{Kind: result.WarnEmulated, Text: "running under qemu TCG: use these results for features, not performance"}},
			skipped:    []result.Skip{{Backend: "sqpoll", Reason: "not run under emulation (--backend epoll,uring)"}},
		}),
	}
}
