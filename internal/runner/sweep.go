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
var SweepFlags = []string{"batch", "depth", "conns", "msg-size", "jobs", "threads"}

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

// sweepPoints applies the one-value axes to base and returns the real axes (two values or more) and every
// point: the cartesian product, the first axis varying slowest. Without a real axis the one point is base.
func sweepPoints(base workloads.Config, axes []Axis) ([]Axis, []workloads.Config) {
	var swept []Axis
	for _, a := range axes {
		if len(a.Values) == 1 {
			setAxis(&base, a.Flag, a.Values[0])
			continue
		}
		swept = append(swept, a)
	}
	points := []workloads.Config{base}
	for _, a := range swept {
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
	return swept, points
}

func pointCount(axes []Axis) int {
	n := 1
	for _, a := range axes {
		n *= max(len(a.Values), 1)
	}
	return n
}

// tooMany is the error of a sweep of n points without --force.
func tooMany(axes []Axis, n int) error {
	var parts []string
	for _, a := range axes {
		if len(a.Values) > 1 {
			parts = append(parts, fmt.Sprintf("--%s %s", a.Flag, axisList(a.Values)))
		}
	}
	return fmt.Errorf("%s: %d points: more than %d, give --force to run them", strings.Join(parts, " × "), n, MaxPoints)
}

// PointString names a point by its swept values, in sweep order: "batch=4,depth=32"; "" without a sweep.
func (p *Plan) PointString(i int) string {
	var parts []string
	for _, a := range p.Sweep {
		parts = append(parts, fmt.Sprintf("%s=%d", a.Flag, axisValue(p.Points[i], a.Flag)))
	}
	return strings.Join(parts, ",")
}

// pointError is err of point i, led by the swept flag it names first (the first swept one when it names
// none): "--batch 64 (point batch=64,depth=32): ...".
func (p *Plan) pointError(i int, err error) error {
	lead, at := p.Sweep[0].Flag, -1
	for _, a := range p.Sweep {
		if j := strings.Index(err.Error(), "--"+a.Flag+" "); j >= 0 && (at < 0 || j < at) {
			lead, at = a.Flag, j
		}
	}
	return fmt.Errorf("--%s %d (point %s): %w", lead, axisValue(p.Points[i], lead), p.PointString(i), err)
}

// prepareConfig is the config each workload is prepared with: the point with the largest value of every
// axis (a point of the product, so valid), which sizes what Prepare sizes (descriptors for --conns) for
// every point. Samples get their own point's config (workloads.SampleSpec.Config).
func (p *Plan) prepareConfig() workloads.Config {
	cfg := p.Points[0]
	for _, a := range p.Sweep {
		setAxis(&cfg, a.Flag, slices.Max(a.Values))
	}
	return cfg
}

// resultSweep is Config.Sweep of the result file.
func (p *Plan) resultSweep() []result.SweepAxis {
	var out []result.SweepAxis
	for _, a := range p.Sweep {
		ax := result.SweepAxis{Flag: a.Flag, Param: a.Flag}
		for _, v := range a.Values {
			ax.Values = append(ax.Values, strconv.Itoa(v))
		}
		out = append(out, ax)
	}
	return out
}

// errParamMismatch is a workload recording a swept setting other than its point's: a workload that does
// not honour workloads.SampleSpec.Config.
var errParamMismatch = errors.New("sample parameters disagree with the sweep point")

// addPointParams adds point i's swept values to s.Params, jobs=1 and threads=1 included, and checks that
// the workload recorded the same values where it recorded them.
func (p *Plan) addPointParams(i int, s *result.Sample) error {
	if len(p.Sweep) == 0 {
		return nil
	}
	if s.Params == nil {
		s.Params = map[string]string{}
	}
	for _, a := range p.Sweep {
		want := strconv.Itoa(axisValue(p.Points[i], a.Flag))
		if got, ok := s.Params[a.Flag]; ok && got != want {
			return fmt.Errorf("%w: %s=%s, point %s", errParamMismatch, a.Flag, got, p.PointString(i))
		}
		s.Params[a.Flag] = want
	}
	return nil
}
