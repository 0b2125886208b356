package fingerprint

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Options says what Collect cannot find out by itself.
type Options struct {
	Version string // ringbench version
	Commit  string // git commit, injected at build time
	// DataDir, when set, is the directory file workloads use: its filesystem, mount options, block device
	// and I/O scheduler are recorded.
	DataDir string
	// SkipSyscallCost leaves out the null-syscall timing (MeasureSyscallNs, about 15 ms).
	SkipSyscallCost bool
}

// root prefixes every /proc and /sys path; tests point it at a fake tree.
var root = ""

func path(p string) string { return root + p }

// readString returns the trimmed content of a file, or "" when it cannot be read.
func readString(p string) string {
	b, err := os.ReadFile(path(p))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// Collect records the environment of this process. It never fails: what cannot be read stays empty.
// It sets up a few short-lived io_uring instances to find out what the kernel allows (see ProbeIOUring).
func Collect(opts Options) Fingerprint {
	fp, _ := CollectWithIOUring(opts)
	return fp
}

// CollectWithIOUring is Collect that also returns the io_uring probe's detail (errnos, per-flag answers),
// for callers such as `ringbench probe` that explain more than the fingerprint stores.
func CollectWithIOUring(opts Options) (Fingerprint, IOUringProbe) {
	fp := Fingerprint{
		TimeUTC: time.Now().UTC(),
		Tool:    Tool{Version: opts.Version, Commit: opts.Commit},
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		sum := sha256.Sum256([]byte(h))
		fp.HostHash = hex.EncodeToString(sum[:6])
	}
	fp.Kernel = collectKernel()
	fp.Distro = collectDistro()
	fp.CPU = collectCPU()
	fp.Mitigations = collectMitigations()
	if !opts.SkipSyscallCost {
		fp.SyscallNs = MeasureSyscallNs()
	}
	iou := ProbeIOUring()
	fp.IOUring = iou.IOUring
	fp.Limits = collectLimits()
	fp.Memory = collectMemory()
	fp.Virt = collectVirt()
	fp.LoadAvg = collectLoadAvg()
	fp.Go = collectGo()
	if opts.DataDir != "" {
		fp.DataDir = collectDataDir(opts.DataDir)
	}
	return fp, iou
}

func utsString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func collectKernel() Kernel {
	var k Kernel
	var u unix.Utsname
	if err := unix.Uname(&u); err == nil {
		k.Release = utsString(u.Release[:])
		k.Version = utsString(u.Version[:])
		k.Arch = utsString(u.Machine[:])
	} else {
		k.Release = readString("/proc/sys/kernel/osrelease")
		k.Version = readString("/proc/sys/kernel/version")
	}
	if k.Arch == "" {
		k.Arch = runtime.GOARCH
	}
	k.Cmdline = readString("/proc/cmdline")
	return k
}

// parseOSRelease reads os-release(5) key=value lines.
func parseOSRelease(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `"'`)
		}
		m[k] = v
	}
	return m
}

func collectDistro() string {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		s := readString(p)
		if s == "" {
			continue
		}
		m := parseOSRelease(s)
		if v := m["PRETTY_NAME"]; v != "" {
			return v
		}
		return strings.TrimSpace(m["NAME"] + " " + m["VERSION_ID"])
	}
	return ""
}

