package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ringbench/ringbench/internal/compare"
	"github.com/ringbench/ringbench/internal/result"
)

const compareDescription = `Compares result files: BASE is the baseline, NEW and every further file (or set of files sharing a
label, whose samples are pooled) is compared with it as another column. Files whose fingerprints
differ only in the kernel are shown with kernels as columns.

For every (workload, backend, params) series and metric present on both sides it prints the median
with its 95% confidence interval, the change in percent, and a verdict. Each metric knows whether
higher or lower is better.

Statistical metrics (ops/s, MB/s, latency percentiles, cpu-ns/op, ...): Mann-Whitney U test from
golang.org/x/perf/benchmath. A regression needs both: the change is significant after the
Holm-Bonferroni correction over every U-test of this invocation (the chance of any false alarm stays
at or below --alpha), AND the median moved in the worse direction by more than the threshold. Fewer
than 4 values per side: a warning and no verdict.

Nearly deterministic metrics (syscalls/op, enters/op), the ordering rule: a regression when EVERY
new value is worse than EVERY baseline value by more than the threshold (relative to the worst
baseline value) and by more than --min-abs-change (absolute). It needs only 3 values per side: with
identical distributions, all new values fall beyond all baseline values with probability
1/C(n1+n2,n1) (1/20 at 3+3, 1/924 at 6+6) before the margin is even asked for. These comparisons are
not in the Holm family.

Exit status: 0 no regression, 1 regression (also under --strict when cells are missing: a regression
found wins), 2 usage or I/O error, 3 not comparable (fingerprints differ in CPU model or count,
governor, virtualisation, mitigations or GOMAXPROCS, unless --allow-mismatch; or, under --strict, a
comparison has too few values, a metric is missing on one side or in every series, or the sample
sizes are too small for any U-test to be significant after the correction), 4 inconclusive: no
regression found, but some comparisons had too few samples to find one (the verdict line counts
them; --strict makes this 3), 5 internal error (comparing or rendering failed).

When $GITHUB_STEP_SUMMARY is set, the Markdown rendering is appended to it whatever --format says.
Flags may come before or after the files ("--" ends them).`

func init() {
	commands = append(commands, &cli.Command{
		Name:        "compare",
		Usage:       "compare result files: medians, confidence intervals, significance and regression verdicts",
		ArgsUsage:   "BASE NEW [MORE...]",
		Description: compareDescription,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "threshold", Value: "5%", Usage: "smallest change in the worse direction that is a regression, in percent"},
			&cli.StringFlag{Name: "metric-threshold", Usage: "per-metric thresholds, e.g. 'syscalls/op=2%,ops/s=10%'"},
			&cli.StringFlag{Name: "metrics", Usage: "compare only these metrics, comma separated (default: all of " + compare.MetricNames() + ")"},
			&cli.Float64Flag{Name: "alpha", Value: compare.DefaultAlpha, Usage: "family-wise false-alarm rate of the U-tests (Holm-Bonferroni)"},
			&cli.Float64Flag{Name: "min-abs-change", Value: compare.DefaultMinAbsChange, Usage: "absolute margin the ordering rule also needs (syscalls/op, enters/op)"},
			&cli.StringFlag{Name: "format", Value: "table", Usage: "output format: table, markdown, json or benchstat (Go benchmark text)"},
			&cli.BoolFlag{Name: "allow-mismatch", Usage: "compare even when the fingerprints differ in what must match (the differences are shown)"},
			&cli.BoolFlag{Name: "strict", Usage: "exit 3 when a comparison has too few values for a verdict, a metric is missing, or no U-test could be significant"},
			&cli.StringFlag{Name: "group-by", Value: "label", Usage: "label: pool files that share a label into one column; file: one column per file"},
			&cli.StringFlag{Name: "out", Usage: "write the output to this file (atomically) instead of stdout"},
			forceFlag(),
		},
		Action: compareAction,
	})
}

