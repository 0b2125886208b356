package costmodel

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ringbench/ringbench/internal/fingerprint"
	"github.com/ringbench/ringbench/internal/termsafe"
)

// Block is the models of one sweep (one workload, one axis, one set of fixed params) laid out as a table
// with notes, for the text after `run`'s table and the report's "Cost model" section alike. Cells are
// plain text; writers escape them as their format needs.
type Block struct {
	Title  string
	Header []string
	Rows   [][]string
	Notes  []string
}

// Blocks lays models out, one Block per sweep in the order of the models. env is the fingerprint of the
// run (its null-syscall cost and mitigations are shown beside c); a zero one shows none.
func Blocks(models []Model, env fingerprint.Fingerprint) []Block {
	var out []Block
	var keys []string
	byKey := map[string][]Model{}
	for _, m := range models {
		k := m.Workload + "\x00" + m.Axis.Param + "\x00" + m.Fixed
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], m)
	}
	for _, k := range keys {
		out = append(out, block(byKey[k], env))
	}
	return out
}

func block(ms []Model, env fingerprint.Fingerprint) Block {
	m0 := ms[0]
	ax := m0.Axis
	title := fmt.Sprintf("%s: %s = w + c/%s", termsafe.String(m0.Workload), ax.Label, ax.Param)
	if m0.Fixed != "" {
		title += " (" + termsafe.String(m0.Fixed) + ")"
	}
	b := Block{Title: title}
	cpu := ax.Metric == "cpu-ns/op"
	syscallNs := env.SyscallNs
	if cpu {
		b.Header = []string{"backend", "c per submission (95% CI)", "w per op (95% CI)", "R²", "c in null syscalls", "fitted on"}
	} else {
		b.Header = []string{"backend", "c (95% CI)", "w (95% CI)", "R²", "fitted on"}
	}
	plural := pluralOf(ax.Param)
	for _, m := range ms {
		row := []string{termsafe.String(m.Backend)}
		f := m.Fit
		switch {
		case m.TooFew() && !m.Constant:
			row = append(row, tooFew(m, plural))
			for len(row) < len(b.Header) {
				row = append(row, "")
			}
			b.Rows = append(b.Rows, row)
			continue
		case m.Err != nil:
			row = append(row, "no fit: "+termsafe.String(m.Err.Error()))
			for len(row) < len(b.Header) {
				row = append(row, "")
			}
			b.Rows = append(b.Rows, row)
			continue
		}
		format := formatCount
		if cpu {
			format = formatNs
		}
		c := format(f.C, f.CLo, f.CHi)
		r2 := termsafe.Fixed(f.R2, 2)
		on := fmt.Sprintf("%d %s, %d samples", f.Points, plural, f.Samples)
		if m.Constant {
			c = "0 (flat: one " + ax.Param + " size)"
			r2 = "-"
			on = fmt.Sprintf("%d samples at %s %s", f.Samples, ax.Param, fmtN(m.Points[0].N))
		}
		row = append(row, c, format(f.W, f.WLo, f.WHi), r2)
		if cpu {
			inSyscalls := "-"
			if syscallNs > 0 && !m.Constant {
				inSyscalls = termsafe.Fixed(f.C/syscallNs, 1)
			}
			row = append(row, inSyscalls)
		}
		b.Rows = append(b.Rows, append(row, on))
	}
	if cpu && syscallNs > 0 {
		note := fmt.Sprintf("A null syscall (getppid) cost %s on this run's machine", formatNsValue(syscallNs))
		if mit := mitigations(env); mit != "" {
			note += "; mitigations: " + mit
		}
		b.Notes = append(b.Notes, note+".")
	}
	for _, m := range ms {
		if line := m.BreakEvenLine(); line != "" {
			b.Notes = append(b.Notes, line)
		}
	}
	return b
}

