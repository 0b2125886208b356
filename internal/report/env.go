package report

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ringbench/ringbench/internal/fingerprint"
)

// EnvRow is one field of the environment fingerprint, with its value in each input ("" = unknown).
type EnvRow struct {
	Group  string // section of the fingerprint (Kernel, CPU, io_uring, ...)
	Field  string
	Values []string
	// Differs is true when the known values are not all the same (only with several inputs).
	Differs bool
	// Fair marks the fields that must match for a fair comparison.
	Fair bool
}

// EnvTable flattens every input's fingerprint into rows, side by side, and marks the rows that differ.
func EnvTable(inputs []*Input) []EnvRow {
	var rows []EnvRow
	index := map[string]int{}
	for col, in := range inputs {
		for _, f := range flatten(in.File.Env) {
			key := f.group + "\x00" + f.field
			i, ok := index[key]
			if !ok {
				i = len(rows)
				index[key] = i
				rows = append(rows, EnvRow{Group: f.group, Field: f.field, Values: make([]string, len(inputs)), Fair: f.fair})
			}
			rows[i].Values[col] = f.value
		}
	}
	for i := range rows {
		if len(inputs) < 2 || rows[i].Group == "Run" && rows[i].Field == "time (UTC)" {
			continue
		}
		for _, v := range rows[i].Values[1:] {
			if v != rows[i].Values[0] {
				rows[i].Differs = true
				break
			}
		}
	}
	// Keep the flatten order (by group) even when a later input adds a field.
	groupRank := map[string]int{}
	for i, g := range envGroups {
		groupRank[g] = i
	}
	sort.SliceStable(rows, func(i, j int) bool { return groupRank[rows[i].Group] < groupRank[rows[j].Group] })
	// A row no input knows says nothing.
	out := rows[:0]
	for _, r := range rows {
		known := false
		for _, v := range r.Values {
			if v != "" {
				known = true
			}
		}
		if known {
			out = append(out, r)
		}
	}
	return out
}

var envGroups = []string{"Run", "Kernel", "CPU", "Mitigations", "io_uring", "Limits", "Memory", "Virtualisation", "Go", "Data directory"}

type envField struct {
	group, field, value string
	fair                bool
}

func flatten(e fingerprint.Fingerprint) []envField {
	var fs []envField
	add := func(group, field, value string) { fs = append(fs, envField{group: group, field: field, value: value}) }
	fair := func(group, field, value string) {
		fs = append(fs, envField{group: group, field: field, value: value, fair: true})
	}
	num := func(n int64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}

	if !e.TimeUTC.IsZero() {
		add("Run", "time (UTC)", e.TimeUTC.UTC().Format(time.DateTime))
	}
	add("Run", "host (hash)", e.HostHash)
	add("Run", "ringbench", strings.TrimSpace(e.Tool.Version+" "+e.Tool.Commit))
	if len(e.LoadAvg) > 0 {
		parts := make([]string, len(e.LoadAvg))
		for i, l := range e.LoadAvg {
			parts[i] = strconv.FormatFloat(l, 'f', 2, 64)
		}
		add("Run", "load average", strings.Join(parts, " "))
	}

	add("Kernel", "release", e.Kernel.Release)
	add("Kernel", "version", e.Kernel.Version)
	add("Kernel", "arch", e.Kernel.Arch)
	add("Kernel", "command line", e.Kernel.Cmdline)
	add("Kernel", "distribution", e.Distro)
	if e.SyscallNs > 0 {
		add("Kernel", "null syscall (getppid)", strconv.FormatFloat(e.SyscallNs, 'f', 0, 64)+" ns")
	}

	fair("CPU", "model", e.CPU.Model)
	add("CPU", "microcode", e.CPU.Microcode)
	fair("CPU", "logical CPUs", num(int64(e.CPU.Logical)))
	add("CPU", "physical cores", num(int64(e.CPU.Physical)))
	add("CPU", "SMT", e.CPU.SMT)
	fair("CPU", "affinity", e.CPU.Affinity)
	add("CPU", "isolated", e.CPU.Isolated)
	add("CPU", "scaling driver", e.CPU.ScalingDriver)
	fair("CPU", "governor", e.CPU.Governor)
	add("CPU", "turbo", e.CPU.Turbo)

	for _, k := range slices.Sorted(maps.Keys(e.Mitigations)) {
		fair("Mitigations", k, e.Mitigations[k])
	}

	u := e.IOUring
	add("io_uring", "io_uring_disabled", u.Disabled)
	add("io_uring", "io_uring_group", u.Group)
	setup := "ok"
	if !u.SetupOK {
		setup = "fails"
		if u.SetupErrno != "" {
			setup += " (" + u.SetupErrno + ")"
		}
		if u.SetupError != "" {
			setup += ": " + u.SetupError
		}
	}
	add("io_uring", "setup", setup)
	if u.Features != 0 {
		add("io_uring", "features", fmt.Sprintf("%#x", u.Features))
	}
	add("io_uring", "feature names", strings.Join(u.FeatureSet, " "))
	if u.LastOpcode != 0 {
		add("io_uring", "last opcode", strconv.Itoa(u.LastOpcode))
	}
	add("io_uring", "opcodes", strings.Join(u.Opcodes, " "))
	add("io_uring", "setup flags", strings.Join(u.SetupFlags, " "))
	sq := "allowed"
	if !u.SQPoll {
		sq = "not allowed"
		if u.SQPollErr != "" {
			sq += ": " + u.SQPollErr
		}
	}
	add("io_uring", "SQPOLL", sq)

	switch {
	case e.Limits.MemlockBytes < 0:
		add("Limits", "RLIMIT_MEMLOCK", "unlimited")
	case e.Limits.MemlockBytes > 0:
		add("Limits", "RLIMIT_MEMLOCK", formatBytes(float64(e.Limits.MemlockBytes)))
	}
	add("Limits", "RLIMIT_NOFILE", num(e.Limits.Nofile))

	if e.Memory.TotalBytes > 0 {
		add("Memory", "total", formatBytes(float64(e.Memory.TotalBytes)))
	}
	add("Memory", "transparent huge pages", e.Memory.THP)
	add("Memory", "NUMA nodes", num(int64(e.Memory.NUMANodes)))

	fair("Virtualisation", "hypervisor", e.Virt.Hypervisor)
	add("Virtualisation", "container", e.Virt.Container)
	fair("Virtualisation", "accelerator", e.Virt.Accelerator)
	emu := "no"
	if e.Virt.Emulated {
		emu = "yes"
	}
	fair("Virtualisation", "emulated", emu)
	add("Virtualisation", "evidence", e.Virt.Evidence)

	add("Go", "version", e.Go.Version)
	fair("Go", "GOMAXPROCS", num(int64(e.Go.GOMAXPROCS)))
	add("Go", "GOGC", e.Go.GOGC)

	if d := e.DataDir; d != nil {
		add("Data directory", "path", d.Path)
		add("Data directory", "file system", d.FSType)
		add("Data directory", "mount options", d.MountOptions)
		add("Data directory", "device", d.Device)
		add("Data directory", "scheduler", d.Scheduler)
	}
	return fs
}
