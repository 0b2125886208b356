package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/ringbench/ringbench/internal/gobench"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/series"
	"github.com/ringbench/ringbench/internal/termsafe"
	"github.com/ringbench/ringbench/internal/units"
)

// Exit statuses of a comparison (usage and I/O errors, 2, are the caller's).
const (
	ExitOK            = 0
	ExitRegression    = 1
	ExitNotComparable = 3
	// ExitInconclusive: no regression found, but some comparisons could not have found one (Inconclusive).
	ExitInconclusive = 4
)

// ExitCode is the status a comparison ends with: 1 when anything regressed, else 3 when strict and some
// comparison has no verdict (see TooFewSamples), else 4 when some comparison had too few samples to
// decide (see Inconclusive), else 0.
func (r *Report) ExitCode(strict bool) int {
	// A regression found is a fact that cells missing elsewhere cannot undo: it wins over --strict's 3.
	if r.Regressed() {
		return ExitRegression
	}
	if strict && len(r.TooFewSamples()) > 0 {
		return ExitNotComparable
	}
	if r.Inconclusive() > 0 {
		return ExitInconclusive
	}
	return ExitOK
}

// Inconclusive counts the comparisons that could not have found a regression for lack of samples: those
// with too few values for their rule, and, when no U-test could be significant (DeadGate), every U-test.
// Cells missing on one side are not counted: they are warned about, and --strict refuses them.
func (r *Report) Inconclusive() int {
	n := 0
	for _, row := range r.Rows {
		for _, c := range row.Cells {
			switch {
			case c.Missing:
			case c.Verdict == NoVerdict:
				n++
			case r.DeadGate && c.Rule == RuleUTest:
				n++
			}
		}
	}
	return n
}

// Total is the number of comparisons (cells) of the report.
func (r *Report) Total() int { return r.Regressions + r.Improvements + r.Unchanged + r.NoVerdicts }

