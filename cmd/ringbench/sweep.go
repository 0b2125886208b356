package main

import (
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/ringbench/ringbench/internal/runner"
	"github.com/ringbench/ringbench/internal/units"
)

// sweepValue parses one value of sweepable flag: a count with k/M for --conns, a size for --msg-size, a
// plain integer for the others; why says what it is not.
func sweepValue(flag, v string) (n int64, why string) {
	var err error
	switch flag {
	case "conns":
		n, err = units.ParseCount(v)
		why = "is not a number"
	case "msg-size":
		n, err = units.ParseSize(v)
		why = "is not a size such as 64 or 4k"
	case "gen-threads":
		n, err = strconv.ParseInt(v, 0, 64)
		why = "is not a number (nor threads, alone)"
	default:
		n, err = strconv.ParseInt(v, 0, 64)
		why = "is not a number"
	}
	if err != nil || n > 1<<31 {
		return 0, why
	}
	return n, ""
}

// sweepLists reads the comma lists of the sweepable flags (runner.SweepFlags), in the order the user gave
// them on the command line (args): each list of two values or more is an axis. A flag given one value is
// left to runConfig, parsed as before lists existed.
func sweepLists(c *cli.Context, args []string) ([]runner.Axis, error) {
	var axes []runner.Axis
	for _, flag := range runner.SweepFlags {
		v := c.String(flag)
		if !strings.Contains(v, ",") {
			continue
		}
		a := runner.Axis{Flag: flag}
		var given []string
		for _, e := range strings.Split(v, ",") {
			e = strings.TrimSpace(e)
			if e == "" {
				return nil, usageError("--%s %s: empty element", flag, v)
			}
			n, why := sweepValue(flag, e)
			switch {
			case why != "":
				return nil, usageError("--%s %s: %q %s", flag, v, e, why)
			case n < 1:
				return nil, usageError("--%s %s: %q must be at least 1", flag, v, e)
			case slices.Contains(a.Values, int(n)):
				if first := given[slices.Index(a.Values, int(n))]; first != e {
					return nil, usageError("--%s %s: %q given twice (as %s)", flag, v, e, first)
				}
				return nil, usageError("--%s %s: %q given twice", flag, v, e)
			}
			a.Values = append(a.Values, int(n))
			given = append(given, e)
		}
		axes = append(axes, a)
	}
	slices.SortStableFunc(axes, func(a, b runner.Axis) int { return flagPosition(args, a.Flag) - flagPosition(args, b.Flag) })
	return axes, nil
}

// flagPosition is where --flag (or -flag, --flag=...) first appears in args; len(args) when it does not.
func flagPosition(args []string, flag string) int {
	for i, a := range args {
		if a == "--" {
			break
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == flag {
			return i
		}
	}
	return len(args)
}

// genThreadsSame is `--gen-threads threads`: the load generator gets as many threads as the server's
// --threads at each point.
func genThreadsSame(c *cli.Context) bool {
	return strings.TrimSpace(c.String("gen-threads")) == "threads"
}

// sweepAxis is the axis of flag among axes, or nil.
func sweepAxis(axes []runner.Axis, flag string) *runner.Axis {
	for i := range axes {
		if axes[i].Flag == flag {
			return &axes[i]
		}
	}
	return nil
}

// intFlag parses an integer flag given one value (a list is sweepLists' business); "" is 0.
func intFlag(c *cli.Context, flag string) (int, error) {
	v := strings.TrimSpace(c.String(flag))
	n, why := sweepValue(flag, v)
	if why != "" {
		return 0, usageError("--%s %s: %q %s", flag, v, v, why)
	}
	return int(n), nil
}
