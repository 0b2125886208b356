package runner

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/workloads"
)

// MaxPoints is the most points a sweep runs without Request.Force (`run --force`).
const MaxPoints = 64

// Axis is one swept flag: Flag is one of SweepFlags, Values its values in the order given.
type Axis struct {
	Flag   string
	Values []int
}

// SweepFlags are the flags that take a list of values, each with the Config setting it sets. Each is a
// setting a sample reads on its own (workloads.SampleSpec.Config), never one that Prepare depends on.
var SweepFlags = []string{"batch", "depth", "conns", "msg-size", "jobs", "threads", "gen-threads"}

// setAxis sets flag's setting of cfg to v.
func setAxis(cfg *workloads.Config, flag string, v int) {
	switch flag {
	case "batch":
		cfg.Options.Batch = v
	case "depth":
		cfg.Options.Depth = v
	case "conns":
		cfg.Conns = v
	case "msg-size":
		cfg.MsgSize = v
	case "jobs":
		cfg.Jobs = v
	case "threads":
		cfg.Threads = v
	case "gen-threads":
		cfg.GenThreads = v
	default:
		panic("runner: not a sweep flag: " + flag)
	}
}

// axisValue is flag's setting in cfg.
func axisValue(cfg workloads.Config, flag string) int {
	switch flag {
	case "batch":
		return cfg.Options.Batch
	case "depth":
		return cfg.Options.Depth
	case "conns":
		return cfg.Conns
	case "msg-size":
		return cfg.MsgSize
	case "jobs":
		return cfg.Jobs
	case "threads":
		return cfg.Threads
	case "gen-threads":
		return cfg.GenThreads
	}
	panic("runner: not a sweep flag: " + flag)
}

// checkSweep checks the axes: known flags, each once, values at least 1 and none twice.
func checkSweep(axes []Axis) error {
	seen := map[string]bool{}
	for _, a := range axes {
		if !slices.Contains(SweepFlags, a.Flag) {
			return fmt.Errorf("--%s: not a flag that takes a list (%s do)", a.Flag, "--"+strings.Join(SweepFlags, ", --"))
		}
		if seen[a.Flag] {
			return fmt.Errorf("--%s: swept twice", a.Flag)
		}
		seen[a.Flag] = true
		if len(a.Values) == 0 {
			return fmt.Errorf("--%s: empty list", a.Flag)
		}
		for i, v := range a.Values {
			if v < 1 {
				return fmt.Errorf("--%s %s: %d must be at least 1", a.Flag, axisList(a.Values), v)
			}
			if slices.Contains(a.Values[:i], v) {
				return fmt.Errorf("--%s %s: %d given twice", a.Flag, axisList(a.Values), v)
			}
		}
	}
	return nil
}

func axisList(vs []int) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

// WorkloadSweep is one workload's share of a sweep: the axes of the flags it reads (Workload.UsesFlag), in
// the order given, and every combination of their values, the first axis varying slowest. A workload that
// reads none of the swept flags has no axes and one point, the plan's Config.
type WorkloadSweep struct {
	Axes   []Axis
	Points []workloads.Config
	// GenThreadsSame: with `--gen-threads threads` and --threads among Axes, each point's gen-threads
	// is its threads, and its samples say so in their params.
	GenThreadsSame bool
}

// oneValueAxes applies the axes of one value to base and returns the others, the real axes.
func oneValueAxes(base *workloads.Config, axes []Axis) []Axis {
	var swept []Axis
	for _, a := range axes {
		if len(a.Values) == 1 {
			setAxis(base, a.Flag, a.Values[0])
			continue
		}
		swept = append(swept, a)
	}
	return swept
}

// sweepPoints is every point of axes from base: the cartesian product, the first axis varying slowest,
// gen-threads set to threads at each when genSame. Without an axis the one point is base.
func sweepPoints(base workloads.Config, axes []Axis, genSame bool) []workloads.Config {
	points := []workloads.Config{base}
	for _, a := range axes {
		next := make([]workloads.Config, 0, len(points)*len(a.Values))
		for _, p := range points {
			for _, v := range a.Values {
				q := p
				setAxis(&q, a.Flag, v)
				next = append(next, q)
			}
		}
		points = next
	}
	if genSame {
		for i := range points {
			points[i].GenThreads = points[i].Threads
		}
	}
	return points
}

// workloadAxes is w's share of the real axes swept: the axes of the flags it reads.
func workloadAxes(w workloads.Workload, swept []Axis, genSame bool) WorkloadSweep {
	var ws WorkloadSweep
	for _, a := range swept {
		if w.UsesFlag(a.Flag) {
			ws.Axes = append(ws.Axes, a)
		}
	}
	ws.GenThreadsSame = genSame && w.UsesFlag("gen-threads") && slices.ContainsFunc(ws.Axes, func(a Axis) bool { return a.Flag == "threads" })
	return ws
}

// pointCount is the number of points of axes, counted before they are made (a product of long lists
// would not fit in memory), saturating at maxCounted.
func pointCount(axes []Axis) int {
	const maxCounted = 1 << 40
	n := 1
	for _, a := range axes {
		n = min(n*len(a.Values), maxCounted)
	}
	return n
}

