// Package costmodel fits the (s+t)/n cost model to sweeps in result files: a figure per op y that falls
// with the batch size (or the connection count) N as y = W + C/N, where C is what one submission costs
// however many ops it carries (the syscall s and the fixed work t around it) and W what each op costs on
// its own. The fit gives both with 95% confidence intervals, and the batch size from which one backend's
// line falls below another's (BreakEven): "uring's CPU/op falls below epoll's from batch 3".
package costmodel

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Point is one x of a sweep (a batch size, a connection count) and its sample values.
type Point struct {
	N float64
	Y []float64
}

// Fit is y = W + C/N fitted by least squares over every sample value, with 95% confidence intervals
// [WLo, WHi] and [CLo, CHi] from the t distribution, and R².
type Fit struct {
	W, C, WLo, WHi, CLo, CHi, R2 float64
	// Points is the number of distinct N, Samples the number of values fitted.
	Points, Samples int

	// The estimates' variances and covariance and the residual degrees of freedom, for the confidence
	// interval of a prediction (BreakEvenCI); zero in a Fit written by hand.
	varW, varC, covWC float64
	dof               int
}

// ErrTooFewPoints is returned by FitInverse for fewer than 3 distinct N or fewer than 4 sample values: two
// points always fit a line exactly, and a line through them says nothing about its own error.
var ErrTooFewPoints = errors.New("too few points to fit (need 3 distinct N and 4 samples)")

// MinPoints and MinSamples are the least FitInverse fits.
const (
	MinPoints  = 3
	MinSamples = 4
)

// FitInverse fits y = W + C·(1/N) to every sample value of points (not their medians, so that the spread
// of the samples widens the intervals). Values that are NaN or infinite are left out. N must be positive.
func FitInverse(points []Point) (Fit, error) {
	var xs, ys []float64
	distinct := map[float64]bool{}
	for _, p := range points {
		if !(p.N > 0) || math.IsInf(p.N, 0) {
			return Fit{}, fmt.Errorf("costmodel: N = %v: want a positive number", p.N)
		}
		for _, y := range p.Y {
			if math.IsNaN(y) || math.IsInf(y, 0) {
				continue
			}
			xs = append(xs, 1/p.N)
			ys = append(ys, y)
			distinct[p.N] = true
		}
	}
	if len(distinct) < MinPoints || len(ys) < MinSamples {
		return Fit{Points: len(distinct), Samples: len(ys)},
			fmt.Errorf("costmodel: %d distinct N, %d samples: %w", len(distinct), len(ys), ErrTooFewPoints)
	}
	w, c := stat.LinearRegression(xs, ys, nil, false)
	n := float64(len(ys))
	mx := stat.Mean(xs, nil)
	var sxx, sse float64
	for i, x := range xs {
		sxx += (x - mx) * (x - mx)
		r := ys[i] - (w + c*x)
		sse += r * r
	}
	dof := len(ys) - 2
	s2 := sse / float64(dof)
	f := Fit{W: w, C: c, Points: len(distinct), Samples: len(ys), dof: dof}
	f.varC = s2 / sxx
	f.varW = s2 * (1/n + mx*mx/sxx)
	f.covWC = -mx * s2 / sxx
	t := tQuantile(dof)
	hw, hc := t*math.Sqrt(f.varW), t*math.Sqrt(f.varC)
	f.WLo, f.WHi, f.CLo, f.CHi = w-hw, w+hw, c-hc, c+hc
	f.R2 = stat.RSquared(xs, ys, nil, w, c)
	if math.IsNaN(f.R2) { // every y equal: the flat line explains them all
		f.R2 = 1
	}
	return f, nil
}

// FitConstant is the model of a figure that does not depend on N (epoll, which submits nothing in
// batches, measured at one batch size): W is the mean of ys with its 95% interval, C is 0 exactly.
// It needs 2 values for an interval; with 1 the interval is that value.
func FitConstant(ys []float64) (Fit, error) {
	var v []float64
	for _, y := range ys {
		if !math.IsNaN(y) && !math.IsInf(y, 0) {
			v = append(v, y)
		}
	}
	if len(v) == 0 {
		return Fit{}, fmt.Errorf("costmodel: no values: %w", ErrTooFewPoints)
	}
	mean, sd := stat.MeanStdDev(v, nil)
	f := Fit{W: mean, WLo: mean, WHi: mean, Points: 1, Samples: len(v), R2: math.NaN()}
	if len(v) > 1 {
		f.dof = len(v) - 1
		f.varW = sd * sd / float64(len(v))
		h := tQuantile(f.dof) * math.Sqrt(f.varW)
		f.WLo, f.WHi = mean-h, mean+h
	}
	return f, nil
}

// At is the fitted figure at N.
func (f Fit) At(n float64) float64 { return f.W + f.C/n }

// varAt is the variance of the fitted figure at N.
func (f Fit) varAt(n float64) float64 {
	x := 1 / n
	return f.varW + x*x*f.varC + 2*x*f.covWC
}

func tQuantile(dof int) float64 {
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(dof)}.Quantile(0.975)
}

// BreakEven is the smallest N ≥ 1 where a's figure is at most b's: a.W + a.C/N ≤ b.W + b.C/N, in closed
// form; ok is false when that holds at no N ≥ 1. N is real: a batch size is its ceiling.
func BreakEven(a, b Fit) (n float64, ok bool) {
	return breakEven(a.W-b.W, a.C-b.C)
}

// breakEven solves dW + dC/N ≤ 0 for the smallest N ≥ 1; multiplied by N > 0 it is dW·N + dC ≤ 0.
func breakEven(dW, dC float64) (float64, bool) {
	switch {
	case dW+dC <= 0: // holds at N = 1 already
		return 1, true
	case dW < 0: // falls to dW < 0 as N grows: crosses at N = dC / -dW > 1
		return dC / -dW, true
	}
	// dW ≥ 0 and it does not hold at N = 1: with dW = 0 it never does, with dW > 0 it holds only where
	// N ≤ -dC/dW < 1.
	return 0, false
}

// MaxN bounds BreakEvenCI's search.
const MaxN = 1 << 16

// BreakEvenCI is the range of integer N in which the break-even lies at 95% confidence, from the
// fits' prediction intervals (the two fits independent): lo is the smallest N at which a's figure may be
// at most b's (the difference's interval reaches 0), hi the smallest from which it surely is (the whole
// interval is at or below 0, and stays so up to MaxN). okLo and okHi are false when no such N ≤ MaxN
// exists. For fits without variances (written by hand) both are the ceiling of BreakEven.
func BreakEvenCI(a, b Fit) (lo, hi int, okLo, okHi bool) {
	dof := min(a.dof, b.dof)
	t := 0.0
	if dof > 0 {
		t = tQuantile(dof)
	}
	diff := func(n float64) (d, h float64) {
		d = a.At(n) - b.At(n)
		v := max(a.varAt(n)+b.varAt(n), 0)
		return d, t * math.Sqrt(v)
	}
	for n := 1; n <= MaxN; n++ {
		d, h := diff(float64(n))
		if !okLo && d-h <= 0 {
			lo, okLo = n, true
		}
		if d+h <= 0 {
			if !okHi {
				hi, okHi = n, true
			}
		} else {
			okHi = false
		}
	}
	if !okHi {
		hi = 0
	}
	return lo, hi, okLo, okHi
}
