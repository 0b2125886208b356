// Package result is ringbench's data model: the versioned result file that `run` writes and `report` and
// `compare` read, the samples inside it, and the catalogue of metrics with their units and which direction
// is better. It knows nothing of statistics or rendering.
package result

import (
	"encoding/json"
	"time"

	"github.com/ringbench/ringbench/internal/fingerprint"
)

// Schema names the file format; Version is bumped on any incompatible change. Readers refuse newer versions
// and read older ones through legacy.go: version 1 had warnings as bare strings and no Display.
const (
	Schema  = "ringbench/result"
	Version = 2
)

// File is one result file: everything one `ringbench run` (or `load`) measured.
type File struct {
	Schema   string    `json:"schema"`
	Version  int       `json:"version"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Label names a set of results (for example "before" or "6.12-kvm"); report and compare group by it.
	Label   string                  `json:"label,omitempty"`
	Command []string                `json:"command,omitempty"`
	Config  Config                  `json:"config"`
	Env     fingerprint.Fingerprint `json:"env"`
	Samples []Sample                `json:"samples"`
	// Skipped lists backend/workload pairs that were asked for but could not run here, with the reason.
	Skipped     []Skip    `json:"skipped,omitempty"`
	Interrupted bool      `json:"interrupted,omitempty"`
	Warnings    []Warning `json:"warnings,omitempty"`
	// Display is how the samples are presented: orders and op units from the registries of the ringbench
	// that wrote the file, so that report and compare of the file need no registry.
	Display Display `json:"display"`
}

// Display is the presentation the writer's registries give a file's series.
type Display struct {
	// Backends are backend names in display order; backends not listed sort after, by name.
	Backends []string `json:"backends,omitempty"`
	// Workloads are the workloads in display order, with what one op of each is.
	Workloads []WorkloadDisplay `json:"workloads,omitempty"`
}

// WorkloadDisplay names a workload's op and the unit of its throughput.
type WorkloadDisplay struct {
	Name string `json:"name"`
	Op   string `json:"op"`   // what one op is: "read", "file", "request"
	Rate string `json:"rate"` // the unit of ops per second: "IOPS", "files/s", "req/s"
}

// Config is the run configuration, as the user gave it after defaults were applied.
type Config struct {
	Backends  []string          `json:"backends"`
	Workloads []string          `json:"workloads"`
	Count     int               `json:"count"`
	Duration  Duration          `json:"duration"`
	Warmup    Duration          `json:"warmup"`
	Options   map[string]string `json:"options,omitempty"` // every other flag, by flag name
	// Sweep are the flags given a list of values (`run --batch 1,4,16`), in the order given: each
	// workload's points are every combination of the values of the axes it reads (SweepAxis.Workloads),
	// and each sample carries its point's values in Params.
	Sweep []SweepAxis `json:"sweep,omitempty"`
}

// SweepAxis is one swept flag of a run (Config.Sweep).
type SweepAxis struct {
	Flag   string   `json:"flag"`   // "batch", "depth", "conns", "msg-size", "jobs", "threads", "gen-threads"
	Param  string   `json:"param"`  // the key in Sample.Params: same as Flag for all seven
	Values []string `json:"values"` // as in Params, in the order given
	// Workloads are the workloads of the run that read the flag (workloads.Workload.UsesFlag): its points
	// are theirs alone. Empty in files written before sweeps were per workload, where every workload took
	// every point.
	Workloads []string `json:"workloads,omitempty"`
	// Same are params that take this axis' value at every point: "gen-threads" on threads with
	// `--gen-threads threads`.
	Same []string `json:"same,omitempty"`
}

// Skip records a backend or workload that was not run, and why.
type Skip struct {
	Backend  string `json:"backend"`
	Workload string `json:"workload,omitempty"`
	Reason   string `json:"reason"`
}

// Sample is one measured interval of one workload on one backend.
type Sample struct {
	Backend  string `json:"backend"`
	Workload string `json:"workload"`
	// Params are the workload parameters that distinguish this series (depth, batch, conns, msg-size ...).
	// They become benchmark keys in Go benchmark text: BenchmarkSmallFile/backend=uring/depth=32.
	Params map[string]string `json:"params,omitempty"`
	Repeat int               `json:"repeat"` // 0-based index of this sample within its series
	// Kind is KindTimed or KindCounted (see kind.go); empty in files written before samples had kinds,
	// whose samples give every figure.
	Kind string `json:"kind,omitempty"`

	Seconds     float64 `json:"seconds"`
	Ops         int64   `json:"ops"`
	Bytes       int64   `json:"bytes"`
	OpsPerSec   float64 `json:"ops_per_sec"`
	BytesPerSec float64 `json:"bytes_per_sec"`

	Latency Latency `json:"latency"`
	// Threads are the per-thread figures of a sample run on several I/O threads (--jobs N > 1), whose
	// totals above are their sum (ops, bytes) and merged histogram (latency); absent for one thread.
	Threads []Thread `json:"threads,omitempty"`
	// Intervals are the sample as a time series, one per --interval; absent when off, in warm-ups and in
	// files written before them (readers of schema version 2 that do not know the field ignore it).
	Intervals []Interval `json:"intervals,omitempty"`

	Syscalls Syscalls `json:"syscalls"`
	// EntersPerOp is the ring's own count of io_uring_enter calls per op (uring and sqpoll only; -1 = n/a).
	EntersPerOp float64 `json:"enters_per_op"`
	// RingEvents are io_uring's own tracepoints counted over the sample (counted samples of io_uring
	// backends only; absent for other backends, in timed samples and in older files).
	RingEvents *RingEvents `json:"ring_events,omitempty"`

	CPU CPU `json:"cpu"`

	ContextSwitches Counted `json:"context_switches"`

	PeakRSSBytes int64 `json:"peak_rss_bytes,omitempty"`

	// Residency is the fraction of the data set in the page cache, checked with mincore (file workloads).
	Residency *Residency `json:"residency,omitempty"`
	// Memory is memory per idle connection (echo-proxy --idle-conns).
	Memory *ConnMemory `json:"memory,omitempty"`
	// ServerWindow is the server's window the server figures cover (load --control); absent otherwise.
	ServerWindow *ServerWindow `json:"server_window,omitempty"`

	Warnings []Warning `json:"warnings,omitempty"`
	// Invalid, when set, says why the sample's figures do not measure what the run asked (Kind
	// WarnLowResidency: a buffered data set fell below 99% page-cache residency, so reads went to disk).
	// Summaries, compare and report leave such samples out and say so (series.Valid). Older files have no
	// such field: their samples are valid.
	Invalid *Warning `json:"invalid,omitempty"`
}

// Latency is the latency distribution of a sample, in nanoseconds.
type Latency struct {
	Count int64   `json:"count"`
	Min   int64   `json:"min_ns"`
	Mean  float64 `json:"mean_ns"`
	P50   int64   `json:"p50_ns"`
	P75   int64   `json:"p75_ns"`
	P90   int64   `json:"p90_ns"`
	P99   int64   `json:"p99_ns"`
	P999  int64   `json:"p99_9_ns"`
	P9999 int64   `json:"p99_99_ns"`
	// P99999 is p99.999; Max is the largest value recorded.
	P99999 int64 `json:"p99_999_ns"`
	Max    int64 `json:"max_ns"`
	// Histogram is the whole HdrHistogram, V2 compressed and base64 encoded ("HISTFAAA..."): merge these,
	// never average percentiles.
	Histogram string `json:"histogram,omitempty"`
	// Corrected is true when latency was timed from each request's scheduled send time (open loop).
	Corrected bool `json:"corrected,omitempty"`
}

// Syscalls is the kernel's count of system calls made during the sample.
type Syscalls struct {
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"` // why not available, in plain words
	// Scope says whose syscalls were counted: "process" (every thread of ringbench), "server" (the server
	// process under test), "backend-threads" ...
	Scope string  `json:"scope,omitempty"`
	Total uint64  `json:"total"`
	PerOp float64 `json:"per_op"`
	// ByName breaks Total down by syscall; "other" is the rest. Names that could not be counted are absent.
	ByName map[string]uint64 `json:"by_name,omitempty"`
	// Backend counts only the backend's own worker threads (the thread(s) doing the I/O).
	Backend *SyscallCount `json:"backend,omitempty"`
}

