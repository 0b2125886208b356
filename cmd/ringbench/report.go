package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ringbench/ringbench/internal/report"
)

// Chart sizes outside these bounds are refused: too small to read, or too large to be a chart.
const (
	minChartPx = 320
	maxChartPx = 4000
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "report",
		Usage:     "draw charts and an HTML page from result files",
		ArgsUsage: "RESULT.json...",
		Description: "Reads one or more result files written by `ringbench run` and writes into --out: for each " +
			"workload, throughput (median, whiskers for the spread across samples), latency by percentile, " +
			"syscalls per op stacked by syscall, CPU per op (user / sys / SQPOLL thread) and memory per idle " +
			"connection, each as PNG and SVG; and index.html, one page that works offline with every chart " +
			"inline, the environment side by side, a summary table, warnings and the raw figures.\n\n" +
			"Files with different labels, or else different kernels, become one series each. Flags may come " +
			"before or after the files. --out must be empty or missing unless --force is given.\n\n" +
			"Exit status: 0 written, 1 failed, 2 bad flag, result file or --out.\n\n" +
			fmt.Sprintf("Limits: at most %d MiB of result files and %d samples in all, %d series (backend × parameters × file) "+
				"per workload and %d in all, %d charts; past them report exits 2 naming the count and the limit. Names "+
				"longer than %d characters are shortened in charts and on the page (whole in a tooltip).",
				report.MaxInputBytes>>20, report.MaxSamples, report.MaxSeriesPerChart, report.MaxSeries, report.MaxCharts, report.MaxNameRunes),
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Value: "report-out", Usage: "directory to write the charts and index.html into"},
			&cli.BoolFlag{Name: "force", Usage: "write into --out even if it is not empty, replacing files of the same names"},
			&cli.IntFlag{Name: "width", Value: report.DefaultWidth, Usage: "chart width in pixels (bar charts with many bars grow wider)"},
			&cli.IntFlag{Name: "height", Value: report.DefaultHeight, Usage: "chart height in pixels"},
		},
		Action: reportAction,
	})
}

func reportAction(c *cli.Context) error {
	files, err := resultFileArgs(c, "ringbench report RESULT.json... --out DIR")
	if err != nil {
		return err
	}
	w, h := c.Int("width"), c.Int("height")
	for _, d := range []struct {
		name string
		v    int
	}{{"--width", w}, {"--height", h}} {
		if d.v < minChartPx || d.v > maxChartPx {
			return usageError("%s %d: must be between %d and %d pixels", d.name, d.v, minChartPx, maxChartPx)
		}
	}
	if err := checkOutDir(c.String("out")); err != nil {
		return usageError("--out %v", err)
	}
	out, err := report.Generate(files, report.Options{
		Out: c.String("out"), Force: c.Bool("force"), WidthPx: w, HeightPx: h, Tool: "ringbench " + versionString(),
	})
	if err != nil {
		if errors.Is(err, report.ErrInput) || errors.Is(err, report.ErrOutput) {
			return usageError("%s", oneLine(err.Error()))
		}
		return exitError(exitFailure, errors.New(oneLine(err.Error())))
	}
	if _, err := fmt.Fprintf(c.App.Writer, "wrote %s (%d charts as PNG and SVG, %d warnings)\n", out.Index, len(out.Charts), len(out.Report.Warnings)); err != nil {
		return exitError(exitFailure, fmt.Errorf("writing to stdout: %w (the report %s was written)", err, out.Index))
	}
	return nil
}

// resultFileArgs returns the result files named among the arguments of c, the command's flags found among
// them applied (interspersedFlags); none is a usage error that shows usage.
func resultFileArgs(c *cli.Context, usage string) ([]string, error) {
	files, err := interspersedFlags(c, c.Args().Slice())
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, usageError("%s needs at least one result file (%s)", c.Command.Name, usage)
	}
	return files, nil
}

// interspersedFlags applies the command's flags found among the positional arguments (urfave/cli stops
// parsing flags at the first file, and the documented forms are `report A.json B.json --out DIR` and
// `compare BASE NEW --format json`), and returns the remaining arguments. "--" ends the flags.
func interspersedFlags(c *cli.Context, args []string) ([]string, error) {
	// canonical maps each name and alias to the flag's first name: urfave/cli keeps an alias's value
	// apart until it parses flags itself, so the canonical name is the one set.
	canonical, isBool := map[string]string{}, map[string]bool{}
	for _, fl := range c.Command.Flags {
		names := fl.Names()
		_, b := fl.(*cli.BoolFlag)
		for _, n := range names {
			canonical[n] = names[0]
		}
		isBool[names[0]] = b
	}
	var files []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(files, args[i+1:]...), nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			files = append(files, a)
			continue
		}
		given, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		name, ok := canonical[given]
		if !ok {
			return nil, usageError("%s", explainFlagError("flag provided but not defined: "+a, c.Command.Flags))
		}
		if isBool[name] {
			if !hasValue {
				value = "true"
			}
			if _, err := strconv.ParseBool(value); err != nil {
				return nil, usageError("invalid value %q for flag -%s", value, given)
			}
		} else if !hasValue {
			if i+1 >= len(args) {
				return nil, usageError("flag needs an argument: %s", a)
			}
			i++
			value = args[i]
		}
		if err := c.Set(name, value); err != nil {
			return nil, usageError("invalid value %q for flag %s: %v", value, a, err)
		}
	}
	return files, nil
}

// oneLine keeps an error message to one line.
func oneLine(s string) string {
	return strings.ReplaceAll(strings.TrimSpace(s), "\n", " ")
}

// checkOutDir says, in one line, why dir cannot become an output directory: it is not a directory, or
// the nearest existing directory on its way cannot be written (report creates the missing ones).
func checkOutDir(dir string) error {
	if dir == "" {
		return errors.New("\"\": empty directory name")
	}
	d := filepath.Clean(dir)
	for {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s: %s is not a directory", dir, d)
			}
			if err := checkDir(d); err != nil {
				return fmt.Errorf("%s: %w", dir, err)
			}
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %v", dir, errors.Unwrap(err))
		}
		parent := filepath.Dir(d)
		if parent == d {
			return fmt.Errorf("%s: no existing directory on its path", dir)
		}
		d = parent
	}
}
