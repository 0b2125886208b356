package units

import (
	"errors"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	good := map[string]int64{"4096": 4096, "4k": 4096, "4K": 4096, "4KiB": 4096, "4kb": 4096, "256M": 256 << 20,
		"1GiB": 1 << 30, "1.5k": 1536, " 64 ": 64, "0": 0, "2t": 2 << 40, "10b": 10}
	for in, want := range good {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "k", "-4k", "4x", "1.3b", "9999999999999999999", "99999999999T", "NaN", "Inf", "4 k k"} {
		if v, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, v)
		}
	}
	if _, err := ParseSize("zz"); !errors.Is(err, ErrSyntax) {
		t.Errorf("want ErrSyntax, got %v", err)
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{4096: "4KiB", 256 << 20: "256MiB", 1000: "1000", 1 << 30: "1GiB"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseSizeIsExact(t *testing.T) {
	good := map[string]int64{
		"1e3": 1000, "1e3k": 1024000, "1.5e1kb": 15360, ".5k": 512, "5.k": 5120, "+4k": 4096, "-0": 0, "-0.0k": 0,
		"0e999999999999999999999": 0, "1e18": 1e18, "8e18": 8e18, "9223372036854775807": math.MaxInt64,
		"0.5t": 1 << 39, "8388607.5t": 8388607<<40 + 1<<39,
		"9.2233720368547758e18": 9223372036854775800, // refused as "too large" when rounded to float64
		"0.0009765625k":         1, "1E3": 1000, "4 kib": 4096, "4\tk": 4096,
	}
	for in, want := range good {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	// Each was accepted before exact arithmetic: rounded in float64, or read as Go float syntax.
	for in, want := range map[string]string{
		"1.0000000000000000001":   "not a whole number",
		"4611686018427387903.5":   "not a whole number",
		"8191.99999999999999999t": "not a whole number",
		"1e-400":                  "not a whole number",
		"-1e-400":                 "negative",
		"9223372036854775808":     "too large",
		"8388607.999999999999t":   "not a whole number",
		"1e19":                    "too large",
		"1e999999999999999999999": "too large",
		"1_024":                   "not a size",
		"0x1p10":                  "not a size",
		"0x10":                    "not a size",
		"1/2k":                    "not a size",
		"infinity":                "not a size",
		"1e":                      "not a size",
		"1e+-3":                   "not a size",
		".":                       "not a size",
		"1.2.3":                   "not a size",
	} {
		v, err := ParseSize(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSize(%q) = %d, %v; want an error saying %q", in, v, err, want)
		}
	}
}

// ratSize is an independent oracle for ParseSize on plain decimal input: big.Rat arithmetic.
func ratSize(num string, m int64) (int64, bool) {
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, false
	}
	r.Mul(r, new(big.Rat).SetInt64(m))
	if !r.IsInt() || r.Sign() < 0 || !r.Num().IsInt64() {
		return 0, false
	}
	return r.Num().Int64(), true
}

var plainDecimal = regexp.MustCompile(`^\s*([+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d{1,3})?)\s*(kib|mib|gib|tib|kb|mb|gb|tb|k|m|g|t|b|)\s*$`)

// FuzzParseSize: ParseSize never panics, never returns a negative size, names its input in one-line errors,
// agrees with exact rational arithmetic on decimal input, and what it accepts prints back (FormatSize) to a
// string that parses to the same size.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"4k", "256M", "1.5GiB", "-1", "", "1e3", "0x10", "1.0000000000000000001", "8191.99999999999999999t",
		"9223372036854775807", "7.99999999999999999999999e-3k", " 64 ", "4 k k", "+.5kb", "-0.0e-5t", "1_0k"} {
		f.Add(s)
	}
	mult := map[string]int64{"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "b": 1, "": 1}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseSize(s)
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, strconv.Quote(s)+": ") || strings.Contains(msg, "\n") {
				t.Fatalf("ParseSize(%q): error %q must be one line starting with the quoted input", s, msg)
			}
		}
		if err == nil && v < 0 {
			t.Fatalf("ParseSize(%q) = %d: negative without error", s, v)
		}
		if m := plainDecimal.FindStringSubmatch(strings.ToLower(s)); m != nil {
			want, ok := ratSize(m[1], mult[strings.TrimSuffix(strings.TrimSuffix(m[4], "b"), "i")])
			if m[4] == "b" {
				want, ok = ratSize(m[1], 1)
			}
			if ok != (err == nil) || (ok && want != v) {
				t.Fatalf("ParseSize(%q) = %d, %v; exact arithmetic says %d (whole, in range: %v)", s, v, err, want, ok)
			}
		}
		if err != nil {
			return
		}
		back, err := ParseSize(FormatSize(v))
		if err != nil || back != v {
			t.Fatalf("ParseSize(%q) = %d, FormatSize gives %q, which parses to %d, %v", s, v, FormatSize(v), back, err)
		}
	})
}

// FuzzFormatSize: every non-negative size prints to a string that parses back to it, with a binary suffix
// only when exact; negative sizes print as plain numbers, which ParseSize refuses.
func FuzzFormatSize(f *testing.F) {
	for _, n := range []int64{0, 1, 1023, 1024, 1536, 1 << 20, 1<<40 + 1<<30, math.MaxInt64, math.MaxInt64 &^ (1<<40 - 1), -1, -4096, math.MinInt64} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, n int64) {
		s := FormatSize(n)
		v, err := ParseSize(s)
		if n < 0 {
			if err == nil {
				t.Fatalf("FormatSize(%d) = %q parses to %d, want an error", n, s, v)
			}
			return
		}
		if err != nil || v != n {
			t.Fatalf("FormatSize(%d) = %q parses to %d, %v", n, s, v, err)
		}
		if strings.HasSuffix(s, "iB") && n == 0 {
			t.Fatalf("FormatSize(0) = %q", s)
		}
	})
}

func TestParseCountAndRate(t *testing.T) {
	counts := map[string]int64{"16": 16, "10k": 10_000, "10K": 10_000, "1.5M": 1_500_000, "2G": 2_000_000_000, " 7 ": 7, "1e3": 1000, "0": 0}
	for in, want := range counts {
		if got, err := ParseCount(in); err != nil || got != want {
			t.Errorf("ParseCount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "k", "1m", "1.5", "-3", "0x10", "1_000", "abc", "1.0001k", "99999999999G"} {
		if got, err := ParseCount(in); err == nil {
			t.Errorf("ParseCount(%q) = %d, want an error", in, got)
		}
	}
	rates := map[string]float64{"5000": 5000, "2.5k": 2500, "1M": 1e6, "0.5": 0.5, "0": 0}
	for in, want := range rates {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "M", "inf", "NaN", "-1k", "0x1p3", "1_0", "1m"} {
		if got, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) = %v, want an error", in, got)
		}
	}
}

func TestScale(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0, "0ns"}, {999, "999ns"}, {1000, "1µs"}, {-2.5e6, "-2.5ms"}, {3e9, "3s"}, {math.NaN(), "NaNns"},
	} {
		x, sym := Scale(c.v, NsPrefixes)
		if got := strconv.FormatFloat(x, 'g', -1, 64) + sym; got != c.want {
			t.Errorf("Scale(%v, NsPrefixes) = %s, want %s", c.v, got, c.want)
		}
	}
	if x, sym := Scale(1536, BytesPrefixes); x != 1.5 || sym != "KiB" {
		t.Errorf("Scale(1536, BytesPrefixes) = %v %s, want 1.5 KiB", x, sym)
	}
}
