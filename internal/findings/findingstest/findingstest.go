// Package findingstest makes synthetic result files for the tests of findings and of the report's
// Findings section: each sample says exactly what a claim reads, nothing else.
package findingstest

import (
	"strconv"

	"github.com/ringbench/ringbench/internal/fingerprint"
	"github.com/ringbench/ringbench/internal/result"
)

// Ops is every counted sample's op count: per-op figures are exact in it.
const Ops = 100000

// Params makes a params map of key, value pairs.
func Params(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// Counted is a counted sample with syscalls/op per, broken down by name (per op).
func Counted(backend, workload string, p map[string]string, per float64, byName map[string]float64) result.Sample {
	s := result.Sample{Backend: backend, Workload: workload, Params: p, Kind: result.KindCounted, Seconds: 1, Ops: Ops, EntersPerOp: -1}
	by := map[string]uint64{}
	for k, v := range byName {
		by[k] = uint64(v * Ops)
	}
	s.Syscalls = result.Syscalls{Available: true, Total: uint64(per * Ops), PerOp: per, ByName: by}
	return s
}

// Timed is a timed sample at opsPerSec with cpuNs CPU per op.
func Timed(backend, workload string, p map[string]string, opsPerSec, cpuNs float64) result.Sample {
	return result.Sample{Backend: backend, Workload: workload, Params: p, Kind: result.KindTimed, Seconds: 1,
		Ops: int64(opsPerSec), OpsPerSec: opsPerSec, EntersPerOp: -1, CPU: result.CPU{PerOpNs: cpuNs}}
}

// File is a result file of the samples.
func File(label string, samples ...result.Sample) *result.File {
	return &result.File{Schema: result.Schema, Version: result.Version, Label: label, Samples: samples}
}

// WithEnv sets the null syscall's cost and the vulnerabilities files (MitigationsOn, MitigationsOff).
func WithEnv(f *result.File, syscallNs float64, mitigations map[string]string) *result.File {
	f.Env = fingerprint.Fingerprint{SyscallNs: syscallNs, Mitigations: mitigations}
	return f
}

// MitigationsOn and MitigationsOff are vulnerabilities files of a mitigated and an unmitigated machine.
var (
	MitigationsOn  = map[string]string{"meltdown": "Mitigation: PTI", "mds": "Not affected"}
	MitigationsOff = map[string]string{"meltdown": "Vulnerable", "mds": "Not affected"}
)

// Echo is an epoll echo series at conns in mode ("" = level-triggered, the default) with per syscalls per request, of which ctl
// are epoll_ctl and wait epoll_wait.
func Echo(conns, mode string, per, ctl, wait float64) result.Sample {
	p := Params("conns", conns, "msg-size", "64", "pipeline", "1", "topology", "echo")
	if mode != "" {
		p["epoll-mode"] = mode
	}
	return Counted("epoll", "echo-proxy", p, per, map[string]float64{"read": 1, "sendto": 1, "epoll_ctl": ctl, "epoll_pwait": wait})
}

// CPUAt is a timed small-file sample of backend at batch n with cpu ns per op.
func CPUAt(backend string, n string, cpu float64) result.Sample {
	return Timed(backend, "small-file", Params("batch", n, "depth", "32"), 1e5, cpu)
}

// Enters is a counted sample with io_uring_enter calls per op e.
func Enters(backend, workload string, p map[string]string, e float64) result.Sample {
	s := Counted(backend, workload, p, e, map[string]float64{"io_uring_enter": e})
	s.EntersPerOp = e
	return s
}

// Polling is a timed sqpoll sample whose poll thread was busy cores of a CPU.
func Polling(workload string, p map[string]string, cores float64) result.Sample {
	s := Timed("sqpoll", workload, p, 1e5, 1000)
	s.CPU.PollThreadNs = uint64(cores * 1e9)
	return s
}

// Idle is an echo-proxy sample with perConn bytes of server RSS per idle connection.
func Idle(backend string, multishot bool, perConn float64) result.Sample {
	p := Params("conns", "16", "idle-conns", "1000")
	if multishot {
		p["multishot"] = "true"
	}
	s := Timed(backend, "echo-proxy", p, 1e5, 1000)
	s.Memory = &result.ConnMemory{IdleConns: 1000, RSSPerConnBytes: perConn}
	return s
}

// Cold is a timed cold small-file sample with ctxsw context switches per op.
func Cold(backend string, opsPerSec, ctxsw float64) result.Sample {
	s := Timed(backend, "small-file", Params("cache", "cold", "depth", "32", "batch", "32"), opsPerSec, 1000)
	s.ContextSwitches = result.Counted{Available: true, PerOp: ctxsw, Total: uint64(ctxsw * opsPerSec)}
	s.Residency = &result.Residency{Before: 0, After: 0.4}
	return s
}

// Denied is a run under a seccomp filter refusing io_uring: uring and sqpoll skipped, epoll samples;
// disabled is kernel.io_uring_disabled as the fingerprint records it.
func Denied(disabled string, samples ...result.Sample) *result.File {
	f := File("io_uring denied", samples...)
	f.Env.IOUring = fingerprint.IOUring{Disabled: disabled, SetupOK: false, SetupErrno: "EPERM", SetupError: "refused by a seccomp filter"}
	f.Skipped = []result.Skip{{Backend: "uring", Reason: "not supported here"}, {Backend: "sqpoll", Reason: "not supported here"}}
	return f
}

// Ring is a counted io_uring sample with submitted requests and syscalls per op.
func Ring(backend, batch string, submitted, syscalls float64) result.Sample {
	s := Enters(backend, "small-file", Params("batch", batch, "depth", "32"), syscalls)
	s.RingEvents = &result.RingEvents{Available: true, Submitted: uint64(submitted * Ops)}
	return s
}

// BatchSweep is a batch sweep of small-file at batch 1, 2, 4 and 8: epoll flat at 2 µs per op, uring at
// cpu(n) ns per op with a ±d spread, on a mitigated machine whose null syscall costs 1 µs.
func BatchSweep(cpu func(n float64) float64, d float64) *result.File {
	f := File("batch")
	for _, n := range []float64{1, 2, 4, 8} {
		b := strconv.FormatFloat(n, 'f', -1, 64)
		f.Samples = append(f.Samples, CPUAt("uring", b, cpu(n)-d), CPUAt("uring", b, cpu(n)+d),
			CPUAt("epoll", b, 1990), CPUAt("epoll", b, 2010))
	}
	return WithEnv(f, 1000, MitigationsOn)
}

// All are result files that measure every claim, each one way or another.
func All() []*result.File {
	p1 := Params("batch", "1", "depth", "32")
	return []*result.File{
		WithEnv(File("level", Echo("16", "", 2.07, 0, 0.07), Idle("epoll", false, 100), Idle("uring", false, 4196)), 750, MitigationsOn),
		File("oneshot", Echo("16", "oneshot", 3.1, 1, 0.1)),
		File("multishot", Idle("uring", true, 80)),
		BatchSweep(func(n float64) float64 { return 500 + 2000/n }, 10),
		File("sqpoll", Enters("uring", "small-file", p1, 1), Enters("sqpoll", "small-file", p1, 0.03), Polling("small-file", p1, 0.9),
			Ring("uring", "16", 1, 0.0625)),
		File("cold", Cold("epoll", 15e3, 1.2), Cold("uring", 900e3, 0.01)),
		Denied("0", Timed("epoll", "echo-proxy", Params("conns", "16"), 1e5, 1000)),
	}
}