// MarshalJSON writes total and per_op as null when syscalls were not counted: a 0 there would read as
// "no syscalls". Decoding null leaves them 0, as before; Available says whether they hold figures.
func (s Syscalls) MarshalJSON() ([]byte, error) {
	type plain Syscalls // without this method
	if s.Available {
		return json.Marshal(plain(s))
	}
	// The outer fields, less deep, replace the embedded ones of the same JSON names.
	return json.Marshal(struct {
		plain
		Total *uint64  `json:"total"`
		PerOp *float64 `json:"per_op"`
	}{plain: plain(s)})
}

// RingEvents are counts of io_uring's own tracepoints over a sample, taken like Syscalls (perf tracepoint
// events over the whole measured process, inherited by new threads): they fire in the task that does the
// work, which is the submitting thread, an io-wq worker (iou-wrk-*) or the SQPOLL thread (iou-sqp-*), all
// threads of the process. Per-op figures are these divided by Sample.Ops. When Available is false the
// counts are 0 and Reason says why: they must not be read as zeros.
type RingEvents struct {
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"`
	// Submitted is requests submitted (io_uring:io_uring_submit_req).
	Submitted uint64 `json:"submitted"`
	// AsyncPunts is requests handed to io-wq workers because they could not complete or arm a poll inline
	// (io_uring:io_uring_queue_async_work).
	AsyncPunts uint64 `json:"async_punts"`
	// TaskWork is task-work runs that ran something: io_uring:io_uring_task_work_run plus, for rings set up
	// with DEFER_TASKRUN (whose task work runs as local work when the owner waits),
	// io_uring:io_uring_local_work_run, both filtered to count > 0 (an SQPOLL thread passes the first on
	// every turn of its loop). A run handles a batch of completions or retries, not one request.
	TaskWork uint64 `json:"task_work"`
	// PollArms is requests that found their file not ready and armed a poll to wait for readiness
	// (io_uring:io_uring_poll_arm).
	PollArms uint64 `json:"poll_arms"`
	// CQOverflows is completions that found the CQ ring full (io_uring:io_uring_cqe_overflow).
	CQOverflows uint64 `json:"cq_overflows"`
}

