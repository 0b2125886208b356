package findings

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ringbench/ringbench/internal/termsafe"
)

// WriteTable prints the findings for a terminal: one aligned row per claim (number, verdict, claim), with
// what was measured and why under it.
func WriteTable(w io.Writer, fs []Finding) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tverdict\tclaim")
	for i, f := range fs {
		fmt.Fprintf(tw, "%d\t%s\t%s\n", i+1, f.Verdict, termsafe.String(f.Claim))
		if f.Figure != "" {
			fmt.Fprintf(tw, "\t\tmeasured: %s\n", termsafe.String(f.Figure))
		}
		if f.Why != "" {
			fmt.Fprintf(tw, "\t\twhy: %s\n", termsafe.String(f.Why))
		}
	}
	return tw.Flush()
}

// WriteMarkdown prints the findings as a Markdown table. With report set (a path or URL of the report's
// index.html), each verdict links to the report's section that shows the figure.
func WriteMarkdown(w io.Writer, fs []Finding, report string) error {
	var b strings.Builder
	b.WriteString("| # | claim | measured here | verdict | why |\n|---:|---|---|---|---|\n")
	for i, f := range fs {
		verdict := string(f.Verdict)
		if report != "" && f.Anchor != "" && f.Verdict != NotMeasured {
			verdict = fmt.Sprintf("[%s](%s#%s)", verdict, report, f.Anchor)
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s |\n", i+1, md(f.Claim), md(f.Figure), verdict, md(f.Why))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// md escapes a cell: pipes would end it, control characters and newlines would break the table.
func md(s string) string {
	s = termsafe.String(s)
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
