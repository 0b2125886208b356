package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/ringbench/ringbench/internal/merge"
	"github.com/ringbench/ringbench/internal/result"
)

const mergeDescription = `Merges the result files that several "ringbench load --control ADDR --loaders K" processes (one
per load host) wrote for the same server into one result, as if one load generator had carried all
their requests: per sample, requests and bytes are summed (requests/s too: the loaders ran at the
same time), the latency histograms are merged (HdrHistogram; percentiles are never averaged), and the
server's figures (CPU, syscalls, context switches per request) are taken once: the server measured
one window for all loaders and divided by the sum of their requests. The conns and rate parameters
become the loaders' totals, and "loaders" says how many there were. Per-interval series are dropped.

The files must belong together: the same number of samples, each of the same series, measured in the
same server window (its ID is recorded in each sample), for as many loaders as there are files, and
their requests must sum to what the server's window counted; otherwise merge names the file at fault.

The output is written whole or not at all, and an existing file is not replaced without --force.

Exit status: 0 merged, 1 the output could not be written (the result went to a file in $TMPDIR, named),
2 bad flag, unreadable result file, or files that do not belong together.`

func init() {
	commands = append(commands, &cli.Command{
		Name:        "merge",
		Usage:       "merge the result files of several load hosts that measured one server's windows together",
		ArgsUsage:   "--out MERGED.json LOADER1.json LOADER2.json...",
		Description: mergeDescription,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "the merged result file (required)"},
			forceFlag(),
			formatFlag(""),
		},
		Action: mergeAction,
	})
}

func mergeAction(c *cli.Context) error {
	paths, err := interspersedFlags(c, c.Args().Slice())
	if err != nil {
		return err
	}
	out := c.String("out")
	if out == "" {
		return usageError("--out: required (merge --out MERGED.json A.json B.json...)")
	}
	if len(paths) < 2 {
		return usageError("merge needs at least two result files, got %d", len(paths))
	}
	format := c.String("format")
	if err := checkResultFormat(format); err != nil {
		return err
	}
	for _, p := range paths {
		if samePath(p, out) {
			return usageError("--out %s: is one of the files to merge", out)
		}
	}
	if err := checkOutPath("--out", out, c.Bool("force"), false); err != nil {
		return err
	}
	files, err := loadResults(paths)
	if err != nil {
		return err
	}
	in := make([]merge.Input, len(paths))
	for i, p := range paths {
		in[i] = merge.Input{Name: p, File: files[i]}
	}
	f, err := merge.Files(in)
	if err != nil {
		if errors.Is(err, merge.ErrMismatch) || errors.Is(err, result.ErrInvalid) {
			return usageError("merge: %s", oneLine(err.Error()))
		}
		return exitError(exitFailure, err)
	}
	f.Command = os.Args
	written, saveErr := saveResult(f, out, false, "", c.Bool("force"))
	if err := printChecked(c.App.Writer, format, f, written); err != nil {
		return err
	}
	if saveErr != nil {
		return saveErr
	}
	fmt.Fprintf(c.App.ErrWriter, "merged %d files into %s\n", len(paths), written)
	return nil
}
