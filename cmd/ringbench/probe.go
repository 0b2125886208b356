package main

import (
	"github.com/urfave/cli/v2"

	"github.com/ringbench/ringbench/internal/probe"
)

const probeDescription = `Reports what this machine, kernel and user allow ringbench to measure, without running a
benchmark (it takes about a second):

  - kernel, CPU, virtualisation, vulnerability mitigations, and the measured cost of a null syscall;
  - io_uring: kernel.io_uring_disabled (absent, 0, 1 or 2; "absent" on kernels before 6.6 means the
    sysctl does not exist, not that io_uring is off) and io_uring_group; whether a ring can be set up
    and, when not, why in plain words (sysctl, seccomp or container policy for EPERM; a kernel too old
    or built without io_uring for ENOSYS); supported features and opcodes; which setup flags are
    accepted (SQPOLL for this user, SINGLE_ISSUER, DEFER_TASKRUN, COOP_TASKRUN, TASKRUN_FLAG,
    NO_SQARRAY), each tried on its own without fallback; provided-buffer rings, multishot accept and
    multishot recv, tried on loopback TCP;
  - whether the kernel's syscall counters (perf tracepoints) work for this user, and which events
    would read a false zero (0 with no error) so that ringbench reports them as unavailable;
  - one verdict per backend:
      epoll   readiness I/O with epoll (file reads are plain pread): the baseline
      uring   io_uring: needs ring setup to work and the READ opcode; missing network or open
              opcodes are listed as warnings
      sqpoll  io_uring with a kernel submission-polling thread: needs SQPOLL for this user; warns
              when fewer than 2 CPUs are in the affinity mask (the poll thread would have no core
              of its own)
      gostd   Go's os and net packages
    "runnable" means "ringbench run --backend NAME" can run here; "NOT RUNNABLE" is followed by
    the reason, and such a run exits with status 3.

The probe itself succeeds (exit status 0) even when io_uring is unavailable: the verdicts carry the
news. --format json prints the same report, plus the full environment fingerprint stored in results,
as JSON with stable field names; "schema" ("ringbench/probe") and "version" say which layout, as in
result files ("schema_version", the same number, is kept for older readers). --json is short for
--format json.`

func init() {
	commands = append(commands, &cli.Command{
		Name:        "probe",
		Usage:       "report what this kernel and user allow: io_uring setup, flags, opcodes, counters, backend verdicts",
		UsageText:   "ringbench probe [--format table|json]",
		Description: probeDescription,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "table", Usage: "table or json"},
			&cli.BoolFlag{Name: "json", Hidden: true, Usage: "the same as --format json (kept for scripts)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError("probe takes no arguments, got %q", c.Args().First())
			}
			format := c.String("format")
			switch {
			case c.Bool("json") && c.IsSet("format") && format != "json":
				return usageError("--json contradicts --format %s", format)
			case c.Bool("json"):
				format = "json"
			case format != "table" && format != "json":
				return usageError("--format %q: want table or json", format)
			}
			rep := probe.Run(probe.Options{Version: version, Commit: commit})
			var err error
			if format == "json" {
				err = rep.WriteJSON(c.App.Writer)
			} else {
				err = rep.WriteText(c.App.Writer)
			}
			if err != nil {
				return exitError(exitFailure, err)
			}
			return nil
		},
	})
}