// SyscallCount is a total with its breakdown.
type SyscallCount struct {
	Total  uint64            `json:"total"`
	PerOp  float64           `json:"per_op"`
	ByName map[string]uint64 `json:"by_name,omitempty"`
}

// CPU is CPU time spent during the sample, for the whole measured process including io_uring kernel threads.
type CPU struct {
	UserNs uint64 `json:"user_ns"`
	SysNs  uint64 `json:"sys_ns"`
	// PollThreadNs is the CPU of the SQPOLL kernel thread (iou-sqp-*); included in SysNs and in PerOpNs.
	PollThreadNs uint64 `json:"poll_thread_ns,omitempty"`
	// WorkerNs is the CPU of io_uring async workers (iou-wrk-*); included in SysNs and in PerOpNs.
	WorkerNs uint64  `json:"worker_ns,omitempty"`
	PerOpNs  float64 `json:"per_op_ns"`
	// Scope is "process" or "server".
	Scope string `json:"scope,omitempty"`
}

// Counted is a kernel count that may be unavailable for this user; an unavailable count is never zero.
type Counted struct {
	Available bool    `json:"available"`
	Reason    string  `json:"reason,omitempty"`
	Total     uint64  `json:"total"`
	PerOp     float64 `json:"per_op"`
}

// Residency is page-cache residency of a file data set before and after a sample (fraction 0..1).
type Residency struct {
	Before float64 `json:"before"`
	After  float64 `json:"after"`
	Locked bool    `json:"locked,omitempty"` // data set was mlock'ed
}

// ConnMemory is the server's memory cost of idle connections.
type ConnMemory struct {
	IdleConns       int     `json:"idle_conns"`
	RSSDeltaBytes   int64   `json:"rss_delta_bytes"`
	RSSPerConnBytes float64 `json:"rss_per_conn_bytes"`
	// SlabPerConnBytes is kernel slab growth per connection, when /proc/slabinfo was readable.
	SlabPerConnBytes *float64 `json:"slab_per_conn_bytes,omitempty"`
}

// Duration is a time.Duration that reads and writes as a Go duration string ("5s").
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Interval is one slice of a sample's window (--interval): what completed in it. Offsets are from the
// sample's start; the last interval may be shorter than the others. Ops of a sample's intervals sum to its
// Ops. P99Ns is the top of a log bucket (at most 1/16 above the true value), 0 when Ops is 0.
type Interval struct {
	StartNs  int64 `json:"start_ns"`
	LengthNs int64 `json:"length_ns"`
	Ops      int64 `json:"ops"`
	P99Ns    int64 `json:"p99_ns"`
}

// OpsPerSec is the interval's throughput.
func (iv Interval) OpsPerSec() float64 {
	if iv.LengthNs <= 0 {
		return 0
	}
	return float64(iv.Ops) / (float64(iv.LengthNs) / 1e9)
}
