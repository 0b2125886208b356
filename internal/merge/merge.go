// Package merge combines the result files that several load processes (ringbench load --loaders K,
// on K hosts) wrote for the same server windows into one result: their requests and bytes summed,
// their latency histograms merged (HdrHistogram; percentiles are never averaged), the server's figures
// taken once.
package merge

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/ringbench/ringbench/internal/result"
)

// ErrMismatch marks input files that do not belong together (or could not be merged).
var ErrMismatch = errors.New("cannot merge")

// Input is one loader's result file and the name that messages give it (its path).
type Input struct {
	Name string
	File *result.File
}

// Files merges in, sample by sample: the i-th samples of all inputs must be of the same series and
// measured in the same server window (the same window ID, counted for len(in) loaders), and their ops
// must sum to the requests the server's window counted. Any error names the file (or files) at fault.
func Files(in []Input) (*result.File, error) {
	if len(in) < 2 {
		return nil, fmt.Errorf("want at least two result files, got %d: %w", len(in), ErrMismatch)
	}
	first := in[0]
	for _, x := range in[1:] {
		if len(x.File.Samples) != len(first.File.Samples) {
			return nil, fmt.Errorf("%s has %d samples, %s %d: %w", x.Name, len(x.File.Samples), first.Name,
				len(first.File.Samples), ErrMismatch)
		}
	}
	if len(first.File.Samples) == 0 {
		return nil, fmt.Errorf("%s: no samples: %w", first.Name, ErrMismatch)
	}
	out := *first.File
	out.Samples = make([]result.Sample, len(first.File.Samples))
	out.Command = nil
	out.Warnings = slices.Clone(first.File.Warnings)
	names := make([]string, len(in))
	for i, x := range in {
		names[i] = x.Name
		if x.File.Started.Before(out.Started) {
			out.Started = x.File.Started
		}
		if x.File.Finished.After(out.Finished) {
			out.Finished = x.File.Finished
		}
		out.Interrupted = out.Interrupted || x.File.Interrupted
		out.Warnings = result.AddWarnings(out.Warnings, x.File.Warnings...)
	}
	out.Warnings = result.AddWarnings(out.Warnings, result.Warn(result.WarnOther,
		"merged from %d load processes' files (%s); the environment recorded is the first's", len(in), strings.Join(names, ", ")))
	for i := range first.File.Samples {
		sm, err := samples(in, i)
		if err != nil {
			return nil, err
		}
		out.Samples[i] = sm
	}
	return &out, nil
}

