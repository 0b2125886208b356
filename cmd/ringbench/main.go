// Command ringbench measures, on this machine and kernel, what io_uring buys over epoll.
package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ringbench/ringbench/internal/termsafe"
)

// Set at build time: go build -ldflags "-X main.version=v0.1.0 -X main.commit=$(git rev-parse --short HEAD)".
// Without them, init takes what the Go toolchain stamped into the binary (stampFromBuildInfo): the module
// version of `go install ...@v0.1.0`, and the VCS revision of a build in a git checkout (unless
// -buildvcs=false).
var (
	version = "dev"
	commit  = ""
)

func init() {
	if bi, ok := debug.ReadBuildInfo(); ok {
		version, commit = stampFromBuildInfo(bi, version, commit)
	}
}

// stampFromBuildInfo fills what the linker flags left at their defaults ("dev", "") from the build info:
// the main module's version (not "(devel)"), and vcs.revision, shortened to 12 digits, with "-dirty"
// when vcs.modified says the tree had changes.
func stampFromBuildInfo(bi *debug.BuildInfo, v, c string) (string, string) {
	if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	if c != "" {
		return v, c
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return v, c
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified == "true" {
		rev += "-dirty"
	}
	return v, rev
}

// Exit statuses shared by every command.
const (
	exitOK          = 0
	exitFailure     = 1 // the measurement or comparison failed (compare: a regression)
	exitUsage       = 2 // bad flag, value or file
	exitUnsupported = 3 // not comparable, or the asked-for backend cannot run here
	// compare only: no regression found, but too few samples for some comparisons to find one.
	exitInconclusive = 4
	// compare only: comparing or rendering failed, which says nothing about the results (unlike 1).
	exitInternal    = 5
	exitInterrupted = 130
)

// commands is filled by each command's file from init, so that commands live in files of their own.
var commands []*cli.Command

// usageError is a one-line complaint about what the user typed; it exits with status 2. Messages may
// quote result files and peers, so control characters are escaped (termsafe).
func usageError(format string, args ...any) error {
	return cli.Exit("ringbench: "+termsafe.String(fmt.Sprintf(format, args...)), exitUsage)
}

// exitError wraps err with a status, printed as one line (escaped, as usageError's).
func exitError(code int, err error) error {
	return cli.Exit("ringbench: "+termsafe.String(err.Error()), code)
}

func onUsageError(c *cli.Context, err error, _ bool) error {
	var flags []cli.Flag
	if c != nil && c.Command != nil {
		flags = c.Command.Flags
	}
	if c != nil && len(flags) == 0 && c.App != nil {
		flags = c.App.Flags
	}
	return usageError("%s", explainFlagError(err.Error(), flags))
}

var (
	// The flag package's message for a value its parser refused, which drops the parser's reason.
	flagParseErr = regexp.MustCompile(`^invalid value "(.*)" for flag -+([^:]+): parse error$`)
	flagBadBool  = regexp.MustCompile(`^invalid boolean value "(.*)" for -+([^:]+): parse error$`)
	flagUnknown  = regexp.MustCompile(`^flag provided but not defined: -+(.+)$`)
)

// explainFlagError rewrites the flag package's terse messages: a value it could not parse gets the
// reason and an example ("--duration "30": missing unit, e.g. 30s"), an unknown flag a suggestion.
func explainFlagError(msg string, flags []cli.Flag) string {
	if m := flagUnknown.FindStringSubmatch(msg); m != nil {
		if cli.SuggestFlag != nil {
			if s := cli.SuggestFlag(flags, m[1], false); s != "" {
				return msg + " (did you mean " + s + "?)"
			}
		}
		return msg
	}
	m := flagParseErr.FindStringSubmatch(msg)
	if m == nil {
		m = flagBadBool.FindStringSubmatch(msg)
	}
	if m == nil {
		return msg
	}
	value, name := m[1], m[2]
	var fl cli.Flag
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				fl = f
			}
		}
	}
	if fl == nil {
		return msg
	}
	long := "--" + fl.Names()[0]
	switch fl.(type) {
	case *cli.DurationFlag:
		if _, err := time.ParseDuration(value); err != nil && strings.Contains(err.Error(), "missing unit") {
			return fmt.Sprintf("%s %q: missing unit, e.g. %ss or %sms", long, value, value, value)
		}
		return fmt.Sprintf("%s %q: not a duration, e.g. 2s, 500ms or 1m30s", long, value)
	case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag:
		return fmt.Sprintf("%s %q: not a whole number", long, value)
	case *cli.Float64Flag:
		return fmt.Sprintf("%s %q: not a number", long, value)
	case *cli.BoolFlag:
		return fmt.Sprintf("%s %q: want true or false", long, value)
	}
	return msg
}

func newApp() *cli.App {
	sort.Slice(commands, func(i, j int) bool { return commandRank(commands[i].Name) < commandRank(commands[j].Name) })
	for _, c := range commands {
		if c.OnUsageError == nil {
			c.OnUsageError = onUsageError
		}
	}
	return &cli.App{
		Name:  "ringbench",
		Usage: "measure what io_uring buys over epoll on this machine and kernel",
		Description: "Runs the same file and network workloads on epoll, io_uring and io_uring with SQPOLL, " +
			"counting syscalls, CPU time and latency with the kernel's own counters.\n\n" +
			"Exit statuses, the same for every command: 0 ok, 1 failure (compare: a regression), 2 bad input " +
			"(flag, value or file), 3 not supported here (compare: not comparable), 4 compare: inconclusive (too few " +
			"samples), 5 compare: internal error, 130 interrupted.",
		Version:              versionString(),
		Commands:             commands,
		OnUsageError:         onUsageError,
		EnableBashCompletion: true,
		Suggest:              true,
		CommandNotFound: func(c *cli.Context, name string) {
			hint := "see ringbench --help"
			if cli.SuggestCommand != nil {
				if s := cli.SuggestCommand(c.App.Commands, name); s != "" {
					hint = s // "Did you mean ...?"
				}
			}
			fmt.Fprintf(c.App.ErrWriter, "ringbench: unknown command %q (%s)\n", name, hint)
			os.Exit(exitUsage)
		},
	}
}

var commandOrder = []string{"run", "findings", "probe", "show", "report", "compare", "serve", "load", "version", "completion", "man"}

func commandRank(name string) int {
	for i, n := range commandOrder {
		if n == name {
			return i
		}
	}
	return len(commandOrder)
}

func versionString() string {
	v := version
	if commit != "" {
		v += " (" + commit + ")"
	}
	return v
}

func init() {
	commands = append(commands, &cli.Command{
		Name:  "version",
		Usage: "print version, git commit and Go version",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError("version takes no arguments, got %q", c.Args().First())
			}
			cm := commit
			if cm == "" {
				cm = "unknown (build in a git checkout, or with -ldflags \"-X main.commit=...\")"
			}
			fmt.Fprintf(c.App.Writer, "ringbench %s\ncommit %s\n%s %s/%s\n", version, cm, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	})
}

func main() {
	app := newApp()
	if err := app.Run(os.Args); err != nil {
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			if msg := err.Error(); msg != "" {
				fmt.Fprintln(os.Stderr, msg)
			}
			os.Exit(ec.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "ringbench:", err)
		os.Exit(exitFailure)
	}
}