// VerdictLine is the one-line outcome, e.g. "verdict: REGRESSION (1 regression, 0 improvements, ...)".
func (r *Report) VerdictLine() string {
	head := "no regression"
	if r.Regressed() {
		head = "REGRESSION"
	} else if n := r.Inconclusive(); n > 0 {
		head = fmt.Sprintf("inconclusive: too few samples in %d of %d comparisons", n, r.Total())
	}
	return fmt.Sprintf("verdict: %s (%s, %s, %d unchanged, %d without verdict)", head,
		plural(r.Regressions, "regression", "regressions"), plural(r.Improvements, "improvement", "improvements"),
		r.Unchanged, r.NoVerdicts)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// ColumnTitle is a column's header: its name, with the kernel release first when kernels differ. Names,
// labels and kernels come from result files, so control characters are escaped (termsafe).
func (r *Report) ColumnTitle(i int) string { return termsafe.String(r.columnTitle(i)) }

func (r *Report) columnTitle(i int) string {
	c := r.Columns[i]
	if !r.KernelColumns {
		return c.Name
	}
	k := c.Kernel
	if k == "" {
		k = "kernel ?"
	}
	if c.Label != "" && c.Label == c.Name && strings.Contains(c.Name, k) {
		return c.Name
	}
	return k + " (" + c.Name + ")"
}

func (r *Report) thresholdLine() string {
	s := fmt.Sprintf("regression = significant and worse than the threshold: %s", pct(r.Threshold))
	if len(r.MetricThresholds) > 0 {
		var parts []string
		for _, m := range result.Metrics {
			if t, ok := r.MetricThresholds[m.Name]; ok {
				parts = append(parts, m.Name+" "+pct(t))
			}
		}
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

func (r *Report) header() []string {
	var names []string
	for i := 1; i < len(r.Columns); i++ {
		names = append(names, r.ColumnTitle(i))
	}
	pLabel := "Mann-Whitney U p-values, Holm-adjusted"
	if r.Correction == "none" {
		pLabel = "Mann-Whitney U p-values, not adjusted"
	}
	lines := []string{
		fmt.Sprintf("ringbench compare: baseline %s vs %s", r.ColumnTitle(0), strings.Join(names, ", ")),
		r.FalseAlarms + "; medians with 95% confidence intervals; " + pLabel,
		r.thresholdLine(),
		r.OrderingRule,
	}
	if r.KernelOnly {
		lines = append(lines, "fingerprints differ only in kernel: columns are kernels")
	}
	return lines
}

// cellTest is the "test" column: adjusted p and sample sizes, or the ordering rule's sizes.
func cellTest(row Row, c Cell) string {
	n := sizes(row.Base.N, c.New.N)
	switch {
	case c.Missing:
		return "missing"
	case c.Rule == RuleOrdering:
		return "ordering " + n
	case c.PAdjusted != nil:
		return fmt.Sprintf("p=%.3f %s", *c.PAdjusted, n)
	}
	return n
}

func sizes(a, b int) string {
	if a == b {
		return "n=" + strconv.Itoa(a)
	}
	return fmt.Sprintf("n=%d+%d", a, b)
}

func verdictWord(v Verdict) string {
	switch v {
	case Regression:
		return "REGRESSION"
	case Improvement:
		return "improvement"
	case NoChange:
		return "~"
	}
	return "no verdict"
}

func changeString(c Cell) string {
	if c.Missing {
		return ""
	}
	if c.Change == nil {
		return "+∞%"
	}
	if *c.Change == 0 {
		return "0.00%"
	}
	s := termsafe.Fixed(*c.Change*100, 2) + "%"
	if *c.Change > 0 {
		s = "+" + s
	}
	return s
}

func summaryString(unit string, s Summary) string {
	if s.N == 0 {
		return "-"
	}
	return FormatValue(unit, s.Median) + " ±" + s.CI
}

// metricGroups splits rows by metric, in order.
func (r *Report) metricGroups() [][]Row {
	var out [][]Row
	for i, row := range r.Rows {
		if i == 0 || r.Rows[i-1].Metric != row.Metric {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], row)
	}
	return out
}

func metricHeading(row Row) string {
	dir := "lower is better"
	if row.HigherIsBetter {
		dir = "higher is better"
	}
	rule := RuleUTest
	if row.Deterministic {
		rule = RuleOrdering + " rule"
	}
	return fmt.Sprintf("%s (%s, threshold %s, %s)", row.Metric, dir, pct(row.Threshold), rule)
}

// WriteTable renders the report as aligned plain text.
func WriteTable(w io.Writer, r *Report) error {
	var b strings.Builder
	for _, l := range r.header() {
		b.WriteString(l + "\n")
	}
	for _, m := range r.Mismatches {
		b.WriteString("allowed mismatch: " + termsafe.String(m) + "\n")
	}
	for _, rows := range r.metricGroups() {
		b.WriteString("\n" + metricHeading(rows[0]) + "\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		hdr := []string{"series", r.ColumnTitle(0)}
		for i := 1; i < len(r.Columns); i++ {
			hdr = append(hdr, r.ColumnTitle(i), "change", "test", "verdict")
		}
		fmt.Fprintln(tw, strings.Join(hdr, "\t"))
		for _, row := range rows {
			f := []string{termsafe.String(row.Series), summaryString(row.Unit, row.Base)}
			for _, c := range row.Cells {
				f = append(f, summaryString(row.Unit, c.New), changeString(c), cellTest(row, c), verdictWord(c.Verdict))
			}
			fmt.Fprintln(tw, strings.Join(f, "\t"))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Rows) == 0 {
		b.WriteString("\nno series and metric in common: nothing compared\n")
	}
	if len(r.Warnings) > 0 {
		b.WriteString("\n")
		for _, wn := range r.Warnings {
			b.WriteString("warning: " + termsafe.String(wn) + "\n")
		}
	}
	b.WriteString("\n" + r.VerdictLine() + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMarkdown renders the report as GitHub-flavoured Markdown (for PR comments and $GITHUB_STEP_SUMMARY).
func WriteMarkdown(w io.Writer, r *Report) error {
	var b strings.Builder
	h := r.header()
	b.WriteString("### " + mdEscape(h[0]) + "\n\n")
	mark := ":white_check_mark: "
	if r.Regressed() {
		mark = ":x: "
	}
	b.WriteString(mark + "**" + mdEscape(r.VerdictLine()) + "**\n\n")
	for _, l := range h[1:] {
		b.WriteString("- " + mdEscape(l) + "\n")
	}
	for _, m := range r.Mismatches {
		b.WriteString("- allowed mismatch: " + mdEscape(m) + "\n")
	}
	for _, rows := range r.metricGroups() {
		b.WriteString("\n#### " + mdEscape(metricHeading(rows[0])) + "\n\n")
		hdr := []string{"series", mdEscape(r.ColumnTitle(0))}
		for i := 1; i < len(r.Columns); i++ {
			hdr = append(hdr, mdEscape(r.ColumnTitle(i)), "change", "test", "verdict")
		}
		b.WriteString("| " + strings.Join(hdr, " | ") + " |\n")
		b.WriteString("|" + strings.Repeat(" --- |", len(hdr)) + "\n")
		for _, row := range rows {
			f := []string{mdEscape(row.Series), summaryString(row.Unit, row.Base)}
			for _, c := range row.Cells {
				v := verdictWord(c.Verdict)
				if c.Verdict == Regression {
					v = "**" + v + "**"
				}
				f = append(f, summaryString(row.Unit, c.New), changeString(c), cellTest(row, c), v)
			}
			b.WriteString("| " + strings.Join(f, " | ") + " |\n")
		}
	}
	if len(r.Rows) == 0 {
		b.WriteString("\nNo series and metric in common: nothing compared.\n")
	}
	if len(r.Warnings) > 0 {
		b.WriteString("\n<details><summary>" + plural(len(r.Warnings), "warning", "warnings") + "</summary>\n\n")
		for _, wn := range r.Warnings {
			b.WriteString("- " + mdEscape(wn) + "\n")
		}
		b.WriteString("\n</details>\n")
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// MarkdownNotComparable is the Markdown note written to a CI summary when the files cannot be compared.
func MarkdownNotComparable(msg string) string {
	return "### ringbench compare\n\n**:warning: not comparable (exit status 3)**\n\n" + mdEscape(msg) + "\n\n"
}

func mdEscape(s string) string {
	r := strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "`", "\\`")
	return r.Replace(termsafe.String(s))
}

// WriteJSON renders the report as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	_, err = w.Write(data)
	return err
}

// MarshalJSON writes infinite confidence bounds (too few values) as null.
func (s Summary) MarshalJSON() ([]byte, error) {
	type plain struct {
		N      int       `json:"n"`
		Median float64   `json:"median"`
		Lo     *float64  `json:"ci_lo"`
		Hi     *float64  `json:"ci_hi"`
		CI     string    `json:"ci"`
		Values []float64 `json:"values,omitempty"`
	}
	p := plain{N: s.N, Median: s.Median, CI: s.CI, Values: s.Values}
	if !math.IsInf(s.Lo, 0) && !math.IsNaN(s.Lo) {
		p.Lo = &s.Lo
	}
	if !math.IsInf(s.Hi, 0) && !math.IsNaN(s.Hi) {
		p.Hi = &s.Hi
	}
	return json.Marshal(p)
}

// WriteBenchstat writes the sets as Go benchmark text, one block per set with a "label:" line naming it, so
// that benchstat can redo the comparison: benchstat -col label -ignore kernel FILE.
func WriteBenchstat(w io.Writer, sets []*Set) error {
	if _, err := io.WriteString(w, "# ringbench compare --format benchstat; compare with: benchstat -col label -ignore kernel FILE\n"); err != nil {
		return err
	}
	files := make([]*result.File, len(sets))
	for i, s := range sets {
		// Invalid samples are left out here as in the comparison; a comment line says so.
		valid, ex := series.Valid(s.Samples)
		if line := ex.Line(); line != "" {
			if _, err := fmt.Fprintf(w, "# %s: %s\n", s.Name, line); err != nil {
				return err
			}
		}
		files[i] = &result.File{Label: s.Name, Env: s.Env, Samples: valid}
	}
	return gobench.Write(w, files...)
}

// FormatValue formats a metric value in its unit with about four significant digits: latencies (ns/...) as
// durations, bytes with binary prefixes, counts and rates with SI prefixes from k upwards.
func FormatValue(unit string, v float64) string {
	switch {
	case strings.HasPrefix(unit, "ns/"):
		return scaled(v, units.NsPrefixes)
	case unit == "B" || strings.HasPrefix(unit, "B/"):
		return scaled(v, units.BytesPrefixes)
	}
	return num(v)
}

// numPrefixes are the SI prefixes of counts and rates; k only from 10k, so that 1.003 to 9999 keep their
// digits.
var numPrefixes = []units.Prefix{
	{Min: 1e12, Div: 1e12, Symbol: "T"},
	{Min: 1e9, Div: 1e9, Symbol: "G"},
	{Min: 1e6, Div: 1e6, Symbol: "M"},
	{Min: 1e4, Div: 1e3, Symbol: "k"},
	{Div: 1},
}

// num formats a count or rate: 0.0331, 1.003, 81.23k, 1.234M.
func num(v float64) string { return scaled(v, numPrefixes) }

func scaled(v float64, prefixes []units.Prefix) string {
	x, sym := units.Scale(v, prefixes)
	return sig(x) + sym
}

// sig formats with four significant digits, without exponent for the magnitudes num leaves it.
func sig(v float64) string {
	if v == 0 {
		return "0"
	}
	a := math.Abs(v)
	if a < 1e-4 || a >= 1e15 || math.IsNaN(v) {
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
	digits := 4 - int(math.Floor(math.Log10(a))) - 1
	if digits < 0 {
		digits = 0
	}
	return strconv.FormatFloat(v, 'f', digits, 64)
}

func gnum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func pct(f float64) string {
	return strconv.FormatFloat(f*100, 'f', -1, 64) + "%"
}
