package main

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/ringbench/ringbench/internal/seccomp"
)

// sandboxGroups are the names --deny accepts, each a set of syscalls.
var sandboxGroups = map[string][]uintptr{
	"io_uring":          seccomp.IOUringSyscalls,
	"io_uring_setup":    {unix.SYS_IO_URING_SETUP},
	"io_uring_enter":    {unix.SYS_IO_URING_ENTER},
	"io_uring_register": {unix.SYS_IO_URING_REGISTER},
}

// sandboxErrnos are the errnos --errno accepts: what a policy or an old kernel would answer.
var sandboxErrnos = map[string]unix.Errno{
	"EPERM":  unix.EPERM,
	"EACCES": unix.EACCES,
	"ENOSYS": unix.ENOSYS,
	"EINVAL": unix.EINVAL,
	"ENOMEM": unix.ENOMEM,
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func init() {
	commands = append(commands, &cli.Command{
		Name:      "sandbox",
		Hidden:    true,
		Usage:     "run a command with chosen syscalls failing (seccomp), to see how ringbench copes",
		UsageText: "ringbench sandbox --deny io_uring [--errno EPERM] -- CMD [ARGS...]",
		Description: "Installs a seccomp filter on itself that makes the denied syscalls fail with --errno in every " +
			"thread, then executes CMD, which inherits the filter (filters survive exec and cannot be removed). " +
			"It reproduces what a container runtime's seccomp profile (EPERM) or a kernel without io_uring " +
			"(ENOSYS) looks like to ringbench, without root and without touching the host.\n\n" +
			"--deny io_uring means io_uring_setup, io_uring_enter and io_uring_register.\n\n" +
			"Exit status: CMD's own status once it runs; 2 bad flag or value; 3 seccomp filters are not available " +
			"here; 127 CMD not found or not executable.",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "deny",
				Usage: "syscalls to make fail (repeatable or comma-separated): " + strings.Join(sortedKeys(sandboxGroups), ", ")},
			&cli.StringFlag{Name: "errno", Value: "EPERM",
				Usage: "what the denied syscalls return: " + strings.Join(sortedKeys(sandboxErrnos), ", ")},
		},
		Action: sandboxAction,
	})
}

func sandboxAction(c *cli.Context) error {
	if len(c.StringSlice("deny")) == 0 {
		return usageError("sandbox needs --deny (known: %s)", strings.Join(sortedKeys(sandboxGroups), ", "))
	}
	var nrs []uintptr
	seen := map[uintptr]bool{}
	for _, item := range c.StringSlice("deny") {
		for _, name := range strings.Split(item, ",") {
			name = strings.TrimSpace(name)
			group, ok := sandboxGroups[name]
			if !ok {
				return usageError("--deny %q: unknown (known: %s)", name, strings.Join(sortedKeys(sandboxGroups), ", "))
			}
			for _, nr := range group {
				if !seen[nr] {
					seen[nr] = true
					nrs = append(nrs, nr)
				}
			}
		}
	}
	name := strings.ToUpper(c.String("errno"))
	errno, ok := sandboxErrnos[name]
	if !ok {
		if n, err := strconv.Atoi(name); err == nil && n > 0 && n < 4096 {
			errno = unix.Errno(n)
		} else {
			return usageError("--errno %q: unknown (known: %s, or a number)", c.String("errno"), strings.Join(sortedKeys(sandboxErrnos), ", "))
		}
	}
	if c.NArg() == 0 {
		return usageError("sandbox needs a command to run: ringbench sandbox --deny io_uring -- CMD [ARGS...]")
	}
	argv := c.Args().Slice()
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return cli.Exit(fmt.Sprintf("ringbench: sandbox: %v", err), 127)
	}
	if err := seccomp.DenySyscalls(nrs, errno); err != nil {
		return exitError(exitUnsupported, fmt.Errorf("sandbox: %w", err))
	}
	// Exec replaces this process; the filter stays with it.
	err = syscall.Exec(path, argv, os.Environ())
	return cli.Exit(fmt.Sprintf("ringbench: sandbox: exec %s: %v", path, err), 127)
}
