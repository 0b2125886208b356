// Package probe answers, for this machine, kernel and user, what ringbench can measure: whether io_uring
// works (and in plain words why not), which features, opcodes and setup flags the kernel accepts, whether
// multishot networking and provided-buffer rings work, whether the kernel's syscall counters work, what a null
// syscall costs, and one verdict per registered backend. What io_uring allows comes from the capability
// probes in internal/ring/caps, through the fingerprint.
//
// Run never fails and never blocks on I/O: everything it cannot find out is reported as such. io_uring being
// unavailable is a finding, not an error.
package probe

import (
	"fmt"
	"sort"
	"time"

	"golang.org/x/sys/unix"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/fingerprint"
	"github.com/ringbench/ringbench/internal/perfcount"
	"github.com/ringbench/ringbench/internal/ring"
)

// SchemaVersion is bumped when a JSON field changes meaning or is removed (added fields do not bump it).
const SchemaVersion = 1

// Schema names the layout of the JSON, as result.Schema does for result files.
const Schema = "ringbench/probe"

// Options configures Run.
type Options struct {
	Version, Commit string
	// SkipTiming leaves out the null-syscall measurement (about 50 ms).
	SkipTiming bool
	// SkipPerf leaves out the syscall-counting check (about 0.5 s).
	SkipPerf bool
	// Backends are the backends a verdict is given for, in display order; nil means every registered one
	// (backend.All()).
	Backends []backend.Backend
}

// Report is everything `ringbench probe` found out. Field names in JSON are stable.
type Report struct {
	// Schema and Version head the JSON as they head result files ("ringbench/result", 2).
	Schema  string `json:"schema"`
	Version int    `json:"version"`
	// SchemaVersion is Version under its former name, kept for readers of older probe JSON.
	SchemaVersion int              `json:"schema_version"`
	TimeUTC       time.Time        `json:"time_utc"`
	Tool          fingerprint.Tool `json:"tool"`
	Kernel        Kernel           `json:"kernel"`
	CPU           CPU              `json:"cpu"`
	Virt          fingerprint.Virt `json:"virt"`
	Mitigations   Mitigations      `json:"mitigations"`
	IOUring       IOUring          `json:"io_uring"`
	Counting      Counting         `json:"syscall_counting"`
	// NullSyscallNs is the median cost of one getppid(2) made the way Go backends make syscalls
	// (unix.Syscall); 0 when not measured.
	NullSyscallNs  float64 `json:"null_syscall_ns,omitempty"`
	NullSyscallHow string  `json:"null_syscall_method,omitempty"`
	// TracepointCost is what syscall counting adds to each syscall here; nil when not measured.
	TracepointCost *TracepointCost `json:"tracepoint_cost,omitempty"`
	Backends       []Verdict       `json:"backends"`
	// Fingerprint is the full environment record that results store.
	Fingerprint fingerprint.Fingerprint `json:"fingerprint"`
}

// Kernel identifies the running kernel.
type Kernel struct {
	Release string `json:"release"`
	Version string `json:"version,omitempty"`
	Arch    string `json:"arch"`
}

// CPU is the processor summary.
type CPU struct {
	Model         string `json:"model,omitempty"`
	Logical       int    `json:"logical"`
	Physical      int    `json:"physical,omitempty"`
	Affinity      string `json:"affinity,omitempty"`
	AffinityCount int    `json:"affinity_count"`
	Governor      string `json:"governor,omitempty"`
}

// Mitigations condenses /sys/devices/system/cpu/vulnerabilities.
type Mitigations struct {
	Summary    string   `json:"summary,omitempty"`
	Vulnerable []string `json:"vulnerable,omitempty"`
}

// IOUring is what the kernel allows of io_uring to this process.
type IOUring struct {
	// Disabled is kernel.io_uring_disabled: "absent" (no such sysctl: kernels before 6.6, not a
	// restriction), "0" (allowed), "1" (only CAP_SYS_ADMIN and io_uring_group), "2" (off), "" (unreadable).
	Disabled     string                   `json:"io_uring_disabled"`
	Group        string                   `json:"io_uring_group,omitempty"`
	SeccompMode  int                      `json:"seccomp_mode"` // 0 none, 1 strict, 2 filter, -1 unknown
	SetupOK      bool                     `json:"setup_ok"`
	SetupErrno   string                   `json:"setup_errno,omitempty"`
	SetupError   string                   `json:"setup_error,omitempty"`
	Features     uint32                   `json:"features"`
	FeatureNames []string                 `json:"feature_names,omitempty"`
	LastOpcode   int                      `json:"last_opcode"`
	Opcodes      []string                 `json:"opcodes,omitempty"`
	SetupFlags   []fingerprint.FlagResult `json:"setup_flags"`
	BufRing      Support                  `json:"buf_ring"`
	// MultishotAccept and MultishotRecv are tried on loopback TCP.
	MultishotAccept Support `json:"multishot_accept"`
	MultishotRecv   Support `json:"multishot_recv"`
}

