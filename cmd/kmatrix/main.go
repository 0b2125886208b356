// Command kmatrix is the host-side helper of scripts/kernel-matrix.sh:
//
//	kmatrix initramfs -o OUT.cpio.gz SPEC      build a gzip newc initramfs from a gen_init_cpio-style spec
//	kmatrix parse -log LOG -out DIR [-accel kvm|tcg] [-label L] [-package P]
//	                                           verify and file the marked blocks of a serial-console log
//	kmatrix caps                               (in the guest) try a provided buffer ring and multishot recv, print JSON
//	kmatrix table DIR|BOOT.json...             print the feature matrix of the boot summaries (a DIR: all *.boot.json in it)
//
// Exit status: 0 ok, 1 the log (or a file) is unusable or incomplete, 2 usage.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ringbench/ringbench/internal/kmatrix"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  kmatrix initramfs -o OUT.cpio.gz SPEC
  kmatrix parse -log LOG -out DIR [-accel kvm|tcg] [-label LABEL] [-package PKG] [-note TEXT]...
  kmatrix table DIR|BOOT.json...
  kmatrix caps
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("kmatrix "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch args[0] {
	case "initramfs":
		out := fs.String("o", "", "archive to write (gzip-compressed newc cpio)")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		if *out == "" || fs.NArg() != 1 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		if err := kmatrix.BuildInitramfs(fs.Arg(0), *out); err != nil {
			fmt.Fprintln(stderr, "kmatrix:", err)
			return 1
		}
		return 0
	case "parse":
		logPath := fs.String("log", "", "serial-console log of one boot")
		out := fs.String("out", "", "directory for the probe, result and summary files")
		accel := fs.String("accel", "", `accelerator qemu ran with: "kvm" or "tcg" ("" = as the guest reports)`)
		label := fs.String("label", "", `label for the files and results ("" = <major.minor>-<accel>)`)
		pkg := fs.String("package", "", "Debian package of the kernel (recorded)")
		var notes multiFlag
		fs.Var(&notes, "note", "a warning to record with this boot (repeatable), e.g. that an earlier attempt failed")
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		if *logPath == "" || *out == "" || fs.NArg() != 0 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		if *accel != "" && *accel != "kvm" && *accel != "tcg" {
			fmt.Fprintf(stderr, "kmatrix: -accel %q: want kvm or tcg\n", *accel)
			return 2
		}
		fh, err := os.Open(*logPath)
		if err != nil {
			fmt.Fprintln(stderr, "kmatrix:", err)
			return 1
		}
		defer fh.Close()
		c, err := kmatrix.ParseConsole(*logPath, fh)
		if err != nil {
			fmt.Fprintln(stderr, "kmatrix:", err)
			return 1
		}
		b, err := kmatrix.Process(c, kmatrix.Options{OutDir: *out, Accel: *accel, Label: *label, Package: *pkg, Notes: notes})
		if b != nil {
			fmt.Fprintf(stdout, "%s: %s, %s: probe %s; run: %s\n", b.Label, orUnknown(b.Row.Release), b.Accelerator, b.Row.Probe, b.Row.Run)
			for _, w := range b.Warnings {
				fmt.Fprintf(stdout, "%s: warning: %s\n", b.Label, w)
			}
		}
		if err != nil {
			for _, e := range unjoin(err) {
				fmt.Fprintln(stderr, "kmatrix:", e)
			}
			return 1
		}
		return 0
	case "table":
		if err := fs.Parse(args[1:]); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		boots, err := kmatrix.LoadBoots(fs.Args()...)
		if err != nil {
			fmt.Fprintln(stderr, "kmatrix:", err)
			return 1
		}
		t, err := kmatrix.Table(boots)
		if err != nil {
			fmt.Fprintln(stderr, "kmatrix:", err)
			return 1
		}
		fmt.Fprint(stdout, t)
		return 0
	case "caps":
		if len(args) != 1 {
			fmt.Fprint(stderr, usage)
			return 2
		}
		data, err := json.MarshalIndent(kmatrix.ProbeCaps(), "", "  ")
		if err != nil {
			fmt.Fprintln(stderr, "kmatrix:", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s\n", data)
		return 0
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "kmatrix: unknown command %q\n%s", args[0], usage)
		return 2
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "kernel unknown"
	}
	return s
}

// unjoin splits an errors.Join error into its parts, so that each prints on a line of its own.
func unjoin(err error) []error {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		return j.Unwrap()
	}
	return []error{err}
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string { return fmt.Sprint([]string(*m)) }

func (m *multiFlag) Set(s string) error {
	*m = append(*m, s)
	return nil
}
