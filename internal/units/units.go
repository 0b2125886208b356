// Package units parses and prints the sizes, counts and rates users type: 4k, 256M, 1GiB, 64 (bytes); 10k, 1.5M (counts, rates).
package units

import (
	"errors"
	"fmt"
	"math"
	"math/big"
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
// fio's convention: 1k = 1024). The number is decimal, optionally with a fraction and an exponent ("1.5k",
// "1e6"); fractions are allowed when the result is a whole number of bytes, which is decided exactly, not
// in floating point ("1.0000000000000000001" is refused, not rounded to 1). Hexadecimal, underscores,
// "Inf" and "NaN" are not sizes.
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
		v, err := scale(num, suf.m)
		switch {
		case errors.Is(err, ErrSyntax):
			return 0, fmt.Errorf("%q: %w", s, ErrSyntax)
		case err != nil:
			return 0, fmt.Errorf("%q: %v", s, err)
		}
		return v, nil
	}
	return 0, fmt.Errorf("%q: %w", s, ErrSyntax)
}

var (
	errNegative = errors.New("negative size")
	errTooLarge = errors.New("too large")
	errNotWhole = errors.New("not a whole number of bytes")
)

// scale returns num x m exactly, where num is a decimal number: [+-] digits [. digits] [e [+-] digits],
// with at least one digit before or after the point.
func scale(num string, m int64) (int64, error) {
	neg := false
	switch {
	case strings.HasPrefix(num, "+"):
		num = num[1:]
	case strings.HasPrefix(num, "-"):
		neg, num = true, num[1:]
	}
	mant, exp, hasExp := strings.Cut(num, "e")
	intPart, frac, _ := strings.Cut(mant, ".")
	if intPart+frac == "" || !allDigits(intPart) || !allDigits(frac) {
		return 0, ErrSyntax
	}
	e := 0
	if hasExp {
		d := strings.TrimLeft(exp, "+-")
		if d == "" || !allDigits(d) || len(exp)-len(d) > 1 {
			return 0, ErrSyntax
		}
		// An exponent beyond any digit string's reach is clamped: the value is then 0 (not whole unless the
		// mantissa is 0) or too large either way.
		n, err := strconv.Atoi(d)
		if err != nil || n > 1<<30 {
			n = 1 << 30
		}
		e = n
		if exp[0] == '-' {
			e = -n
		}
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return 0, nil // zero, whatever its sign, exponent or suffix
	}
	if neg {
		return 0, errNegative
	}
	// value = digits x 10^k x m
	k := e - len(frac)
	mant10, _ := new(big.Int).SetString(digits, 10)
	v := mant10.Mul(mant10, big.NewInt(m))
	switch {
	case k > 0:
		if k > 19 { // digits >= 1 and 10^19 > MaxInt64
			return 0, errTooLarge
		}
		v.Mul(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(k)), nil))
	case k < 0:
		// v < 10^(len(digits)+13): a larger divisor leaves a fraction.
		if -k > len(digits)+13 {
			return 0, errNotWhole
		}
		var rem big.Int
		v.QuoRem(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-k)), nil), &rem)
		if rem.Sign() != 0 {
			return 0, errNotWhole
		}
	}
	if !v.IsInt64() {
		return 0, errTooLarge
	}
	return v.Int64(), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
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
	case abs >= 1<<60 || math.IsNaN(n):
		// Not a plausible size (a damaged or hostile result file): short rather than hundreds of digits.
		return fmt.Sprintf("%.4g B", n)
	case abs >= 1<<30:
		return fmt.Sprintf("%.1f GiB", n/(1<<30))
	case abs >= 1<<20:
		return fmt.Sprintf("%.1f MiB", n/(1<<20))
	case abs >= 1<<10:
		return fmt.Sprintf("%.1f KiB", n/(1<<10))
	}
	return fmt.Sprintf("%.0f B", n)
}

// A Prefix scales a figure for display: one whose magnitude is at least Min is shown divided by Div, with
// Symbol.
type Prefix struct {
	Min, Div float64
	Symbol   string
}

