package findings

import (
	"github.com/ringbench/ringbench/internal/fingerprint"
	"github.com/ringbench/ringbench/internal/result"
)

// Synthetic result files: each sample says exactly what a claim reads, nothing else.

const ops = 100000 // ops per sample: per-op figures are exact in it

func params(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// counted is a counted sample with syscalls/op per, broken down by name (per op).
func counted(backend, workload string, p map[string]string, per float64, byName map[string]float64) result.Sample {
	s := result.Sample{Backend: backend, Workload: workload, Params: p, Kind: result.KindCounted, Seconds: 1, Ops: ops, EntersPerOp: -1}
	by := map[string]uint64{}
	for k, v := range byName {
		by[k] = uint64(v * ops)
	}
	s.Syscalls = result.Syscalls{Available: true, Total: uint64(per * ops), PerOp: per, ByName: by}
	return s
}

// timed is a timed sample at opsPerSec with cpuNs CPU per op.
func timed(backend, workload string, p map[string]string, opsPerSec, cpuNs float64) result.Sample {
	return result.Sample{Backend: backend, Workload: workload, Params: p, Kind: result.KindTimed, Seconds: 1,
		Ops: int64(opsPerSec), OpsPerSec: opsPerSec, EntersPerOp: -1, CPU: result.CPU{PerOpNs: cpuNs}}
}

func file(label string, samples ...result.Sample) *result.File {
	return &result.File{Schema: result.Schema, Version: result.Version, Label: label, Samples: samples}
}

// withEnv sets the null syscall's cost and the mitigations: on names mitigated files, off unmitigated.
func withEnv(f *result.File, syscallNs float64, mitigations map[string]string) *result.File {
	f.Env = fingerprint.Fingerprint{SyscallNs: syscallNs, Mitigations: mitigations}
	return f
}

var (
	mitigationsOn  = map[string]string{"meltdown": "Mitigation: PTI", "mds": "Not affected"}
	mitigationsOff = map[string]string{"meltdown": "Vulnerable", "mds": "Not affected"}
)

// echo is an epoll echo series at conns in mode ("" = edge) with per syscalls per request, of which ctl
// are epoll_ctl and wait epoll_wait.
func echo(conns, mode string, per, ctl, wait float64) result.Sample {
	p := params("conns", conns, "msg-size", "64", "pipeline", "1", "topology", "echo")
	if mode != "" {
		p["epoll-mode"] = mode
	}
	return counted("epoll", "echo-proxy", p, per, map[string]float64{"read": 1, "sendto": 1, "epoll_ctl": ctl, "epoll_pwait": wait})
}

// cpuAt is a timed small-file sample of backend at batch n with cpu ns per op.
func cpuAt(backend string, n string, cpu float64) result.Sample {
	return timed(backend, "small-file", params("batch", n, "depth", "32"), 1e5, cpu)
}

// enters is a counted sample with io_uring_enter calls per op e.
func enters(backend, workload string, p map[string]string, e float64) result.Sample {
	s := counted(backend, workload, p, e, map[string]float64{"io_uring_enter": e})
	s.EntersPerOp = e
	return s
}

// polling is a timed sqpoll sample whose poll thread was busy cores of a CPU.
func polling(workload string, p map[string]string, cores float64) result.Sample {
	s := timed("sqpoll", workload, p, 1e5, 1000)
	s.CPU.PollThreadNs = uint64(cores * 1e9)
	return s
}

// idle is an echo-proxy sample with perConn bytes of server RSS per idle connection.
func idle(backend string, multishot bool, perConn float64) result.Sample {
	p := params("conns", "16", "idle-conns", "1000")
	if multishot {
		p["multishot"] = "true"
	}
	s := timed(backend, "echo-proxy", p, 1e5, 1000)
	s.Memory = &result.ConnMemory{IdleConns: 1000, RSSPerConnBytes: perConn}
	return s
}

// cold is a timed cold small-file sample with ctxsw context switches per op.
func cold(backend string, opsPerSec, ctxsw float64) result.Sample {
	s := timed(backend, "small-file", params("cache", "cold", "depth", "32", "batch", "32"), opsPerSec, 1000)
	s.ContextSwitches = result.Counted{Available: true, PerOp: ctxsw, Total: uint64(ctxsw * opsPerSec)}
	s.Residency = &result.Residency{Before: 0, After: 0.4}
	return s
}

// denied is a run under a seccomp filter refusing io_uring: uring and sqpoll skipped, epoll samples;
// disabled is kernel.io_uring_disabled as the fingerprint records it.
func denied(disabled string, samples ...result.Sample) *result.File {
	f := file("io_uring denied", samples...)
	f.Env.IOUring = fingerprint.IOUring{Disabled: disabled, SetupOK: false, SetupErrno: "EPERM", SetupError: "refused by a seccomp filter"}
	f.Skipped = []result.Skip{{Backend: "uring", Reason: "not supported here"}, {Backend: "sqpoll", Reason: "not supported here"}}
	return f
}

// ring is a counted io_uring sample with submitted requests and syscalls per op.
func ring(backend, batch string, submitted, syscalls float64) result.Sample {
	s := enters(backend, "small-file", params("batch", batch, "depth", "32"), syscalls)
	s.RingEvents = &result.RingEvents{Available: true, Submitted: uint64(submitted * ops)}
	return s
}
