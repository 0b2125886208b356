package probe

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

const (
	keyWidth  = 20 // column where values start, after a two-space indent
	lineWidth = 100
)

type textWriter struct {
	w   io.Writer
	err error
}

func (t *textWriter) printf(format string, args ...any) {
	if t.err == nil {
		_, t.err = fmt.Fprintf(t.w, format, args...)
	}
}

// kv prints one "  key   value" line; continuation lines of value are aligned under it.
func (t *textWriter) kv(key, value string) {
	pad := strings.Repeat(" ", 2+keyWidth)
	var lines []string
	for _, l := range strings.Split(value, "\n") {
		if len(l) > lineWidth-len(pad) {
			l = wrapWords(strings.Fields(l), lineWidth-len(pad))
		}
		lines = append(lines, strings.Split(l, "\n")...)
	}
	t.printf("  %-*s%s\n", keyWidth, key, lines[0])
	for _, l := range lines[1:] {
		t.printf("%s%s\n", pad, l)
	}
}

// wrapWords joins words with spaces into lines of at most width characters.
func wrapWords(words []string, width int) string {
	var b strings.Builder
	n := 0
	for _, w := range words {
		if n > 0 && n+1+len(w) > width {
			b.WriteByte('\n')
			n = 0
		} else if n > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// DisabledMeaning explains a kernel.io_uring_disabled value.
func DisabledMeaning(v string) string {
	switch v {
	case "absent":
		return "absent (no such sysctl: kernels before 6.6; io_uring is not restricted by it)"
	case "0":
		return "0 (io_uring allowed to every process)"
	case "1":
		return "1 (only CAP_SYS_ADMIN and members of kernel.io_uring_group)"
	case "2":
		return "2 (io_uring switched off for every process)"
	case "":
		return "unknown (the sysctl exists but cannot be read)"
	}
	return v
}

func seccompMeaning(m int) string {
	switch m {
	case 0:
		return "none"
	case 1:
		return "strict mode"
	case 2:
		return "filter active (a syscall policy applies to this process)"
	}
	return "unknown"
}

// WriteText writes the report for people: sections of aligned key/value lines.
func (r *Report) WriteText(w io.Writer) error {
	t := &textWriter{w: w}
	width := lineWidth - 2 - keyWidth
	tool := "ringbench " + r.Tool.Version
	if r.Tool.Commit != "" {
		tool += " (" + r.Tool.Commit + ")"
	}
	t.printf("%s probe: what this machine, kernel and user allow\n\n", tool)

	t.printf("System\n")
	kernel := r.Kernel.Release + " " + r.Kernel.Arch
	if r.Kernel.Version != "" {
		kernel += " (" + r.Kernel.Version + ")"
	}
	t.kv("kernel", kernel)
	cpu := cmp.Or(r.CPU.Model, "unknown model")
	cpu += fmt.Sprintf(": %d logical", r.CPU.Logical)
	if r.CPU.Physical > 0 {
		cpu += fmt.Sprintf(", %d physical", r.CPU.Physical)
	}
	if r.CPU.Affinity != "" {
		cpu += fmt.Sprintf("; this process may use %s (%d CPUs)", r.CPU.Affinity, r.CPU.AffinityCount)
	}
	t.kv("cpu", cpu)
	if r.CPU.Governor != "" {
		t.kv("governor", r.CPU.Governor)
	}
	virt := "none detected"
	var parts []string
	if r.Virt.Hypervisor != "" {
		parts = append(parts, "hypervisor "+r.Virt.Hypervisor)
	}
	if r.Virt.Emulated {
		parts = append(parts, "EMULATED ("+r.Virt.Accelerator+"): figures not comparable with hardware")
	}
	if r.Virt.Container != "" {
		parts = append(parts, "container "+r.Virt.Container)
	}
	if len(parts) > 0 {
		virt = strings.Join(parts, ", ")
	}
	if r.Virt.Evidence != "" {
		virt += "\n(seen: " + r.Virt.Evidence + ")"
	}
	t.kv("virtualisation", virt)
	t.kv("mitigations", cmp.Or(r.Mitigations.Summary, "unknown (no /sys/devices/system/cpu/vulnerabilities)"))
	if r.NullSyscallNs > 0 {
		t.kv("null syscall", fmt.Sprintf("%.0f ns (%s)", r.NullSyscallNs, r.NullSyscallHow))
	}

	t.printf("\nio_uring\n")
	iu := r.IOUring
	disabled := DisabledMeaning(iu.Disabled)
	if iu.Group != "" {
		disabled += "\nio_uring_group " + iu.Group
	}
	t.kv("io_uring_disabled", disabled)
	t.kv("seccomp", seccompMeaning(iu.SeccompMode))
	if iu.SetupOK {
		t.kv("setup", "ok")
	} else {
		t.kv("setup", "FAILS: "+iu.SetupError)
	}
	if iu.SetupOK {
		t.kv("features", wrapWords(append([]string{fmt.Sprintf("%#x:", iu.Features)}, iu.FeatureNames...), width))
		if len(iu.Opcodes) > 0 {
			t.kv("opcodes", wrapWords(append([]string{fmt.Sprintf("%d supported (last opcode %d):", len(iu.Opcodes), iu.LastOpcode)},
				iu.Opcodes...), width))
		} else {
			t.kv("opcodes", "unknown (no IORING_REGISTER_PROBE: kernel before 5.6)")
		}
	}
	var flags []string
	if !iu.SetupOK {
		flags = append(flags, "not tried: io_uring setup fails")
	}
	for _, f := range iu.SetupFlags {
		if !iu.SetupOK {
			break
		}
		s := fmt.Sprintf("%-14s ", f.Name)
		if f.Accepted {
			s += "accepted"
		} else {
			s += "no: " + f.Reason
		}
		flags = append(flags, s)
	}
	t.kv("setup flags", strings.Join(flags, "\n"))
	support := func(s Support) string {
		v := yesNo(s.Supported)
		if s.Detail != "" {
			v += ", " + s.How + ": " + s.Detail
		}
		return v
	}
	t.kv("buffer rings", support(iu.BufRing))
	t.kv("multishot accept", support(iu.MultishotAccept))
	t.kv("multishot recv", support(iu.MultishotRecv))

	t.printf("\nSyscall counting (perf tracepoints)\n")
	c := r.Counting
	if !c.Checked {
		t.kv("status", "not checked")
	} else {
		who := "not root"
		if c.Root {
			who = "root"
		}
		status := "works"
		if !c.Available {
			status = "UNAVAILABLE"
		}
		tracefs := "tracefs readable"
		if !c.TracefsReadable {
			tracefs = "tracefs not readable"
		}
		t.kv("status", fmt.Sprintf("%s (%s; perf_event_paranoid %d; %s)", status, who, c.Paranoid, tracefs))
		if !c.Available && c.Error != "" {
			t.kv("why", c.Error)
		}
		var okNames []string
		var reasons []string
		byReason := map[string][]string{}
		for _, e := range c.Events {
			if e.OK {
				okNames = append(okNames, e.Name)
				continue
			}
			reason := e.Reason
			if e.FalseZeroRisk {
				reason = "would read a FALSE ZERO: " + reason
			}
			if _, seen := byReason[reason]; !seen {
				reasons = append(reasons, reason)
			}
			byReason[reason] = append(byReason[reason], e.Name)
		}
		events := fmt.Sprintf("%d of %d count correctly", len(okNames), len(c.Events))
		if len(okNames) > 0 && len(okNames) < len(c.Events) {
			events += ": " + groupNames(okNames)
		}
		t.kv("events", events)
		if len(c.FalseZero) == 0 {
			t.kv("false zeros", "none")
		} else {
			t.kv("false zeros", strings.Join(c.FalseZero, ", ")+
				"\n(these read 0 with no error for this user; ringbench reports them as unavailable)")
		}
		var bad []string
		for _, r := range reasons {
			bad = append(bad, groupNames(byReason[r])+": "+r)
		}
		if len(bad) > 0 {
			t.kv("not counting", strings.Join(bad, "\n"))
		}
		if c.RingEvents {
			t.kv("io_uring events", "countable: submitted, async punts, task work, poll arms, cq overflows "+
				"(io_uring's own tracepoints, in counted samples of uring and sqpoll)")
		} else {
			t.kv("io_uring events", "not countable: "+c.RingEventsReason)
		}
	}
	if tc := r.TracepointCost; tc != nil {
		if tc.Error != "" {
			t.kv("cost", "not measured: "+tc.Error)
		} else {
			t.kv("cost", fmt.Sprintf("+%.0f ns per syscall counted (getppid %.0f ns uncounted, %.0f ns counted);\n"+
				"+%.0f ns with a counter open but disabled (%.0f ns): run's timed samples open none",
				tc.PerSyscallNs, tc.UncountedNs, tc.CountedNs, tc.DisabledExtraNs, tc.DisabledNs))
		}
	}

	t.printf("\nBackends\n")
	for _, v := range r.Backends {
		state := "runnable"
		if !v.Runnable {
			state = "NOT RUNNABLE"
		}
		const indent = 2 + 8 + 1 + 13 + 1
		for i, l := range strings.Split(wrapWords(strings.Fields(v.Reason), lineWidth-indent), "\n") {
			if i == 0 {
				t.printf("  %-8s %-13s %s\n", v.Backend, state, l)
			} else {
				t.printf("%*s%s\n", indent, "", l)
			}
		}
		for _, wn := range v.Warnings {
			for i, l := range strings.Split(wrapWords(strings.Fields("warning: "+wn), lineWidth-indent), "\n") {
				if i > 0 {
					l = "  " + l
				}
				t.printf("%*s%s\n", indent, "", l)
			}
		}
	}
	return t.err
}

// groupNames joins event names, folding syscall tracepoints into "syscalls:sys_enter_{a,b}".
func groupNames(names []string) string {
	const prefix = "syscalls:sys_enter_"
	var plain, calls []string
	for _, n := range names {
		if rest, ok := strings.CutPrefix(n, prefix); ok {
			calls = append(calls, rest)
		} else {
			plain = append(plain, n)
		}
	}
	switch len(calls) {
	case 0:
	case 1:
		plain = append(plain, prefix+calls[0])
	default:
		plain = append(plain, prefix+"{"+strings.Join(calls, ", ")+"}")
	}
	return strings.Join(plain, ", ")
}