// BreakEvenLine says where m's figure falls below its baseline's: "uring's CPU/op falls below epoll's from
// batch 3 (CI 2–5)"; "" when m has no baseline.
func (m Model) BreakEvenLine() string {
	if m.Versus == "" {
		return ""
	}
	who := termsafe.String(m.Backend) + "'s " + m.Axis.Label
	if !m.BreakOK {
		line := fmt.Sprintf("%s stays above %s's at every %s", who, m.Versus, m.Axis.Param)
		if m.LoOK {
			line += fmt.Sprintf(" (within the CIs it may fall below from %s %d)", m.Axis.Param, m.Lo)
		}
		return line + "."
	}
	n := int(math.Ceil(m.BreakEven - 1e-9))
	verb := "falls below"
	if n <= 1 {
		verb = "is at or below"
	}
	line := fmt.Sprintf("%s %s %s's from %s %d", who, verb, m.Versus, m.Axis.Param, max(n, 1))
	switch {
	case m.LoOK && m.HiOK && m.Lo == m.Hi:
		line += fmt.Sprintf(" (CI %d)", m.Lo)
	case m.LoOK && m.HiOK:
		line += fmt.Sprintf(" (CI %d–%d)", m.Lo, m.Hi)
	case m.LoOK:
		line += fmt.Sprintf(" (CI %d to beyond %d)", m.Lo, MaxN)
	}
	return line + "."
}

func tooFew(m Model, plural string) string {
	f := m.Fit
	if f.Points < MinPoints {
		return fmt.Sprintf("too few points to fit (%d %s; need %d)", f.Points, plural, MinPoints)
	}
	return fmt.Sprintf("too few points to fit (%d samples; need %d)", f.Samples, MinSamples)
}

func pluralOf(param string) string {
	switch param {
	case "batch":
		return "batch sizes"
	case "conns":
		return "connection counts"
	}
	return param + " values"
}

func mitigations(env fingerprint.Fingerprint) string {
	s := fingerprint.MitigationSummary(env.Mitigations)
	for _, arg := range strings.Fields(env.Kernel.Cmdline) {
		if arg == "mitigations=off" {
			if s != "" {
				s += "; "
			}
			s += "booted with mitigations=off"
		}
	}
	return termsafe.String(s)
}

// WriteText writes the blocks of models as aligned text; nothing when there are none.
func WriteText(w io.Writer, models []Model, env fingerprint.Fingerprint) error {
	blocks := Blocks(models, env)
	if len(blocks) == 0 {
		return nil
	}
	var buf strings.Builder
	buf.WriteString("Cost model (least squares over every sample; 95% confidence intervals)\n")
	for _, b := range blocks {
		buf.WriteString(b.Title + "\n")
		tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  "+strings.Join(b.Header, "\t"))
		for _, r := range b.Rows {
			fmt.Fprintln(tw, "  "+strings.Join(r, "\t"))
		}
		tw.Flush()
		for _, n := range b.Notes {
			buf.WriteString("  " + n + "\n")
		}
	}
	_, err := io.WriteString(w, buf.String())
	return err
}

// formatNs writes v and its interval in one unit, chosen by v: "2.10µs (1.95–2.25µs)".
func formatNs(v, lo, hi float64) string {
	div, unit, prec := nsUnit(v)
	f := func(x float64) string { return strconv.FormatFloat(x/div, 'f', prec, 64) }
	if lo == v && hi == v {
		return f(v) + unit
	}
	return fmt.Sprintf("%s%s (%s – %s%s)", f(v), unit, f(lo), f(hi), unit)
}

func formatNsValue(v float64) string {
	div, unit, prec := nsUnit(v)
	return strconv.FormatFloat(v/div, 'f', prec, 64) + unit
}

func nsUnit(v float64) (div float64, unit string, prec int) {
	switch a := math.Abs(v); {
	case a < 1e3:
		return 1, "ns", 0
	case a < 1e6:
		return 1e3, "µs", 2
	case a < 1e9:
		return 1e6, "ms", 2
	}
	return 1e9, "s", 2
}

// formatCount writes a count (syscalls) and its interval: "0.52 (0.48 – 0.56)".
func formatCount(v, lo, hi float64) string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 3, 64) }
	if lo == v && hi == v {
		return f(v)
	}
	return fmt.Sprintf("%s (%s – %s)", f(v), f(lo), f(hi))
}

func fmtN(n float64) string { return strconv.FormatFloat(n, 'f', -1, 64) }
