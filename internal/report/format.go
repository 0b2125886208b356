package report

import (
	"fmt"
	"math"
	"strconv"

	"github.com/ringbench/ringbench/internal/units"
)

// formatRate renders a rate with 3 significant digits and a k/M suffix: 402k, 1.25M, 950.
func formatRate(v float64) string {
	x, sym := units.Scale(v, ratePrefixes)
	return sig3(x) + sym
}

var ratePrefixes = []units.Prefix{
	{Min: 1e9, Div: 1e9, Symbol: "G"},
	{Min: 1e6, Div: 1e6, Symbol: "M"},
	{Min: 1e3, Div: 1e3, Symbol: "k"},
	{Div: 1},
}

// sig3 renders v with three significant digits, no exponent, no trailing zeros beyond them.
func sig3(v float64) string {
	if v == 0 {
		return "0"
	}
	a := math.Abs(v)
	digits := 2 - int(math.Floor(math.Log10(a)))
	if digits < 0 {
		digits = 0
	}
	return strconv.FormatFloat(v, 'f', digits, 64)
}

// formatNs renders a duration in ns with a readable unit: 950 ns, 2.41 µs, 80.1 µs, 1.20 ms.
func formatNs(ns float64) string {
	x, sym := units.Scale(ns, units.NsPrefixes)
	return sig3(x) + " " + sym
}

// formatPerOp renders a count per op: 1.003, 2.13, 0.0333. Syscalls per op are nearly deterministic, so a
// figure near 1 keeps three decimals.
func formatPerOp(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 3, 64)
	}
	return sig3(v)
}

// formatBytes renders a size in binary units: 12 B, 4.10 KiB, 1.50 GiB.
func formatBytes(b float64) string {
	a := math.Abs(b)
	syms := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for a >= 1024 && i < len(syms)-1 {
		a /= 1024
		b /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", b)
	}
	return sig3(b) + " " + syms[i]
}

// formatRatio renders a ratio as ×1.08 or ×0.033.
func formatRatio(r float64) string {
	if r >= 10 {
		return "×" + strconv.FormatFloat(r, 'f', 1, 64)
	}
	if r >= 0.1 {
		return "×" + strconv.FormatFloat(r, 'f', 2, 64)
	}
	return "×" + sig3(r)
}