func compareAction(c *cli.Context) error {
	args, err := interspersedFlags(c, c.Args().Slice())
	if err != nil {
		return err
	}
	if len(args) < 2 {
		return usageError("compare needs BASE and NEW result files, got %d file(s)", len(args))
	}

	opt := compare.DefaultOptions()
	if opt.Threshold, err = compare.ParseThreshold(c.String("threshold")); err != nil {
		return usageError("--threshold: %v", err)
	}
	if c.IsSet("metric-threshold") {
		if opt.MetricThresholds, err = compare.ParseMetricThresholds(c.String("metric-threshold")); err != nil {
			return usageError("--metric-threshold: %v", err)
		}
	}
	if c.IsSet("metrics") {
		if opt.Metrics, err = compare.ParseMetrics(c.String("metrics")); err != nil {
			return usageError("--metrics: %v", err)
		}
	}
	opt.Alpha = c.Float64("alpha")
	if !(opt.Alpha > 0 && opt.Alpha < 1) {
		return usageError("--alpha: %v is not between 0 and 1", opt.Alpha)
	}
	opt.MinAbsChange = c.Float64("min-abs-change")
	if !(opt.MinAbsChange >= 0) || opt.MinAbsChange > 1e12 {
		return usageError("--min-abs-change: %v is not a non-negative number", opt.MinAbsChange)
	}
	format := c.String("format")
	switch format {
	case "table", "markdown", "json", "benchstat":
	default:
		return usageError("--format: unknown format %q (table, markdown, json or benchstat)", format)
	}
	var by compare.GroupBy
	switch c.String("group-by") {
	case "label":
		by = compare.ByLabel
	case "file":
		by = compare.ByFile
	default:
		return usageError("--group-by: %q is neither label nor file", c.String("group-by"))
	}
	out, force := c.String("out"), c.Bool("force")
	if c.IsSet("out") && out == "" {
		return usageError("--out: empty file name")
	}
	if err := checkCompareOut(out, force, args); err != nil {
		return err
	}

	files := make([]*result.File, len(args))
	for i, p := range args {
		f, err := result.Load(p)
		if err != nil {
			return exitError(exitUsage, err)
		}
		files[i] = f
	}
	sets, err := compare.NewSets(args, files, by)
	if err != nil {
		return exitError(exitUsage, trimUsage(err))
	}

	mismatches := compare.CheckComparable(sets)
	if len(mismatches) > 0 && !c.Bool("allow-mismatch") {
		msg := "not comparable: " + strings.Join(mismatches, "; ") + " (use --allow-mismatch to compare anyway)"
		appendStepSummary(c, compare.MarkdownNotComparable(msg))
		return cli.Exit("ringbench: "+msg, exitUnsupported)
	}

	rep, err := compare.Compare(sets, opt)
	if err != nil {
		if errors.Is(err, compare.ErrUsage) {
			return exitError(exitUsage, trimUsage(err))
		}
		return exitError(exitInternal, err)
	}
	rep.Mismatches = mismatches

	var buf bytes.Buffer
	switch format {
	case "table":
		err = compare.WriteTable(&buf, rep)
	case "markdown":
		err = compare.WriteMarkdown(&buf, rep)
	case "json":
		err = compare.WriteJSON(&buf, rep)
	case "benchstat":
		err = compare.WriteBenchstat(&buf, sets)
	}
	if err != nil {
		return exitError(exitInternal, fmt.Errorf("rendering the %s output: %w", format, err))
	}
	if out != "" {
		if err := result.WriteFileAtomic(out, buf.Bytes(), force); err != nil {
			return exitError(exitUsage, fmt.Errorf("--out: %w", err))
		}
	} else if _, err := c.App.Writer.Write(buf.Bytes()); err != nil {
		return exitError(exitUsage, fmt.Errorf("write output: %w", err))
	}

	var md bytes.Buffer
	if err := compare.WriteMarkdown(&md, rep); err == nil {
		appendStepSummary(c, md.String())
	}

	strict := c.Bool("strict")
	switch code := rep.ExitCode(strict); code {
	case compare.ExitNotComparable:
		few := rep.TooFewSamples()
		return cli.Exit(fmt.Sprintf("ringbench: not comparable under --strict: %d problem(s), first: %s", len(few), few[0]), exitUnsupported)
	case compare.ExitRegression:
		if few := rep.TooFewSamples(); strict && len(few) > 0 {
			// The regression decides the status; what --strict found is still said.
			fmt.Fprintf(c.App.ErrWriter, "ringbench: also not comparable under --strict: %d problem(s), first: %s\n", len(few), few[0])
		}
		return cli.Exit("ringbench: "+rep.VerdictLine(), exitFailure)
	case compare.ExitInconclusive:
		return cli.Exit("ringbench: "+rep.VerdictLine()+" (take more samples: run --count 6 or more)", exitInconclusive)
	default:
		if out != "" {
			fmt.Fprintln(c.App.ErrWriter, "ringbench: "+rep.VerdictLine())
		}
		return nil
	}
}

// checkCompareOut refuses an --out that cannot be written, or that names one of the files compared (with
// --force it would replace an input by the comparison).
func checkCompareOut(out string, force bool, inputs []string) error {
	if out == "" {
		return nil
	}
	for _, in := range inputs {
		if samePath(out, in) {
			return usageError("--out %s: is one of the files compared", out)
		}
	}
	return checkOutPath("--out", out, force, false)
}

// appendStepSummary appends Markdown to $GITHUB_STEP_SUMMARY when it is set. A failure there is a warning:
// it must not hide the comparison's own exit status.
func appendStepSummary(c *cli.Context, md string) {
	path := os.Getenv("GITHUB_STEP_SUMMARY")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err == nil {
		_, err = io.WriteString(f, md)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(c.App.ErrWriter, "ringbench: warning: GITHUB_STEP_SUMMARY: %v\n", err)
	}
}

// trimUsage drops the ": usage" marker that compare.ErrUsage adds to messages.
func trimUsage(err error) error {
	return errors.New(strings.TrimSuffix(err.Error(), ": "+compare.ErrUsage.Error()))
}
