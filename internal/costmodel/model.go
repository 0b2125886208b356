package costmodel

import (
	"errors"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/series"
)

// Baseline is the backend the others' break-even is found against.
const Baseline = "epoll"

// Axis is a swept parameter the model is fitted against, and the figure fitted.
type Axis struct {
	Param     string   // the key in result.Sample.Params: "batch", "conns"
	Metric    string   // the catalogue metric fitted (result.Metrics): "cpu-ns/op", "syscalls/op"
	Label     string   // how the text names the figure: "CPU/op", "syscalls/request"
	Workloads []string // the workloads whose sweeps of Param are fitted
}

// Axes are the sweeps FromFile looks for: CPU per op against the batch size on the file workloads (each
// io_uring_enter carries a batch), and syscalls per request against the connection count on echo-proxy
// (one epoll_wait or io_uring_enter serves every ready connection).
var Axes = []Axis{
	{Param: "batch", Metric: "cpu-ns/op", Label: "CPU/op", Workloads: []string{"small-file", "many-file"}},
	{Param: "conns", Metric: "syscalls/op", Label: "syscalls/request", Workloads: []string{"echo-proxy"}},
}

// Model is one backend's figure against one swept parameter, with all other parameters fixed.
type Model struct {
	Workload, Backend string
	Axis              Axis
	// Fixed are the series' other params, as result.ParamsString writes them ("bs=4096/depth=64").
	Fixed  string
	Points []Point // by N, ascending
	Fit    Fit
	// Constant is true when the backend ran at a single N (the other backends swept it): Fit is then
	// FitConstant's, a flat line.
	Constant bool
	// Err is why there is no fit (wrapping ErrTooFewPoints when the sweep is too short); Fit is then zero
	// but for Points and Samples.
	Err error

	// Versus is the baseline backend the break-even is found against ("" for the baseline itself and when
	// the file has no fitted baseline with the same fixed params).
	Versus string
	// BreakEven is the real N from which this backend's figure is at most the baseline's (BreakEven);
	// BreakOK false means at no N ≥ 1. Lo and Hi are BreakEvenCI's range (LoOK, HiOK false: beyond MaxN).
	BreakEven  float64
	BreakOK    bool
	Lo, Hi     int
	LoOK, HiOK bool

	fixed map[string]string
}

// TooFew reports whether the model could not be fitted because the sweep is too short.
func (m Model) TooFew() bool { return errors.Is(m.Err, ErrTooFewPoints) }

// FromFile finds the sweeps in f (Axes) and fits each backend's line; see FromFiles.
func FromFile(f *result.File) []Model { return FromFiles(f) }

// FromFiles finds batch sweeps and connection sweeps among the valid samples of files taken together, so
// that separate runs at one batch size each make one sweep. A sweep is series of one workload and backend
// that differ only in the axis' param; it is found from the samples' params alone. A workload holds a sweep
// when some backend ran it at 2 or more values of the param; every backend of that workload then gets a
// model (a backend at one value only a flat one). Models come in the order workloads and backends first
// appear, each with its break-even against Baseline.
func FromFiles(files ...*result.File) []Model {
	var samples []result.Sample
	for _, f := range files {
		valid, _ := series.Valid(f.Samples)
		samples = append(samples, valid...)
	}
	var out []Model
	for _, ax := range Axes {
		for _, wl := range workloadsOf(samples, ax) {
			out = append(out, fromWorkload(samples, wl, ax)...)
		}
	}
	return out
}

func workloadsOf(samples []result.Sample, ax Axis) []string {
	var out []string
	for _, s := range samples {
		if slices.Contains(ax.Workloads, s.Workload) && !slices.Contains(out, s.Workload) {
			out = append(out, s.Workload)
		}
	}
	return out
}

// group is the samples of one workload and backend with one set of fixed params, by N.
type group struct {
	backend, fixed string
	fixedMap       map[string]string
	byN            map[float64][]*result.Sample
}

func fromWorkload(samples []result.Sample, wl string, ax Axis) []Model {
	var groups []*group
	index := map[[2]string]*group{}
	for i := range samples {
		s := &samples[i]
		if s.Workload != wl {
			continue
		}
		v, ok := s.Params[ax.Param]
		if !ok {
			continue
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil || !(n > 0) {
			continue
		}
		fixed := make(map[string]string, len(s.Params))
		for k, v := range s.Params {
			if k != ax.Param {
				fixed[k] = v
			}
		}
		key := [2]string{s.Backend, result.ParamsString(fixed)}
		g := index[key]
		if g == nil {
			g = &group{backend: s.Backend, fixed: key[1], fixedMap: fixed, byN: map[float64][]*result.Sample{}}
			index[key] = g
			groups = append(groups, g)
		}
		g.byN[n] = append(g.byN[n], s)
	}
	swept := false
	for _, g := range groups {
		if len(g.byN) > 1 {
			swept = true
		}
	}
	if !swept {
		return nil
	}
	metric, _ := result.MetricByName(ax.Metric)
	value := series.Of(metric)
	var out []Model
	for _, g := range groups {
		m := Model{Workload: wl, Backend: g.backend, Axis: ax, Fixed: g.fixed, fixed: g.fixedMap}
		for n, ss := range g.byN {
			p := Point{N: n}
			for _, s := range ss {
				if v, ok := value(s); ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
					p.Y = append(p.Y, v)
				}
			}
			if len(p.Y) > 0 {
				m.Points = append(m.Points, p)
			}
		}
		sort.Slice(m.Points, func(i, j int) bool { return m.Points[i].N < m.Points[j].N })
		switch len(m.Points) {
		case 0:
			continue // no sample measured the figure (e.g. syscalls not counted)
		case 1:
			m.Constant = true
			m.Fit, m.Err = FitConstant(m.Points[0].Y)
		default:
			m.Fit, m.Err = FitInverse(m.Points)
		}
		out = append(out, m)
	}
	// Break-even of each fitted backend against the baseline whose fixed params agree with its own on every
	// key both have (a backend may carry params of its own, such as sqpoll's CPU).
	for i := range out {
		m := &out[i]
		if m.Backend == Baseline || m.Err != nil {
			continue
		}
		for _, b := range out {
			if b.Backend != Baseline || !agree(b.fixed, m.fixed) || b.Err != nil {
				continue
			}
			m.Versus = Baseline
			m.BreakEven, m.BreakOK = BreakEven(m.Fit, b.Fit)
			m.Lo, m.Hi, m.LoOK, m.HiOK = BreakEvenCI(m.Fit, b.Fit)
			break
		}
	}
	return out
}

// agree reports whether a and b have the same value for every key both have.
func agree(a, b map[string]string) bool {
	for k, v := range a {
		if w, ok := b[k]; ok && w != v {
			return false
		}
	}
	return true
}

// SyscallNs is the median of the files' measured null-syscall costs (fingerprint.SyscallNs), for a model
// fitted across several files; 0 when none has one.
func SyscallNs(files ...*result.File) float64 {
	var v []float64
	for _, f := range files {
		if f.Env.SyscallNs > 0 {
			v = append(v, f.Env.SyscallNs)
		}
	}
	if len(v) == 0 {
		return 0
	}
	return series.Median(v)
}