// Support is whether one io_uring capability works, and how that was decided.
type Support struct {
	Supported bool `json:"supported"`
	// How: "tried" (it was exercised here), "kernel version" (decided from the release and the opcode
	// probe because trying was impossible) or "not tried".
	How    string `json:"how"`
	Detail string `json:"detail,omitempty"`
}

// Counting is whether the kernel's syscall counters (perf tracepoints) work for this user.
type Counting struct {
	Available       bool     `json:"available"`
	Error           string   `json:"error,omitempty"`
	Root            bool     `json:"root"`
	Paranoid        int      `json:"perf_event_paranoid"`
	TracefsReadable bool     `json:"tracefs_readable"`
	TracefsReason   string   `json:"tracefs_reason,omitempty"`
	FalseZero       []string `json:"false_zero_events,omitempty"` // events that would read 0 with no error
	Events          []Event  `json:"events,omitempty"`
	Checked         bool     `json:"checked"`
	// RingEvents says whether io_uring's own tracepoints (perfcount.RingTracepoints: submissions, io-wq
	// punts, task work, poll arms, CQ overflows) can be counted here; RingEventsReason says why not.
	RingEvents       bool   `json:"ring_events"`
	RingEventsReason string `json:"ring_events_reason,omitempty"`
}

// TracepointCost is getppid's cost with no syscall counter open, with one open but disabled, and counting
// (perfcount.MeasureCost). Run's timed samples open no counter at all because the disabled state still
// costs: a registered tracepoint sends every syscall on the machine through the kernel's slow path.
type TracepointCost struct {
	UncountedNs float64 `json:"uncounted_ns,omitempty"`
	DisabledNs  float64 `json:"disabled_ns,omitempty"`
	CountedNs   float64 `json:"counted_ns,omitempty"`
	// PerSyscallNs is counted minus uncounted: what counting adds to each syscall.
	PerSyscallNs float64 `json:"per_syscall_ns,omitempty"`
	// DisabledExtraNs is disabled minus uncounted.
	DisabledExtraNs float64 `json:"disabled_extra_ns,omitempty"`
	Method          string  `json:"method,omitempty"`
	Error           string  `json:"error,omitempty"`
}

// Event is one counter's status.
type Event struct {
	Name          string `json:"name"`
	OK            bool   `json:"ok"`
	FalseZeroRisk bool   `json:"false_zero_risk,omitempty"`
	Reason        string `json:"reason,omitempty"`
}

// Verdict says whether one backend can run here.
type Verdict struct {
	Backend  string   `json:"backend"`
	Runnable bool     `json:"runnable"`
	Reason   string   `json:"reason"`
	Warnings []string `json:"warnings,omitempty"`
}

// Run probes this machine. It never returns nil.
func Run(opts Options) *Report {
	fp, iou := fingerprint.CollectWithIOUring(fingerprint.Options{Version: opts.Version, Commit: opts.Commit,
		SkipSyscallCost: opts.SkipTiming})
	rep := &Report{
		Schema:        Schema,
		Version:       SchemaVersion,
		SchemaVersion: SchemaVersion,
		TimeUTC:       fp.TimeUTC,
		Tool:          fp.Tool,
		Kernel:        Kernel{Release: fp.Kernel.Release, Version: fp.Kernel.Version, Arch: fp.Kernel.Arch},
		Virt:          fp.Virt,
		Fingerprint:   fp,
	}
	aff := fingerprint.AffinityCPUs()
	rep.CPU = CPU{Model: fp.CPU.Model, Logical: fp.CPU.Logical, Physical: fp.CPU.Physical, Affinity: fp.CPU.Affinity,
		AffinityCount: len(aff), Governor: fp.CPU.Governor}
	rep.Mitigations.Summary = fingerprint.MitigationSummary(fp.Mitigations)
	for k, v := range fp.Mitigations {
		if len(v) >= len("Vulnerable") && v[:len("Vulnerable")] == "Vulnerable" {
			rep.Mitigations.Vulnerable = append(rep.Mitigations.Vulnerable, k)
		}
	}
	sort.Strings(rep.Mitigations.Vulnerable)

	iu := &rep.IOUring
	iu.Disabled, iu.Group, iu.SeccompMode = fp.IOUring.Disabled, fp.IOUring.Group, iou.SeccompMode
	iu.SetupOK, iu.SetupErrno, iu.SetupError = fp.IOUring.SetupOK, fp.IOUring.SetupErrno, fp.IOUring.SetupError
	iu.Features, iu.FeatureNames = fp.IOUring.Features, fp.IOUring.FeatureSet
	iu.LastOpcode, iu.Opcodes = fp.IOUring.LastOpcode, fp.IOUring.Opcodes
	iu.SetupFlags = iou.Flags
	iu.BufRing, iu.MultishotAccept, iu.MultishotRecv = tryNetworking(iou, fp.Kernel.Release)

	if !opts.SkipPerf {
		rep.Counting = counting(perfcount.Check())
	}
	if !opts.SkipTiming {
		// The same figure results store (fingerprint.SyscallNs), measured once.
		rep.NullSyscallNs = fp.SyscallNs
		rep.NullSyscallHow = fingerprint.SyscallMethod
	}
	if !opts.SkipTiming && !opts.SkipPerf && rep.Counting.Available {
		rep.TracepointCost = tracepointCost()
	}
	registered := opts.Backends
	if registered == nil {
		registered = backend.All()
	}
	rep.Backends = verdicts(rep, iou, registered)
	return rep
}

