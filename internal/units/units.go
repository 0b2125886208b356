// Package units parses and prints the sizes and rates users type: 4k, 256M, 1GiB, 64 (bytes).
package units

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrSyntax marks input that is not a size.
var ErrSyntax = errors.New("not a size")

var suffixes = []struct {
	s string
	m int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"tb", 1 << 40},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1}, {"", 1},
}

// ParseSize reads a byte count with an optional binary suffix (k, M, G, T, with or without "iB"/"B";
// fio's convention: 1k = 1024). Fractions are allowed when the result is whole ("1.5k").
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, fmt.Errorf("%q: %w", s, ErrSyntax)
	}
	for _, suf := range suffixes {
		if !strings.HasSuffix(t, suf.s) {
			continue
		}
		num := strings.TrimSpace(strings.TrimSuffix(t, suf.s))
		if num == "" {
			return 0, fmt.Errorf("%q: %w", s, ErrSyntax)
		}
		if v, err := strconv.ParseInt(num, 10, 64); err == nil {
			if v < 0 {
				return 0, fmt.Errorf("%q: negative size", s)
			}
			if v > math.MaxInt64/suf.m {
				return 0, fmt.Errorf("%q: too large", s)
			}
			return v * suf.m, nil
		}
		f, err := strconv.ParseFloat(num, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%q: %w", s, ErrSyntax)
		}
		if f < 0 {
			return 0, fmt.Errorf("%q: negative size", s)
		}
		v := f * float64(suf.m)
		if v >= math.MaxInt64 {
			return 0, fmt.Errorf("%q: too large", s)
		}
		if v != math.Trunc(v) {
			return 0, fmt.Errorf("%q: not a whole number of bytes", s)
		}
		return int64(v), nil
	}
	return 0, fmt.Errorf("%q: %w", s, ErrSyntax)
}

// FormatSize prints bytes with a binary suffix when exact ("256MiB", "4KiB", "1000").
func FormatSize(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.m && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

// HumanBytes prints an approximate byte count for tables ("1.5 MiB").
func HumanBytes(n float64) string {
	abs := math.Abs(n)
	switch {
	case abs >= 1<<30:
		return fmt.Sprintf("%.1f GiB", n/(1<<30))
	case abs >= 1<<20:
		return fmt.Sprintf("%.1f MiB", n/(1<<20))
	case abs >= 1<<10:
		return fmt.Sprintf("%.1f KiB", n/(1<<10))
	}
	return fmt.Sprintf("%.0f B", n)
}