// NsPrefixes (durations in ns) and BytesPrefixes (binary) for Scale, largest first; the last is the unit.
var (
	NsPrefixes    = []Prefix{{1e9, 1e9, "s"}, {1e6, 1e6, "ms"}, {1e3, 1e3, "µs"}, {0, 1, "ns"}}
	BytesPrefixes = []Prefix{{1 << 30, 1 << 30, "GiB"}, {1 << 20, 1 << 20, "MiB"}, {1 << 10, 1 << 10, "KiB"}, {0, 1, "B"}}
)

// Scale divides v by the first of prefixes (largest first) whose Min its magnitude reaches, and returns that
// prefix's symbol; the last prefix takes every other value, NaN too.
func Scale(v float64, prefixes []Prefix) (float64, string) {
	p := prefixes[len(prefixes)-1]
	a := math.Abs(v)
	for _, q := range prefixes[:len(prefixes)-1] {
		if a >= q.Min {
			p = q
			break
		}
	}
	return v / p.Div, p.Symbol
}

// countSuffixes are the decimal multipliers of counts and rates. Lower-case "m" is refused: it reads as
// "milli" as easily as "mega".
var countSuffixes = []struct {
	s string
	m int64
}{{"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"", 1}}

// ParseCount reads a count with an optional decimal suffix: k or K (1000), M (10^6), G (10^9), as in
// "16", "10k", "1.5M". The result must be a whole, non-negative number (checked exactly, as ParseSize).
func ParseCount(s string) (int64, error) {
	num, m, ok := cutCountSuffix(s)
	if !ok {
		return 0, fmt.Errorf("%q: not a count (e.g. 16, 10k, 1M): %w", s, ErrSyntax)
	}
	v, err := scale(strings.ToLower(num), m)
	switch {
	case errors.Is(err, ErrSyntax):
		return 0, fmt.Errorf("%q: not a count (e.g. 16, 10k, 1M): %w", s, ErrSyntax)
	case errors.Is(err, errNegative):
		return 0, fmt.Errorf("%q: negative", s)
	case errors.Is(err, errNotWhole):
		return 0, fmt.Errorf("%q: not a whole number", s)
	case err != nil:
		return 0, fmt.Errorf("%q: %v", s, err)
	}
	return v, nil
}

// ParseRate reads a non-negative rate with an optional decimal suffix, as ParseCount, but may have a
// fraction: "2.5k" is 2500, "0.5" is 0.5.
func ParseRate(s string) (float64, error) {
	num, m, ok := cutCountSuffix(s)
	if !ok || !isDecimal(num) {
		return 0, fmt.Errorf("%q: not a rate (e.g. 5000, 10k, 1.5M): %w", s, ErrSyntax)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsInf(v*float64(m), 0) {
		return 0, fmt.Errorf("%q: too large", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("%q: negative", s)
	}
	return v * float64(m), nil
}

// cutCountSuffix splits s, trimmed, into its number and the multiplier of its decimal suffix (1 for none);
// ok is false when no number is left.
func cutCountSuffix(s string) (num string, m int64, ok bool) {
	t := strings.TrimSpace(s)
	for _, suf := range countSuffixes {
		if strings.HasSuffix(t, suf.s) {
			num = strings.TrimSpace(strings.TrimSuffix(t, suf.s))
			return num, suf.m, num != ""
		}
	}
	return "", 0, false // not reached: the last suffix is ""
}

// isDecimal reports whether s is a plain decimal number: [+-] digits [. digits] [e [+-] digits], no
// hexadecimal, underscores, Inf or NaN (which strconv.ParseFloat would take).
func isDecimal(s string) bool {
	s = strings.TrimLeft(s, "+-")
	mant, exp, hasExp := strings.Cut(strings.ToLower(s), "e")
	i, f, _ := strings.Cut(mant, ".")
	if i+f == "" || !allDigits(i) || !allDigits(f) {
		return false
	}
	if hasExp {
		d := strings.TrimLeft(exp, "+-")
		return d != "" && allDigits(d) && len(exp)-len(d) <= 1
	}
	return true
}