func counting(c perfcount.Report) Counting {
	out := Counting{Checked: true, Available: c.Usable, Error: c.Error, Root: c.Root, Paranoid: c.Paranoid,
		TracefsReadable: c.TracefsReadable, TracefsReason: c.TracefsReason}
	for _, e := range c.Events {
		out.Events = append(out.Events, Event{Name: e.Name, OK: e.OK, FalseZeroRisk: e.FalseZeroRisk, Reason: e.Reason})
		if e.FalseZeroRisk {
			out.FalseZero = append(out.FalseZero, e.Name)
		}
	}
	out.RingEvents, out.RingEventsReason = ringEvents(c)
	return out
}

// ringEvents says whether every one of io_uring's tracepoints that run counts would count, and if not why.
func ringEvents(c perfcount.Report) (bool, string) {
	if !c.Usable {
		return false, "perf counting unavailable: " + c.Error
	}
	for _, tp := range perfcount.RingTracepoints {
		found := false
		for _, e := range c.Events {
			if e.Name != tp {
				continue
			}
			found = true
			if !e.OK {
				return false, tp + ": " + e.Reason
			}
		}
		if !found {
			return false, tp + ": not probed"
		}
	}
	return true, ""
}

// tracepointCost measures what counting costs each syscall (about 0.6 s, most of it closing the counter).
func tracepointCost() *TracepointCost {
	const loops, calls = 7, 20000
	c, err := perfcount.MeasureCost(loops, calls)
	if err != nil {
		return &TracepointCost{Error: err.Error()}
	}
	return &TracepointCost{UncountedNs: c.UncountedNs, DisabledNs: c.DisabledNs, CountedNs: c.CountedNs,
		PerSyscallNs: c.PerSyscallNs(), DisabledExtraNs: c.DisabledExtraNs(),
		Method: fmt.Sprintf("getppid via unix.Syscall, medians of %d loops of %d per state; disabled and counting alternate", loops, calls)}
}

// opcodeSupported reports whether op is in the probe; false when the probe is missing.
func opcodeSupported(sup []bool, op uint8) bool {
	return int(op) < len(sup) && sup[op]
}

// requiredOpcodes are what the uring backends use, with the workloads that need each and the kernel that
// added it.
var requiredOpcodes = []struct {
	op    uint8
	name  string
	needs string
}{
	{ring.OpRead, "READ", "file reads (5.6+)"},
	{ring.OpOpenat, "OPENAT", "the open-read-close workload (5.6+)"},
	{ring.OpClose, "CLOSE", "the open-read-close workload (5.6+)"},
	{ring.OpAccept, "ACCEPT", "the network server (5.5+)"},
	{ring.OpRecv, "RECV", "the network server (5.6+)"},
	{ring.OpSend, "SEND", "the network server (5.6+)"},
}

// verdicts gives one verdict per registered backend, in its order. The backends this package knows get a
// reason from the report; any other gets its Summary. Either way a backend whose own Available check fails
// is not runnable, so that the probe agrees with what `ringbench run` will do.
func verdicts(rep *Report, iou fingerprint.IOUringProbe, registered []backend.Backend) []Verdict {
	known := knownVerdicts(rep, iou)
	var out []Verdict
	for _, b := range registered {
		err := b.Available()
		v, ok := known[b.Name()]
		if !ok {
			v = Verdict{Backend: b.Name(), Runnable: true, Reason: b.Summary()}
		}
		if err != nil && v.Runnable {
			v.Runnable = false
			v.Reason = err.Error()
		}
		out = append(out, v)
	}
	return out
}

