package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/ringbench/ringbench/internal/export"
	"github.com/ringbench/ringbench/internal/result"
	"github.com/ringbench/ringbench/internal/termsafe"
)

func init() {
	commands = append(commands, &cli.Command{
		Name:      "show",
		Usage:     "print stored result files again, in any output format, without measuring",
		ArgsUsage: "RESULT.json...",
		Description: "Renders result files written by `ringbench run` or `load` as run would have printed them, or in a " +
			"format for other tools: table, json (the file itself; one document per file), csv (one row per sample, " +
			"empty cells for figures not measured), markdown, gobench (Go benchmark text for benchstat), openmetrics " +
			"(for a Pushgateway or a Prometheus textfile collector; ends with # EOF). Table, markdown and json render " +
			"each file on its own; csv, gobench and openmetrics write one document for all files.\n\n" +
			"--hlog DIR writes each series' latency histograms as HdrHistogram interval logs (NAME.hlog, values in " +
			"ns) and percentile distributions (NAME.hgrm, values in µs); with --hlog, nothing is printed unless " +
			"--format is given too. Flags may come before or after the files.\n\n" +
			"Exit status: 0 shown, 1 stdout or DIR could not be written, 2 bad flag or result file.",
		Flags: []cli.Flag{
			formatFlag(""),
			hlogFlag(""),
			&cli.BoolFlag{Name: "force", Usage: "replace .hlog and .hgrm files in --hlog DIR"},
		},
		Action: showAction,
	})
}

func showAction(c *cli.Context) error {
	paths, err := resultFileArgs(c, "ringbench show RESULT.json... [--format F]")
	if err != nil {
		return err
	}
	format := c.String("format")
	if err := checkResultFormat(format); err != nil {
		return err
	}
	hlog := c.String("hlog")
	if err := checkHlog(hlog, c.Bool("force")); err != nil {
		return err
	}
	files, err := loadResults(paths)
	if err != nil {
		return err
	}
	if hlog == "" || c.IsSet("format") {
		if err := showPrint(c, format, paths, files); err != nil {
			return err
		}
	}
	if hlog != "" {
		written, err := export.WriteHlog(hlog, c.Bool("force"), files...)
		if errors.Is(err, result.ErrInvalid) {
			return usageError("%s", oneLine(err.Error()))
		} else if err != nil {
			return exitError(exitFailure, fmt.Errorf("--hlog: %w", err))
		}
		fmt.Fprintf(c.App.ErrWriter, "histogram logs: %d files in %s\n", len(written), hlog)
	}
	return nil
}

// loadResults reads the result files at paths; one that cannot be read or is not a valid result file is a
// usage error.
func loadResults(paths []string) ([]*result.File, error) {
	files := make([]*result.File, len(paths))
	for i, p := range paths {
		f, err := result.Load(p)
		if err != nil {
			return nil, usageError("%s", oneLine(err.Error()))
		}
		files[i] = f
	}
	return files, nil
}

// showPrint writes files to stdout in format; with several files, table and markdown name each file first.
func showPrint(c *cli.Context, format string, paths []string, files []*result.File) error {
	sw := &export.ErrWriter{W: c.App.Writer}
	var err error
	if len(files) > 1 && (format == "table" || format == "markdown") {
		for i, f := range files {
			if i > 0 {
				fmt.Fprintln(sw)
			}
			name := termsafe.String(paths[i])
			if f.Label != "" {
				name += " (" + termsafe.String(f.Label) + ")"
			}
			if format == "markdown" {
				fmt.Fprintf(sw, "## %s\n\n", name)
			} else {
				fmt.Fprintf(sw, "== %s ==\n", name)
			}
			if err = export.Write(sw, format, f); err != nil {
				break
			}
		}
	} else {
		err = export.Write(sw, format, files...)
	}
	if err == nil {
		err = sw.Err
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, result.ErrInvalid):
		return usageError("%s", oneLine(err.Error()))
	}
	return exitError(exitFailure, fmt.Errorf("writing the %s output: %w", format, err))
}
