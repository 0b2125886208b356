// Package workloads defines what a workload is to the `run` command and holds the registry of workloads.
// Each workload lives in a sub-package (smallfile, manyfile, echoproxy), is written once against the
// backend interface, and registers itself from init.
package workloads

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/measure"
	"github.com/ringbench/ringbench/internal/result"
)

// Config holds every workload flag of `run`, after parsing; a workload reads what it needs and validates
// it (Validate, and again in Prepare), naming the flag in any error. Zero values mean "the workload's
// default", so a zero the user typed must be refused before it reaches a Config.
type Config struct {
	Dir     string // --dir: where file data sets live
	Keep    bool   // --keep: leave a data set ringbench created
	Verify  bool   // --verify: check every byte read or echoed
	Seed    uint64
	Options backend.Options

	// small-file and many-file
	Files     int    // --files
	FileSize  int64  // --file-size
	BlockSize int    // --block-size
	Pattern   string // --pattern rand|seq
	Direct    bool   // --direct (O_DIRECT)
	NoAtime   bool   // --noatime (O_NOATIME): small-file
	Mlock     bool   // --mlock: lock the data set in memory
	Jobs      int    // --jobs: I/O threads, each with its own engine (0 = 1)
	SQShare   bool   // --sq-share: with --jobs > 1 on sqpoll, one poll thread for every ring
	// Cache is --cache: "" or "warm" (the default) reads a data set brought into the page cache before
	// each sample; "cold" evicts it before each sample, so that every read goes to the device.
	Cache string

	// echo-proxy
	Topology  string        // --topology echo|proxy
	Conns     int           // --conns
	MsgSize   int           // --msg-size
	Pipeline  int           // --pipeline
	Rate      float64       // --rate (requests/s, open loop); 0 = closed loop
	IdleConns int           // --idle-conns
	Multishot bool          // --multishot
	Timeout   time.Duration // per-request give-up time for network loads

	// echo-proxy threads
	Threads    int // --threads: server event loops (0: 1)
	GenThreads int // --gen-threads: load generator threads (0: 1)

	// Progress, when set, is called now and then with a short status line.
	Progress func(string)
}

// Cache values (--cache).
const (
	CacheWarm = "warm"
	CacheCold = "cold"
)

// fileWorkloads are the workloads that read a data set through the page cache, the ones --cache is for.
var fileWorkloads = map[string]bool{"small-file": true, "many-file": true}

// CheckCache checks --cache against the workloads of a run: warm or cold, and cold only with a file
// workload among them (with several workloads it applies to the file ones; echo-proxy alone has no page
// cache to empty). Each file workload checks the rest in its Validate (--mlock, --dir's file system).
func CheckCache(cfg Config, ws []Workload) error {
	switch cfg.Cache {
	case "", CacheWarm:
		return nil
	case CacheCold:
	default:
		return fmt.Errorf("--cache %q: want warm or cold", cfg.Cache)
	}
	var names []string
	for _, w := range ws {
		if fileWorkloads[w.Name()] {
			return nil
		}
		names = append(names, w.Name())
	}
	return fmt.Errorf("--cache cold: %s reads no files (only small-file and many-file read through the page cache)", strings.Join(names, ", "))
}

// SampleSpec says what one sample is.
type SampleSpec struct {
	Backend  backend.Backend
	Duration time.Duration
	// Interval, when positive, records the sample as a time series (result.Sample.Intervals): ops and p99
	// per Interval. Warm-ups ignore it.
	Interval time.Duration
	Repeat   int
	// Warmup samples run the same way but are not recorded.
	Warmup bool
	// Meter brackets a measured sample with the kernel's counters; warm-ups do not use it. A measured
	// sample without one fails.
	Meter *measure.Meter
	// Config, when set, is the config of this sample's point of a sweep: Prepare's config with only the
	// settings a sample reads on its own changed (depth, batch, jobs, conns, msg-size, threads), so that
	// one Prepare (one data set, one load generator) serves every point. Prepare must have been given the
	// point with the largest of each (the runner's choice), which covers what it sizes (descriptors).
	// Nil: Prepare's config.
	Config *Config
}

// ErrNoMeter is returned by a measured sample whose spec has no Meter.
var ErrNoMeter = errors.New("workloads: a measured sample needs a Meter")

// Workload is one kind of load.
type Workload interface {
	Name() string
	Summary() string
	// Validate checks the flags the workload uses, filling its defaults first, without touching the disk
	// or starting anything, so that a bad value is refused before anything is measured or created. Every
	// limit on a flag of the workload lives here; errors name the flag ("--block-size 1000: ...").
	Validate(cfg Config) error
	// Prepare validates the config and makes the data set (or servers) shared by every backend's samples.
	Prepare(ctx context.Context, cfg Config) (Prepared, error)
	// UsesFlag reports whether the workload's samples read `run`'s flag --flag, asked of the flags that
	// take a list (--batch, --depth, --jobs, --conns, --msg-size, --threads, --gen-threads): a sweep gives
	// each workload the points of the flags it reads, not copies of one series that differ in a flag it
	// ignores.
	UsesFlag(flag string) bool
}

// Prepared is a workload ready to be sampled on any backend, in any order.
type Prepared interface {
	// Sample runs one measured interval on spec.Backend and returns it with every metric filled in.
	Sample(ctx context.Context, spec SampleSpec) (result.Sample, error)
	// Close removes what Prepare created (unless --keep) and releases everything.
	Close() error
}

// registry holds the workloads, in this display order.
var registry = backend.NewRegistry[Workload]("workload", "small-file", "many-file", "echo-proxy")

// opUnits say what one op of each workload is, and the unit of its throughput.
var opUnits = map[string]result.WorkloadDisplay{
	"small-file": {Op: "read", Rate: "IOPS"},
	"many-file":  {Op: "file", Rate: "files/s"},
	"echo-proxy": {Op: "request", Rate: "req/s"},
}

// Display is the presentation result files record, from the registries: backends and workloads in display
// order, and what one op of each workload is ("op" and "ops/s" for a workload that does not say).
func Display() result.Display {
	d := result.Display{Backends: backend.Names()}
	for _, w := range All() {
		u, ok := opUnits[w.Name()]
		if !ok {
			u = result.WorkloadDisplay{Op: "op", Rate: "ops/s"}
		}
		u.Name = w.Name()
		d.Workloads = append(d.Workloads, u)
	}
	return d
}

// Register adds a workload; workloads call it from init.
func Register(w Workload) { registry.Register(w) }

// All returns registered workloads in display order.
func All() []Workload { return registry.All() }

// Lookup finds a workload by name; the error lists the known names.
func Lookup(name string) (Workload, error) { return registry.Lookup(name) }
