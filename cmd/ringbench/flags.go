package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	backend "github.com/ringbench/ringbench/backends"
	"github.com/ringbench/ringbench/internal/export"
	"github.com/ringbench/ringbench/internal/interval"
	"github.com/ringbench/ringbench/internal/loadgen"
	"github.com/ringbench/ringbench/internal/netutil"
	"github.com/ringbench/ringbench/internal/runner"
	"github.com/ringbench/ringbench/internal/units"
)

// msgSizeRange is --msg-size's range, as the usage text of run and load says it.
var msgSizeRange = fmt.Sprintf("%d B to %s", loadgen.MinMsgSize, units.FormatSize(loadgen.MaxMsgSize))

// sizeFlag parses the size flag name ("4k", "256M"). Zero is refused as a typed value, since a zero in a
// workload or generator config means "the default"; the upper limit is the owner's to check (the
// workload's Validate, loadgen.Config.Validate), naming the flag as well.
func sizeFlag(c *cli.Context, name, example string) (int64, error) {
	v, err := units.ParseSize(c.String(name))
	if err != nil || v < 1 {
		return 0, usageError("--%s %q: want a positive size such as %s", name, c.String(name), example)
	}
	return v, nil
}

// countFlag parses the count flag name ("16", "10k", "1M"; units.ParseCount), at most max. Unset, it is
// the flag's default ("" is 0).
func countFlag(c *cli.Context, name string, max int64) (int, error) {
	n, err := parsedFlag(c, name, units.ParseCount)
	if err != nil {
		return 0, err
	}
	if n > max {
		return 0, usageError("--%s %s: at most %d", name, c.String(name), max)
	}
	return int(n), nil
}

// rateFlag parses the rate flag name ("5000", "10k", "1.5M"; units.ParseRate). Unset or "", it is 0.
func rateFlag(c *cli.Context, name string) (float64, error) {
	return parsedFlag(c, name, units.ParseRate)
}

// parsedFlag is the string flag name read by parse; "" is 0.
func parsedFlag[T int64 | float64](c *cli.Context, name string, parse func(string) (T, error)) (T, error) {
	v := c.String(name)
	if v == "" {
		return 0, nil
	}
	n, err := parse(v)
	if err != nil {
		return 0, usageError("--%s %s: %s", name, v, unquoted(err, v))
	}
	return n, nil
}

// unquoted is err's message without the quoted value that units' parsers put first, for messages that
// name the flag and value themselves.
func unquoted(err error, v string) string {
	return strings.TrimPrefix(err.Error(), strconv.Quote(v)+": ")
}

// splitList splits a comma-separated flag value, refusing an empty list and "all" among names.
func splitList(v, flag string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, usageError("%s: empty list", flag)
	}
	for _, s := range out {
		if s == "all" && len(out) > 1 {
			return nil, usageError("%s: \"all\" cannot be combined with names", flag)
		}
	}
	return out, nil
}

// checkDir says, in one line, why dir cannot hold a data set.
func checkDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s: no such directory", dir)
	case err != nil:
		return fmt.Errorf("%s: %v", dir, errors.Unwrap(err))
	case !st.IsDir():
		return fmt.Errorf("%s: not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".ringbench-probe-*")
	if err != nil {
		return fmt.Errorf("%s: not writable: %v", dir, errors.Unwrap(err))
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

// The validators below are the one check of each flag that several commands share (run, serve, load):
// each returns a usage error (exit 2) naming the flag.

// minSampleDuration is the shortest --duration accepted: shorter windows complete no operation and would
// only fail later, as a measurement failure.
const minSampleDuration = 10 * time.Millisecond

// checkSamples checks --count, --duration and --warmup: runner.CheckSamples' limits, and a window long
// enough to measure anything.
func checkSamples(count int, dur, warm time.Duration) error {
	if err := runner.CheckSamples(count, dur, warm); err != nil {
		return usageError("%v", err)
	}
	if dur < minSampleDuration {
		return usageError("--duration %v: at least %v", dur, minSampleDuration)
	}
	return nil
}

// defaultInterval is --interval's default step; a sample shorter than it is not split (see intervalFlag).
const defaultInterval = 100 * time.Millisecond

// intervalFlag is --interval of run and load: 0 (off) or a step from interval.Min to the sample's length.
// Left at its default, it is off for samples shorter than the default, rather than refuse a short
// --duration the user typed for its own sake.
func intervalFlag(c *cli.Context, dur time.Duration) (time.Duration, error) {
	every := c.Duration("interval")
	if !c.IsSet("interval") && every > dur {
		return 0, nil
	}
	return every, checkInterval(every, dur)
}

// checkInterval checks --interval against the sample length --duration.
func checkInterval(every, dur time.Duration) error {
	switch {
	case every == 0:
		return nil
	case every < interval.Min:
		return usageError("--interval %v: at least %v, or 0 for none", every, interval.Min)
	case every > dur:
		return usageError("--interval %v: longer than a sample (--duration %v)", every, dur)
	}
	return nil
}

// checkCPUFlag checks a CPU number flag (--cpu, --sq-cpu): -1 (not pinned) or a CPU this process may run
// on. The kernel would refuse the others later, in ways that read as "not supported" or as a failure.
func checkCPUFlag(flag string, cpu int) error {
	if cpu == -1 {
		return nil
	}
	if cpu < -1 {
		return usageError("--%s %d: a CPU number, or -1", flag, cpu)
	}
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err == nil && (cpu >= 8*int(unsafe.Sizeof(set)) || !set.IsSet(cpu)) {
		return usageError("--%s %d: not a CPU this process may use (%d allowed; see taskset)", flag, cpu, set.Count())
	}
	return nil
}

// checkNonNegative checks a duration flag that may be zero but not negative.
func checkNonNegative(flag string, d time.Duration) error {
	if d < 0 {
		return usageError("--%s %v: must not be negative", flag, d)
	}
	return nil
}

// checkMultishot checks --multishot against the backend: only the io_uring backends have it.
func checkMultishot(on bool, backendName string) error {
	if on && backendName != "uring" && backendName != "sqpoll" {
		return usageError("--multishot: only the uring and sqpoll backends have it, not %s", backendName)
	}
	return nil
}

// checkDialAddr checks an address to connect to (--target, --control of load): numeric host and port.
func checkDialAddr(flag, addr string) error {
	if _, _, err := netutil.ResolveSockaddr(addr, false); err != nil {
		return usageError("--%s: %v", flag, err)
	}
	return nil
}

// listenAddr checks an address to listen on and returns it with the host filled in: "" and a missing
// host (":0") mean loopback, never every interface.
func listenAddr(flag, addr string) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	sa, _, err := netutil.ResolveSockaddr(addr, true)
	if err != nil {
		return "", usageError("--%s: %v", flag, err)
	}
	return netutil.SockaddrString(sa), nil
}

// checkSQFlags checks the SQPOLL tuning flags run and serve share: --sq-cpu, --sq-idle, --cq-spin.
func checkSQFlags(o backend.Options) error {
	// --sq-cpu is checked by applyCPUFlags (cpus.go), against this process's cpuset as the kernel checks
	// it, not against the affinity mask: the poll thread may run outside --cpus or taskset's mask.
	if err := checkNonNegative("sq-idle", o.SQIdle); err != nil {
		return err
	}
	return checkNonNegative("cq-spin", o.CQSpin)
}

// checkResultFormat checks --format of run, load and show (what they print of a result).
func checkResultFormat(format string) error {
	if err := export.Check(format); err != nil {
		return usageError("--format %v", err)
	}
	return nil
}
