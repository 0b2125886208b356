package termsafe

import (
	"math"
	"strings"
	"testing"
)

func TestStringEscapesControlCharacters(t *testing.T) {
	for in, want := range map[string]string{
		"plain µs text":          "plain µs text",
		"\x1b[2J\x1b]0;pwned\a":  `\x1b[2J\x1b]0;pwned\a`,
		"a\nb\tc\rd":             `a\nb\tc\rd`,
		"del\x7f":                `del\x7f`,
		"c1 \u009b31m":           `c1 \u009b31m`,
		"bad utf8 \xff\xfe done": `bad utf8 \xff\xfe done`,
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("x", MaxRunes+50)
	if got := String(long); len([]rune(got)) != MaxRunes+1 || !strings.HasSuffix(got, "…") {
		t.Errorf("String of %d runes: %d runes back", MaxRunes+50, len([]rune(got)))
	}
}

func TestFixedIsBounded(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		prec int
		want string
	}{
		{1.5, 2, "1.50"}, {123456.789, 0, "123457"}, {1e308, 2, "1e+308"}, {-1e308, 0, "-1e+308"},
		{1e14, 0, "100000000000000"},
	} {
		if got := Fixed(tc.v, tc.prec); got != tc.want {
			t.Errorf("Fixed(%g, %d) = %q, want %q", tc.v, tc.prec, got, tc.want)
		}
	}
	if got := Fixed(math.NaN(), 1); got != "NaN" {
		t.Errorf("Fixed(NaN) = %q", got)
	}
}
