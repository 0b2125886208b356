package report

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ringbench/ringbench/internal/result"
)

// Options control Generate.
type Options struct {
	// Out is the directory to write into. It is created if missing; if it exists and is not empty,
	// Generate refuses unless Force is set.
	Out   string
	Force bool
	// WidthPx and HeightPx are the chart size in pixels (0 = DefaultWidth x DefaultHeight). Bar charts with
	// many bars grow wider than WidthPx.
	WidthPx, HeightPx int
	// Tool names the program in the page ("ringbench v0.1.0 (abc1234)").
	Tool string
	// Now is the generation time shown in the page (zero = time.Now()).
	Now time.Time
}

// Output is what Generate wrote.
type Output struct {
	Dir    string
	Index  string   // path of index.html
	Files  []string // every file written, index.html last
	Charts []*Chart
	Report *Report
}

// Generate loads the result files, renders every chart as PNG and SVG and index.html, and writes them to
// opts.Out. Problems with the inputs match ErrInput, with the output directory ErrOutput; each is one line.
func Generate(paths []string, opts Options) (*Output, error) {
	opts.WidthPx = cmp.Or(opts.WidthPx, DefaultWidth)
	opts.HeightPx = cmp.Or(opts.HeightPx, DefaultHeight)
	opts.Tool = cmp.Or(opts.Tool, "ringbench")
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Out == "" {
		return nil, outputError(errors.New("no output directory given"))
	}
	inputs, err := LoadFiles(paths)
	if err != nil {
		return nil, err
	}
	if err := checkOut(opts.Out, opts.Force); err != nil {
		return nil, err
	}
	r, err := Build(inputs)
	if err != nil {
		return nil, err
	}
	charts, err := RenderCharts(r, opts.WidthPx, opts.HeightPx)
	if err != nil {
		return nil, err
	}
	page, err := HTML(r, charts, opts.Tool, opts.Now)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Out, 0o755); err != nil {
		return nil, fmt.Errorf("--out %s: %w", opts.Out, err)
	}
	out := &Output{Dir: opts.Out, Index: filepath.Join(opts.Out, "index.html"), Charts: charts, Report: r}
	write := func(name string, data []byte) error {
		p := filepath.Join(opts.Out, name)
		if err := result.WriteFileAtomic(p, data, opts.Force); err != nil {
			if errors.Is(err, result.ErrExists) {
				return outputError(err)
			}
			return err
		}
		out.Files = append(out.Files, p)
		return nil
	}
	for _, c := range charts {
		if err := write(c.Name+".png", c.PNG); err != nil {
			return nil, err
		}
		if err := write(c.Name+".svg", c.SVG); err != nil {
			return nil, err
		}
	}
	if err := write("index.html", page); err != nil {
		return nil, err
	}
	return out, nil
}

// checkOut refuses an output path that is not a directory, or a non-empty directory without force.
func checkOut(dir string, force bool) error {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return outputError(fmt.Errorf("--out %s: %w", dir, err))
	}
	if !st.IsDir() {
		return outputError(fmt.Errorf("--out %s: exists and is not a directory", dir))
	}
	if force {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return outputError(fmt.Errorf("--out %s: %w", dir, err))
	}
	defer d.Close()
	if _, err := d.Readdirnames(1); err == nil {
		return outputError(fmt.Errorf("--out %s: exists and is not empty (use --force to write into it)", dir))
	} else if !errors.Is(err, io.EOF) {
		return outputError(fmt.Errorf("--out %s: %w", dir, err))
	}
	return nil
}