// unreadAxis is the error of an axis that no workload of the run reads: its list would only repeat series.
func unreadAxis(a Axis, ws []workloads.Workload) error {
	var run, readers []string
	for _, w := range ws {
		run = append(run, w.Name())
	}
	for _, w := range workloads.All() {
		if w.UsesFlag(a.Flag) {
			readers = append(readers, w.Name())
		}
	}
	return fmt.Errorf("--%s %s: not read by %s (it is for %s)", a.Flag, axisList(a.Values), strings.Join(run, ", "),
		strings.Join(readers, ", "))
}

// tooMany is the error of a sweep of n points in all without --force: the axes of each workload and their
// points, workloads with the same axes together. The sweeps' points are not made yet.
func tooMany(ws []workloads.Workload, sweeps []WorkloadSweep, n int) error {
	var parts []string
	byAxes := map[string][]string{}
	points := map[string]int{}
	for i, sw := range sweeps {
		if len(sw.Axes) == 0 {
			continue
		}
		n := pointCount(sw.Axes)
		var axes []string
		for _, a := range sw.Axes {
			axes = append(axes, fmt.Sprintf("--%s %s", a.Flag, axisList(a.Values)))
		}
		key := strings.Join(axes, " × ")
		if _, ok := byAxes[key]; !ok {
			parts = append(parts, key)
		}
		byAxes[key] = append(byAxes[key], ws[i].Name())
		points[key] = n
	}
	for i, key := range parts {
		if names := byAxes[key]; len(names) > 1 {
			parts[i] = fmt.Sprintf("%s (%s: %d points each)", key, strings.Join(names, ", "), points[key])
		} else {
			parts[i] = fmt.Sprintf("%s (%s)", key, names[0])
		}
	}
	return fmt.Errorf("%s: %d points: more than %d, give --force to run them", strings.Join(parts, "; "), n, MaxPoints)
}

// PointString names point i by its swept values, in sweep order: "batch=4,depth=32"; "" without a sweep.
func (ws *WorkloadSweep) PointString(i int) string {
	var parts []string
	for _, a := range ws.Axes {
		parts = append(parts, fmt.Sprintf("%s=%d", a.Flag, axisValue(ws.Points[i], a.Flag)))
	}
	return strings.Join(parts, ",")
}

// pointError is err of point i, led by the swept flag it names first (the first swept one when it names
// none): "--batch 64 (point batch=64,depth=32): ...".
func (ws *WorkloadSweep) pointError(i int, err error) error {
	lead, at := ws.Axes[0].Flag, -1
	for _, a := range ws.Axes {
		if j := strings.Index(err.Error(), "--"+a.Flag+" "); j >= 0 && (at < 0 || j < at) {
			lead, at = a.Flag, j
		}
	}
	return fmt.Errorf("--%s %d (point %s): %w", lead, axisValue(ws.Points[i], lead), ws.PointString(i), err)
}

// prepareConfig is the config the workload is prepared with: the point with the largest value of every
// axis (a point of the product, so valid), which sizes what Prepare sizes (descriptors for --conns, the
// load generator's CPUs for --gen-threads) for every point. Samples get their own point's config
// (workloads.SampleSpec.Config).
func (ws *WorkloadSweep) prepareConfig() workloads.Config {
	cfg := ws.Points[0]
	for _, a := range ws.Axes {
		setAxis(&cfg, a.Flag, slices.Max(a.Values))
	}
	if ws.GenThreadsSame {
		cfg.GenThreads = cfg.Threads
	}
	return cfg
}

// resultSweep is Config.Sweep of the result file: each axis with the workloads that read it.
func (p *Plan) resultSweep() []result.SweepAxis {
	var out []result.SweepAxis
	for _, a := range p.Sweep {
		ax := result.SweepAxis{Flag: a.Flag, Param: a.Flag}
		for _, v := range a.Values {
			ax.Values = append(ax.Values, strconv.Itoa(v))
		}
		for i, ws := range p.Sweeps {
			if slices.ContainsFunc(ws.Axes, func(b Axis) bool { return b.Flag == a.Flag }) {
				ax.Workloads = append(ax.Workloads, p.Workloads[i].Name())
				if a.Flag == "threads" && ws.GenThreadsSame && !slices.Contains(ax.Same, "gen-threads") {
					ax.Same = append(ax.Same, "gen-threads")
				}
			}
		}
		out = append(out, ax)
	}
	return out
}

// errParamMismatch is a workload recording a swept setting other than its point's: a workload that does
// not honour workloads.SampleSpec.Config.
var errParamMismatch = errors.New("sample parameters disagree with the sweep point")

// addPointParams adds point i's swept values to s.Params, jobs=1 and threads=1 included (and gen-threads
// when it follows threads), and checks that the workload recorded the same values where it recorded them.
func (ws *WorkloadSweep) addPointParams(i int, s *result.Sample) error {
	if len(ws.Axes) == 0 {
		return nil
	}
	if s.Params == nil {
		s.Params = map[string]string{}
	}
	flags := make([]string, 0, len(ws.Axes)+1)
	for _, a := range ws.Axes {
		flags = append(flags, a.Flag)
	}
	if ws.GenThreadsSame {
		flags = append(flags, "gen-threads")
	}
	for _, flag := range flags {
		want := strconv.Itoa(axisValue(ws.Points[i], flag))
		if got, ok := s.Params[flag]; ok && got != want {
			return fmt.Errorf("%w: %s=%s, point %s", errParamMismatch, flag, got, ws.PointString(i))
		}
		s.Params[flag] = want
	}
	return nil
}