// samples merges the i-th sample of every input.
func samples(in []Input, i int) (result.Sample, error) {
	a := in[0].File.Samples[i]
	where := func(x Input) string { return fmt.Sprintf("%s: sample %d", x.Name, i+1) }
	for _, x := range in {
		s := x.File.Samples[i]
		if s.ServerWindow == nil || s.ServerWindow.ID == "" {
			return result.Sample{}, fmt.Errorf("%s has no server window (load without --control): %w", where(x), ErrMismatch)
		}
	}
	win := *a.ServerWindow
	var ops, bytes int64
	var opsPerSec, bytesPerSec, seconds float64
	h := result.NewHistogram()
	sm := a
	sm.Threads, sm.Intervals, sm.Warnings = nil, nil, nil
	for _, x := range in {
		s := x.File.Samples[i]
		switch {
		case s.Backend != a.Backend || s.Workload != a.Workload || s.Repeat != a.Repeat || s.Kind != a.Kind:
			return result.Sample{}, fmt.Errorf("%s is %s/%s repeat %d, %s's is %s/%s repeat %d: %w", where(x), s.Backend,
				s.Workload, s.Repeat, in[0].Name, a.Backend, a.Workload, a.Repeat, ErrMismatch)
		case !maps.Equal(s.Params, a.Params):
			return result.Sample{}, fmt.Errorf("%s has parameters %v, %s's %v: %w", where(x), s.Params, in[0].Name, a.Params, ErrMismatch)
		case s.ServerWindow.ID != win.ID:
			return result.Sample{}, fmt.Errorf("%s was measured in server window %s, %s's in %s: not the same window: %w",
				where(x), s.ServerWindow.ID, in[0].Name, win.ID, ErrMismatch)
		case *s.ServerWindow != win:
			return result.Sample{}, fmt.Errorf("%s: server window %s differs from %s's (%+v, %+v): %w", where(x), win.ID,
				in[0].Name, *s.ServerWindow, win, ErrMismatch)
		case s.Latency.Corrected != a.Latency.Corrected:
			return result.Sample{}, fmt.Errorf("%s: open and closed loop latency cannot be merged: %w", where(x), ErrMismatch)
		case s.Syscalls.Total != a.Syscalls.Total || s.CPU != a.CPU || s.ContextSwitches.Total != a.ContextSwitches.Total:
			return result.Sample{}, fmt.Errorf("%s: the server's figures differ from %s's in the same window: %w", where(x), in[0].Name, ErrMismatch)
		}
		if s.Latency.Count > 0 {
			hx, err := result.DecodeHistogram(s.Latency.Histogram)
			if err != nil {
				return result.Sample{}, fmt.Errorf("%s: latency: %w", where(x), err)
			}
			if dropped := h.Merge(hx); dropped != 0 {
				return result.Sample{}, fmt.Errorf("%s: %d latencies out of range: %w", where(x), dropped, ErrMismatch)
			}
		}
		ops += s.Ops
		bytes += s.Bytes
		opsPerSec += s.OpsPerSec
		bytesPerSec += s.BytesPerSec
		seconds = max(seconds, s.Seconds)
		sm.Threads = append(sm.Threads, s.Threads...)
		sm.Warnings = result.AddWarnings(sm.Warnings, s.Warnings...)
		if sm.Invalid == nil {
			sm.Invalid = s.Invalid
		}
	}
	if win.Loaders != len(in) || ops != win.Ops {
		names := make([]string, len(in))
		for j, x := range in {
			names[j] = x.Name
		}
		return result.Sample{}, fmt.Errorf("%s: sample %d: these %d files sum to %d requests, server window %s counted %d from %d loaders: "+
			"a loader's file is missing or given twice: %w", strings.Join(names, ", "), i+1, len(in), ops, win.ID, win.Ops, win.Loaders, ErrMismatch)
	}
	sm.Ops, sm.Bytes, sm.Seconds, sm.OpsPerSec, sm.BytesPerSec = ops, bytes, seconds, opsPerSec, bytesPerSec
	lat := result.LatencyFrom(h)
	lat.Corrected = a.Latency.Corrected
	sm.Latency = lat
	if sm.Params != nil {
		sm.Params = maps.Clone(a.Params)
		// The merged sample's connections and rate are all loaders' together.
		for _, k := range []string{"conns", "rate"} {
			if v, err := strconv.ParseFloat(sm.Params[k], 64); err == nil {
				sm.Params[k] = strconv.FormatFloat(v*float64(len(in)), 'f', -1, 64)
			}
		}
		sm.Params["loaders"] = strconv.Itoa(len(in))
	}
	perOp(&sm)
	return sm, nil
}

// perOp recomputes the server's per-request figures over the merged ops. The server divided by the sum
// its loaders reported, which Files checked equals the merged ops: this only makes that explicit.
func perOp(sm *result.Sample) {
	if sm.Ops <= 0 {
		return
	}
	n := float64(sm.Ops)
	if sm.Syscalls.Available {
		sm.Syscalls.PerOp = float64(sm.Syscalls.Total) / n
		if b := sm.Syscalls.Backend; b != nil {
			c := *b
			c.PerOp = float64(c.Total) / n
			sm.Syscalls.Backend = &c
		}
	}
	if sm.ContextSwitches.Available {
		sm.ContextSwitches.PerOp = float64(sm.ContextSwitches.Total) / n
	}
	// CPU.PerOpNs comes from the process CPU clock, not UserNs+SysNs: rescaled, not rebuilt.
	if w := sm.ServerWindow; w != nil && w.Ops > 0 {
		sm.CPU.PerOpNs *= float64(w.Ops) / n
	}
}