// knownVerdicts are the verdicts for epoll, uring, sqpoll and gostd, decided from the report.
func knownVerdicts(rep *Report, iou fingerprint.IOUringProbe) map[string]Verdict {
	var out []Verdict

	// epoll: the readiness baseline.
	ep := Verdict{Backend: "epoll", Runnable: true, Reason: "epoll works (file reads are plain pread)"}
	if fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		ep = Verdict{Backend: "epoll", Reason: "epoll_create1 failed: " + err.Error()}
	} else {
		unix.Close(fd)
	}
	out = append(out, ep)

	// uring: needs a ring and the opcodes the workloads use.
	ur := Verdict{Backend: "uring"}
	switch {
	case !rep.IOUring.SetupOK:
		ur.Reason = "io_uring setup fails: " + rep.IOUring.SetupError
	case iou.Supported == nil:
		ur.Reason = "the kernel cannot list its opcodes (IORING_REGISTER_PROBE, 5.6+): too old for ringbench's io_uring backends"
	case !opcodeSupported(iou.Supported, ring.OpRead):
		ur.Reason = "the kernel lacks IORING_OP_READ (5.6+)"
	default:
		ur.Runnable = true
		ur.Reason = "io_uring works" + flagsInUse(iou)
		for _, r := range requiredOpcodes {
			if !opcodeSupported(iou.Supported, r.op) {
				ur.Warnings = append(ur.Warnings, "no "+r.name+" opcode: "+r.needs+" cannot run on io_uring")
			}
		}
		if !rep.IOUring.MultishotRecv.Supported {
			ur.Warnings = append(ur.Warnings, "no multishot recv: the network server falls back to one recv per request")
		}
	}
	out = append(out, ur)

	// sqpoll: a ring with a kernel polling thread.
	sq := Verdict{Backend: "sqpoll"}
	sqFlag := flagResult(iou, "SQPOLL")
	switch {
	case !ur.Runnable:
		sq.Reason = ur.Reason
	case !sqFlag.Accepted:
		sq.Reason = "SQPOLL refused: " + sqFlag.Reason
	default:
		sq.Runnable = true
		sq.Reason = "SQPOLL accepted for this user: the kernel may run a submission-polling thread for it"
		sq.Warnings = append(sq.Warnings, ur.Warnings...)
	}
	if sq.Runnable || sqFlag.Accepted {
		switch n := rep.CPU.AffinityCount; {
		case n == 1:
			sq.Warnings = append(sq.Warnings, "only 1 CPU in this process's affinity mask ("+rep.CPU.Affinity+
				"): the poll thread has no core of its own and competes with the submitter")
		case n == 2:
			sq.Warnings = append(sq.Warnings, "only 2 CPUs in this process's affinity mask ("+rep.CPU.Affinity+
				"): the poll thread and the submitter take one each, so anything else running here (a load "+
				"generator, a server) competes with them")
		}
	}
	out = append(out, sq)

	out = append(out, Verdict{Backend: "gostd", Runnable: true,
		Reason: "Go's os and net packages: nothing needed beyond epoll and pread"})
	if !ep.Runnable {
		out[len(out)-1] = Verdict{Backend: "gostd", Reason: "the Go netpoller needs epoll: " + ep.Reason}
	}
	m := make(map[string]Verdict, len(out))
	for _, v := range out {
		m[v.Backend] = v
	}
	return m
}

func flagResult(iou fingerprint.IOUringProbe, name string) fingerprint.FlagResult {
	for _, f := range iou.Flags {
		if f.Name == name {
			return f
		}
	}
	return fingerprint.FlagResult{Name: name, Reason: "not probed"}
}

// flagsInUse names the best task-running mode the kernel accepts, which the uring backend uses.
func flagsInUse(iou fingerprint.IOUringProbe) string {
	switch {
	case flagResult(iou, "DEFER_TASKRUN").Accepted:
		return " (SINGLE_ISSUER|DEFER_TASKRUN accepted)"
	case flagResult(iou, "COOP_TASKRUN").Accepted:
		return " (COOP_TASKRUN accepted; no DEFER_TASKRUN)"
	}
	return " (plain rings only: no COOP_TASKRUN or DEFER_TASKRUN)"
}
