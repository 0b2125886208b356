// Package termsafe makes text and numbers that come from peers (a control server) and files (result
// files) safe to print on a terminal: control characters cannot move the cursor, recolour, retitle or
// clear the screen, and a number read from a file cannot print as hundreds of digits.
package termsafe

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxRunes bounds what String returns: longer text is cut, ending in "…".
const MaxRunes = 2000

// String returns s with every control character (C0 including tab and newline, DEL, C1) and every
// invalid UTF-8 byte written out visibly as a Go escape (\x1b, \n, \u009b), and cut to MaxRunes. Text
// without such characters comes back unchanged.
func String(s string) string {
	if clean(s) {
		return s
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(s); {
		if n >= MaxRunes {
			b.WriteString("…")
			break
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			q := strconv.QuoteRune(r) // '\x1b', '\n', '\u009b'
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
		n++
	}
	return b.String()
}

func clean(s string) bool {
	if utf8.RuneCountInString(s) > MaxRunes || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

// fixedLimit is where Fixed stops writing every digit: above it a figure is not a plausible measurement
// and %.4g says as much in a few characters.
const fixedLimit = 1e15

// Fixed formats v like %.{prec}f, except that a value too large for that to stay short (|v| >= 1e15),
// NaN and the infinities are written with %.4g (1e+308, NaN, +Inf).
func Fixed(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) >= fixedLimit {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}