// cpuinfo is /proc/cpuinfo split into one map per processor.
func cpuinfo() []map[string]string {
	var out []map[string]string
	cur := map[string]string{}
	for _, line := range strings.Split(readString("/proc/cpuinfo"), "\n") {
		if strings.TrimSpace(line) == "" {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = map[string]string{}
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		cur[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// cpuinfoField returns the first processor's value of the first key present.
func cpuinfoField(info []map[string]string, keys ...string) string {
	for _, m := range info {
		for _, k := range keys {
			if v := m[k]; v != "" {
				return v
			}
		}
	}
	return ""
}

// parseCPUList parses a kernel CPU list such as "0-3,8,10-11".
func parseCPUList(s string) []int {
	var cpus []int
	for _, part := range strings.Split(strings.TrimSpace(s), ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// FormatCPUList writes CPUs as the kernel does: sorted, consecutive runs as ranges ("0-3,8").
func FormatCPUList(cpus []int) string {
	c := append([]int(nil), cpus...)
	sort.Ints(c)
	var b strings.Builder
	for i := 0; i < len(c); {
		j := i
		for j+1 < len(c) && c[j+1] <= c[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(c[i]))
		if c[j] != c[i] {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(c[j]))
		}
		i = j + 1
	}
	return b.String()
}

// AffinityCPUs returns the CPUs this process may run on (sched_getaffinity), or nil.
func AffinityCPUs() []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil
	}
	var cpus []int
	for c := 0; c < len(set)*64; c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

func collectCPU() CPU {
	var c CPU
	info := cpuinfo()
	c.Model = cpuinfoField(info, "model name", "Model Name", "cpu model", "cpu", "Processor")
	if c.Model == "" {
		// arm64 names the core by implementer and part number only.
		if impl, part := cpuinfoField(info, "CPU implementer"), cpuinfoField(info, "CPU part"); impl != "" {
			c.Model = "implementer " + impl + " part " + part
		}
	}
	c.Microcode = cpuinfoField(info, "microcode")

	online := parseCPUList(readString("/sys/devices/system/cpu/online"))
	switch {
	case len(online) > 0:
		c.Logical = len(online)
	case len(info) > 0:
		c.Logical = len(info)
	default:
		c.Logical = runtime.NumCPU()
	}
	c.Physical = physicalCores(online, info)
	c.SMT = readString("/sys/devices/system/cpu/smt/control")
	if aff := AffinityCPUs(); len(aff) > 0 {
		c.Affinity = FormatCPUList(aff)
	}
	if _, err := os.Stat(path("/sys/devices/system/cpu/isolated")); err == nil {
		c.Isolated = readString("/sys/devices/system/cpu/isolated")
		if c.Isolated == "" {
			c.Isolated = "none"
		}
	}
	c.ScalingDriver = readString("/sys/devices/system/cpu/cpu0/cpufreq/scaling_driver")
	c.Governor = readString("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
	c.Turbo = collectTurbo()
	return c
}

// physicalCores counts distinct (package, core) pairs from sysfs topology, falling back to cpuinfo.
func physicalCores(online []int, info []map[string]string) int {
	cores := map[string]bool{}
	for _, cpu := range online {
		dir := "/sys/devices/system/cpu/cpu" + strconv.Itoa(cpu) + "/topology/"
		pkg, core := readString(dir+"physical_package_id"), readString(dir+"core_id")
		if core == "" {
			cores = nil
			break
		}
		cores[pkg+"/"+core] = true
	}
	if len(cores) > 0 {
		return len(cores)
	}
	cores = map[string]bool{}
	for _, m := range info {
		if core, ok := m["core id"]; ok {
			cores[m["physical id"]+"/"+core] = true
		}
	}
	return len(cores)
}

func collectTurbo() string {
	if v := readString("/sys/devices/system/cpu/intel_pstate/no_turbo"); v != "" {
		if v == "1" {
			return "off"
		}
		return "on"
	}
	for _, p := range []string{"/sys/devices/system/cpu/cpufreq/boost", "/sys/devices/system/cpu/cpu0/cpufreq/boost"} {
		switch readString(p) {
		case "1":
			return "on"
		case "0":
			return "off"
		}
	}
	return ""
}

func collectMitigations() map[string]string {
	dir := path("/sys/devices/system/cpu/vulnerabilities")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	m := map[string]string{}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		m[e.Name()] = strings.TrimSpace(string(b))
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

func rlimit(res int) int64 {
	var r unix.Rlimit
	if err := unix.Getrlimit(res, &r); err != nil {
		return 0
	}
	if r.Cur == unix.RLIM_INFINITY {
		return -1
	}
	return int64(r.Cur)
}

func collectLimits() Limits {
	return Limits{MemlockBytes: rlimit(unix.RLIMIT_MEMLOCK), Nofile: rlimit(unix.RLIMIT_NOFILE)}
}

// bracketed returns the selected word of a sysfs choice list such as "always [madvise] never".
func bracketed(s string) string {
	i := strings.IndexByte(s, '[')
	j := strings.IndexByte(s, ']')
	if i < 0 || j < i {
		return s
	}
	return s[i+1 : j]
}

func collectMemory() Memory {
	var m Memory
	for _, line := range strings.Split(readString("/proc/meminfo"), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					m.TotalBytes = kb * 1024
				}
			}
			break
		}
	}
	if s := readString("/sys/kernel/mm/transparent_hugepage/enabled"); s != "" {
		m.THP = bracketed(s)
	}
	if ents, err := os.ReadDir(path("/sys/devices/system/node")); err == nil {
		for _, e := range ents {
			if n, ok := strings.CutPrefix(e.Name(), "node"); ok {
				if _, err := strconv.Atoi(n); err == nil {
					m.NUMANodes++
				}
			}
		}
	}
	return m
}

func collectLoadAvg() []float64 {
	f := strings.Fields(readString("/proc/loadavg"))
	if len(f) < 3 {
		return nil
	}
	var out []float64
	for _, s := range f[:3] {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil
		}
		out = append(out, v)
	}
	return out
}

func collectGo() GoRuntime {
	g := GoRuntime{Version: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0), GOGC: os.Getenv("GOGC")}
	if g.GOGC == "" {
		g.GOGC = "100" // the default when GOGC is unset
	}
	return g
}
