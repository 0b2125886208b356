package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ringbench/ringbench/internal/loadgen"
	"github.com/ringbench/ringbench/internal/units"
)

// msgSizeRange is --msg-size's range, as the usage text of run and load says it.
var msgSizeRange = fmt.Sprintf("%d B to %s", loadgen.MinMsgSize, units.FormatSize(loadgen.MaxMsgSize))

// sizeFlag parses the size flag name ("4k", "256M"). Zero is refused as a typed value, since a zero in a
// workload or generator config means "the default"; the upper limit is the owner's to check (the
// workload's Validate, loadgen.Config.Validate), naming the flag as well.
func sizeFlag(c *cli.Context, name, example string) (int64, error) {
	v, err := units.ParseSize(c.String(name))
	if err != nil || v < 1 {
		return 0, usageError("--%s %q: want a positive size such as %s", name, c.String(name), example)
	}
	return v, nil
}

// splitList splits a comma-separated flag value, refusing an empty list and "all" among names.
func splitList(v, flag string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, usageError("%s: empty list", flag)
	}
	for _, s := range out {
		if s == "all" && len(out) > 1 {
			return nil, usageError("%s: \"all\" cannot be combined with names", flag)
		}
	}
	return out, nil
}

// checkDir says, in one line, why dir cannot hold a data set.
func checkDir(dir string) error {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s: no such directory", dir)
	case err != nil:
		return fmt.Errorf("%s: %v", dir, errors.Unwrap(err))
	case !st.IsDir():
		return fmt.Errorf("%s: not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".ringbench-probe-*")
	if err != nil {
		return fmt.Errorf("%s: not writable: %v", dir, errors.Unwrap(err))
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}
