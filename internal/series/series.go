// Package series is ringbench's one series layer, the counterpart of golang.org/x/perf's benchproc: it
// groups the samples of result files into series (one workload on one backend with one set of parameters,
// in one result set), orders them by the display order the files record, and computes their medians and
// quantiles. internal/summary, compare and report all group and sort through it, so that a series means
// the same thing in the table `run` prints, in a comparison and in a report.
package series

import (
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"

	"golang.org/x/perf/benchmath"

	"github.com/ringbench/ringbench/internal/result"
)

// Key identifies a series.
type Key struct {
	Workload, Backend string
	// Params are the sample's params as result.ParamsString writes them ("depth=32/files=64").
	Params string
	// Set is the result set (a label, a kernel, a file) the samples come from; "" when there is one.
	Set string
}

// Name is the series' name within its set, as compare and Go benchmark keys write it:
// "workload/backend/k=v/k=v".
func (k Key) Name() string {
	if k.Params == "" {
		return k.Workload + "/" + k.Backend
	}
	return k.Workload + "/" + k.Backend + "/" + k.Params
}

// Series is the samples of one series.
type Series struct {
	Workload, Backend string
	Params            map[string]string // of the first sample; every sample has the same
	Set               string
	Samples           []*result.Sample
	Files             []string // the result files the samples came from, in order
}

// Key is the series' key.
func (s *Series) Key() Key {
	return Key{Workload: s.Workload, Backend: s.Backend, Params: result.ParamsString(s.Params), Set: s.Set}
}

// Source is samples to group: one result file's, or any samples that belong to one set.
type Source struct {
	Set     string
	File    string // the file the samples came from ("" when none)
	Samples []result.Sample
}

// Group groups the samples of every source into series, in the order series first appear. The series
// point into the sources' sample slices.
func Group(sources ...Source) []*Series {
	var out []*Series
	byKey := map[Key]*Series{}
	for _, src := range sources {
		for i := range src.Samples {
			smp := &src.Samples[i]
			k := Key{Workload: smp.Workload, Backend: smp.Backend, Params: result.ParamsString(smp.Params), Set: src.Set}
			s := byKey[k]
			if s == nil {
				s = &Series{Workload: smp.Workload, Backend: smp.Backend, Params: smp.Params, Set: src.Set}
				byKey[k] = s
				out = append(out, s)
			}
			s.Samples = append(s.Samples, smp)
			if src.File != "" && (len(s.Files) == 0 || s.Files[len(s.Files)-1] != src.File) {
				s.Files = append(s.Files, src.File)
			}
		}
	}
	return out
}

// Samples groups one set of samples.
func Samples(samples []result.Sample) []*Series { return Group(Source{Samples: samples}) }

// ByName indexes series by Key.Name (series of one set).
func ByName(ss []*Series) map[string]*Series {
	m := make(map[string]*Series, len(ss))
	for _, s := range ss {
		m[s.Key().Name()] = s
	}
	return m
}

// Values are the finite values f gives for the samples that have one, in sample order.
func (s *Series) Values(f func(*result.Sample) (float64, bool)) []float64 {
	if s == nil {
		return nil
	}
	var out []float64
	for _, smp := range s.Samples {
		if v, ok := f(smp); ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			out = append(out, v)
		}
	}
	return out
}

// Median is the median of v, as benchstat computes it (golang.org/x/perf/benchmath); NaN when v is empty.
func Median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	th := benchmath.DefaultThresholds
	s := benchmath.NewSample(append([]float64(nil), v...), &th)
	return benchmath.AssumeNothing.Summary(s, 0.95).Center
}

// MedianOf is the median of the values f gives, and false when no sample has one.
func (s *Series) MedianOf(f func(*result.Sample) (float64, bool)) (float64, bool) {
	v := s.Values(f)
	if len(v) == 0 {
		return 0, false
	}
	return Median(v), true
}

// Spread summarises one figure across the samples of a series.
type Spread struct {
	N                int
	Median, Min, Max float64
	Q1, Q3           float64
}

// NewSpread is the spread of values: benchmath's median, and quartiles interpolated linearly between
// order statistics (benchmath exposes no quantile but the median).
func NewSpread(values []float64) Spread {
	s := Spread{N: len(values)}
	if len(values) == 0 {
		return s
	}
	v := append([]float64(nil), values...)
	sort.Float64s(v)
	s.Min, s.Max = v[0], v[len(v)-1]
	s.Median = Median(v)
	s.Q1 = Quantile(v, 0.25)
	s.Q3 = Quantile(v, 0.75)
	return s
}

// Quantile interpolates linearly between the order statistics of sorted v (R-7, as spreadsheets do).
func Quantile(v []float64, q float64) float64 {
	if len(v) == 1 {
		return v[0]
	}
	pos := q * float64(len(v)-1)
	lo := int(math.Floor(pos))
	if lo >= len(v)-1 {
		return v[len(v)-1]
	}
	frac := pos - float64(lo)
	return v[lo] + frac*(v[lo+1]-v[lo])
}

// CompareParams orders param maps by key, then value, numbers numerically.
func CompareParams(a, b map[string]string) int {
	both := map[string]string{}
	maps.Copy(both, a)
	maps.Copy(both, b)
	for _, k := range slices.Sorted(maps.Keys(both)) {
		va, vb := a[k], b[k]
		if va == vb {
			continue
		}
		fa, ea := strconv.ParseFloat(va, 64)
		fb, eb := strconv.ParseFloat(vb, 64)
		if ea == nil && eb == nil {
			if fa < fb {
				return -1
			}
			return 1
		}
		if va < vb {
			return -1
		}
		return 1
	}
	return 0
}

// MedianCI is the median of v with its 95% confidence interval, as benchstat computes it (distribution-
// free, golang.org/x/perf/benchmath); ok is false when v has too few values for one (fewer than 6).
func MedianCI(v []float64) (median, lo, hi float64, ok bool) {
	if len(v) == 0 {
		return math.NaN(), math.NaN(), math.NaN(), false
	}
	th := benchmath.DefaultThresholds
	s := benchmath.AssumeNothing.Summary(benchmath.NewSample(append([]float64(nil), v...), &th), 0.95)
	if math.IsInf(s.Lo, 0) || math.IsInf(s.Hi, 0) || math.IsNaN(s.Lo) || math.IsNaN(s.Hi) {
		return s.Center, math.NaN(), math.NaN(), false
	}
	return s.Center, s.Lo, s.Hi, true
}
