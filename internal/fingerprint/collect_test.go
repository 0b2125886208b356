package fingerprint

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func command(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Skipf("%s not runnable here: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

func TestCollectMatchesThisMachine(t *testing.T) {
	before := time.Now()
	fp := Collect(Options{Version: "v-test", Commit: "abc123"})

	if fp.TimeUTC.Location() != time.UTC || fp.TimeUTC.Before(before.Add(-time.Second)) || fp.TimeUTC.After(time.Now()) {
		t.Errorf("TimeUTC %v not the UTC time of the call", fp.TimeUTC)
	}
	if fp.Tool.Version != "v-test" || fp.Tool.Commit != "abc123" {
		t.Errorf("tool %+v", fp.Tool)
	}
	if !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(fp.HostHash) {
		t.Errorf("host hash %q", fp.HostHash)
	}
	if h, _ := os.Hostname(); h != "" && strings.Contains(fp.HostHash, h) {
		t.Errorf("host hash reveals the host name")
	}
	if want := command(t, "uname", "-r"); fp.Kernel.Release != want {
		t.Errorf("kernel release %q, uname -r says %q", fp.Kernel.Release, want)
	}
	if want := command(t, "uname", "-m"); fp.Kernel.Arch != want {
		t.Errorf("arch %q, uname -m says %q", fp.Kernel.Arch, want)
	}
	if want := command(t, "uname", "-v"); fp.Kernel.Version != want {
		t.Errorf("kernel version %q, uname -v says %q", fp.Kernel.Version, want)
	}
	if b, err := os.ReadFile("/proc/cmdline"); err == nil && fp.Kernel.Cmdline != strings.TrimSpace(string(b)) {
		t.Errorf("cmdline %q", fp.Kernel.Cmdline)
	}
	if _, err := os.Stat("/etc/os-release"); err == nil && fp.Distro == "" {
		t.Error("distro empty although /etc/os-release exists")
	}

	// runtime.NumCPU is the size of the affinity mask at startup.
	aff := parseCPUList(fp.CPU.Affinity)
	if len(aff) != runtime.NumCPU() {
		t.Errorf("affinity %q has %d CPUs, runtime.NumCPU() = %d", fp.CPU.Affinity, len(aff), runtime.NumCPU())
	}
	online := parseCPUList(readString("/sys/devices/system/cpu/online"))
	if len(online) == len(aff) && fp.CPU.Logical != runtime.NumCPU() {
		t.Errorf("logical %d, runtime.NumCPU() = %d (affinity covers every online CPU)", fp.CPU.Logical, runtime.NumCPU())
	}
	if fp.CPU.Logical < len(aff) {
		t.Errorf("logical %d < %d CPUs in the affinity mask", fp.CPU.Logical, len(aff))
	}
	if fp.CPU.Physical < 1 || fp.CPU.Physical > fp.CPU.Logical {
		t.Errorf("physical %d, logical %d", fp.CPU.Physical, fp.CPU.Logical)
	}
	if runtime.GOARCH == "amd64" && fp.CPU.Model == "" {
		t.Error("no CPU model on x86-64")
	}
	if _, err := os.Stat("/sys/devices/system/cpu/vulnerabilities"); err != nil {
		t.Log("no /sys/devices/system/cpu/vulnerabilities: mitigations not checked")
	} else {
		ents, _ := os.ReadDir("/sys/devices/system/cpu/vulnerabilities")
		if len(fp.Mitigations) == 0 || len(fp.Mitigations) != len(ents) {
			t.Errorf("mitigations has %d entries, the directory %d", len(fp.Mitigations), len(ents))
		}
		for k, v := range fp.Mitigations {
			if v == "" {
				t.Errorf("mitigation %s empty", k)
			}
		}
	}

	var nofile unix.Rlimit
	unix.Getrlimit(unix.RLIMIT_NOFILE, &nofile)
	if fp.Limits.Nofile != int64(nofile.Cur) {
		t.Errorf("nofile %d, getrlimit %d", fp.Limits.Nofile, nofile.Cur)
	}
	if fp.Limits.MemlockBytes == 0 {
		t.Error("memlock limit not recorded")
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		total := int64(si.Totalram) * int64(si.Unit)
		if d := fp.Memory.TotalBytes - total; d < -(1<<20) || d > 1<<20 {
			t.Errorf("MemTotal %d, sysinfo %d", fp.Memory.TotalBytes, total)
		}
	}
	if _, err := os.Stat("/sys/devices/system/node/node0"); err == nil && fp.Memory.NUMANodes < 1 {
		t.Errorf("NUMA nodes %d", fp.Memory.NUMANodes)
	}
	if len(fp.LoadAvg) != 3 {
		t.Errorf("load average %v", fp.LoadAvg)
	}
	if fp.Go.Version != runtime.Version() || fp.Go.GOMAXPROCS != runtime.GOMAXPROCS(0) || fp.Go.GOGC == "" {
		t.Errorf("go %+v", fp.Go)
	}
	if fp.DataDir != nil {
		t.Errorf("data dir recorded without being asked: %+v", fp.DataDir)
	}

	// io_uring_disabled is "absent" exactly when the sysctl file does not exist.
	_, statErr := os.Stat("/proc/sys/kernel/io_uring_disabled")
	if (fp.IOUring.Disabled == "absent") != os.IsNotExist(statErr) {
		t.Errorf("io_uring_disabled %q, stat error %v", fp.IOUring.Disabled, statErr)
	}
	if fp.IOUring.SetupOK {
		if fp.IOUring.Features == 0 || len(fp.IOUring.FeatureSet) == 0 || !slices.Contains(fp.IOUring.Opcodes, "NOP") {
			t.Errorf("setup works but features/opcodes missing: %+v", fp.IOUring)
		}
		if fp.IOUring.SetupError != "" {
			t.Errorf("setup works but has an error %q", fp.IOUring.SetupError)
		}
	} else if fp.IOUring.SetupError == "" {
		t.Error("setup fails with no explanation")
	}

	// The JSON form round-trips.
	b, err := json.Marshal(fp)
	if err != nil {
		t.Fatal(err)
	}
	var back Fingerprint
	if err := json.Unmarshal(b, &back); err != nil || back.Kernel != fp.Kernel || back.CPU != fp.CPU {
		t.Errorf("round trip: %v", err)
	}
}

// On this project's machines (kernel 6.18 with kernel.io_uring_disabled=0) everything is allowed.
func TestIOUringOnThisKernel(t *testing.T) {
	fp := Collect(Options{})
	if fp.IOUring.Disabled != "0" {
		t.Skipf("kernel.io_uring_disabled is %q here, not 0", fp.IOUring.Disabled)
	}
	if !fp.IOUring.SetupOK {
		t.Fatalf("setup fails: %s", fp.IOUring.SetupError)
	}
	if !KernelAtLeast(fp.Kernel.Release, 6, 6) {
		t.Skipf("kernel %s: NO_SQARRAY needs 6.6", fp.Kernel.Release)
	}
	for _, f := range SetupFlagOrder {
		if !slices.Contains(fp.IOUring.SetupFlags, f) {
			t.Errorf("setup flag %s not accepted on %s (accepted: %v)", f, fp.Kernel.Release, fp.IOUring.SetupFlags)
		}
	}
	if !fp.IOUring.SQPoll || fp.IOUring.SQPollErr != "" {
		t.Errorf("SQPOLL %v %q", fp.IOUring.SQPoll, fp.IOUring.SQPollErr)
	}
	for _, op := range []string{"READ", "OPENAT", "CLOSE", "ACCEPT", "RECV", "SEND"} {
		if !slices.Contains(fp.IOUring.Opcodes, op) {
			t.Errorf("opcode %s missing", op)
		}
	}
}

func TestDataDir(t *testing.T) {
	dir := t.TempDir()
	fp := Collect(Options{DataDir: dir})
	d := fp.DataDir
	if d == nil || d.Path != dir {
		t.Fatalf("data dir %+v", d)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err != nil {
		t.Fatal(err)
	}
	magic := map[string]int64{"ext4": unix.EXT4_SUPER_MAGIC, "tmpfs": unix.TMPFS_MAGIC, "xfs": unix.XFS_SUPER_MAGIC,
		"btrfs": unix.BTRFS_SUPER_MAGIC, "overlay": unix.OVERLAYFS_SUPER_MAGIC}
	if m, known := magic[d.FSType]; !known {
		t.Logf("filesystem %q not checked against statfs", d.FSType)
	} else if int64(sfs.Type) != m {
		t.Errorf("fs type %q but statfs magic %#x", d.FSType, sfs.Type)
	}
	if d.FSType == "" || d.MountOptions == "" || d.Device == "" {
		t.Errorf("incomplete: %+v", d)
	}
	if !strings.HasPrefix(d.MountOptions, "rw") && !strings.HasPrefix(d.MountOptions, "ro") {
		t.Errorf("mount options %q", d.MountOptions)
	}
	var st unix.Stat_t
	unix.Stat(dir, &st)
	if name, _ := blockDevice(unix.Major(st.Dev), unix.Minor(st.Dev)); name != "" {
		if d.Device != "/dev/"+name {
			t.Errorf("device %q, want /dev/%s", d.Device, name)
		}
		if d.Scheduler == "" || strings.ContainsAny(d.Scheduler, "[] ") {
			t.Errorf("scheduler %q", d.Scheduler)
		}
	}
}

// withRoot points every /proc and /sys read at a fake tree for one test.
func withRoot(t *testing.T, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := root
	root = dir
	t.Cleanup(func() { root = old })
}

func TestIOUringDisabledAbsentOnlyWhenMissing(t *testing.T) {
	withRoot(t, map[string]string{"proc/sys/kernel/osrelease": "6.1.0\n"})
	if got := IOUringDisabled(); got != "absent" {
		t.Errorf("no sysctl file: %q, want absent", got)
	}
	for _, v := range []string{"0", "1", "2"} {
		withRoot(t, map[string]string{"proc/sys/kernel/io_uring_disabled": v + "\n"})
		if got := IOUringDisabled(); got != v {
			t.Errorf("sysctl %s: got %q", v, got)
		}
	}
}

func TestFakeTree(t *testing.T) {
	withRoot(t, map[string]string{
		"proc/cpuinfo": "processor\t: 0\nmodel name\t: Test CPU\nmicrocode\t: 0x42\nflags\t\t: fpu hypervisor\n\n" +
			"processor\t: 1\nmodel name\t: Test CPU\n",
		"sys/devices/system/cpu/online":                        "0-3\n",
		"sys/devices/system/cpu/cpu0/topology/core_id":         "0",
		"sys/devices/system/cpu/cpu1/topology/core_id":         "0",
		"sys/devices/system/cpu/cpu2/topology/core_id":         "1",
		"sys/devices/system/cpu/cpu3/topology/core_id":         "1",
		"sys/devices/system/cpu/isolated":                      "2-3\n",
		"sys/devices/system/cpu/cpu0/cpufreq/scaling_driver":   "intel_pstate\n",
		"sys/devices/system/cpu/cpu0/cpufreq/scaling_governor": "performance\n",
		"sys/devices/system/cpu/intel_pstate/no_turbo":         "1\n",
		"sys/devices/system/cpu/vulnerabilities/meltdown":      "Not affected\n",
		"sys/kernel/mm/transparent_hugepage/enabled":           "[always] madvise never\n",
		"sys/devices/system/node/node0/x":                      "",
		"sys/devices/system/node/node1/x":                      "",
		"sys/class/dmi/id/sys_vendor":                          "QEMU\n",
		"sys/class/dmi/id/product_name":                        "Standard PC (Q35 + ICH9, 2009)\n",
		"proc/meminfo":                                         "MemTotal:       1000 kB\nMemFree: 1 kB\n",
		"proc/loadavg":                                         "1.50 0.25 0.00 1/94 14195\n",
	})
	c := collectCPU()
	want := CPU{Model: "Test CPU", Microcode: "0x42", Logical: 4, Physical: 2, Isolated: "2-3",
		ScalingDriver: "intel_pstate", Governor: "performance", Turbo: "off", Affinity: c.Affinity}
	if c != want {
		t.Errorf("cpu\n got %+v\nwant %+v", c, want)
	}
	if m := collectMemory(); m != (Memory{TotalBytes: 1000 * 1024, THP: "always", NUMANodes: 2}) {
		t.Errorf("memory %+v", m)
	}
	if l := collectLoadAvg(); !slices.Equal(l, []float64{1.5, 0.25, 0}) {
		t.Errorf("load %v", l)
	}
	if m := collectMitigations(); len(m) != 1 || m["meltdown"] != "Not affected" {
		t.Errorf("mitigations %v", m)
	}
	v := collectVirt()
	if v.Hypervisor != "qemu" || !strings.Contains(v.Evidence, "cpuinfo hypervisor flag") || !strings.Contains(v.Evidence, "DMI QEMU") {
		t.Errorf("virt %+v", v)
	}
}

func TestEmulationDetected(t *testing.T) {
	withRoot(t, map[string]string{
		"proc/cpuinfo": "processor\t: 0\nmodel name\t: QEMU Virtual CPU version 2.5+\nflags\t\t: fpu hypervisor\n",
		"sys/devices/system/clocksource/clocksource0/available_clocksource": "tsc acpi_pm \n",
	})
	if v := collectVirt(); !v.Emulated || v.Accelerator != "tcg" || v.Hypervisor != "unknown" {
		t.Errorf("qemu TCG guest: %+v", v)
	}
	withRoot(t, map[string]string{
		"proc/cpuinfo": "processor\t: 0\nmodel name\t: QEMU Virtual CPU version 2.5+\nflags\t\t: fpu hypervisor\n",
		"sys/devices/system/clocksource/clocksource0/available_clocksource": "kvm-clock tsc acpi_pm \n",
	})
	if v := collectVirt(); v.Emulated || v.Hypervisor != "kvm" {
		t.Errorf("qemu KVM guest: %+v", v)
	}
}

func TestCPUList(t *testing.T) {
	for in, want := range map[string]string{"0-3,8,10-11": "0-3,8,10-11", "0": "0", "1,0": "0-1", "": ""} {
		if got := FormatCPUList(parseCPUList(in)); got != want {
			t.Errorf("%q -> %q, want %q", in, got, want)
		}
	}
	if parseCPUList("3-1") != nil || parseCPUList("x") != nil {
		t.Error("bad lists accepted")
	}
}

func TestParseHelpers(t *testing.T) {
	for rel, want := range map[string][2]int{"6.18.44-fc-v445": {6, 18}, "5.19": {5, 19}, "6.1.0-31-cloud-amd64": {6, 1}, "4.9rc1": {4, 9}, "6": {0, 0}, "x.1": {0, 0}} {
		ma, mi, _ := KernelVersion(rel)
		if [2]int{ma, mi} != want {
			t.Errorf("KernelVersion(%q) = %d.%d", rel, ma, mi)
		}
	}
	if !KernelAtLeast("6.0.1", 5, 19) || KernelAtLeast("5.15.0", 5, 19) || KernelAtLeast("junk", 1, 0) {
		t.Error("KernelAtLeast")
	}
	if got := bracketed("none [mq-deadline] kyber"); got != "mq-deadline" {
		t.Errorf("bracketed %q", got)
	}
	m := parseOSRelease("NAME=\"Debian GNU/Linux\"\nVERSION_ID='12'\n# c\nPRETTY_NAME=\"Debian \\\"x\\\"\"\n")
	if m["NAME"] != "Debian GNU/Linux" || m["VERSION_ID"] != "12" || m["PRETTY_NAME"] != `Debian "x"` {
		t.Errorf("os-release %v", m)
	}
}

func TestMountInfo(t *testing.T) {
	mi := parseMountInfo(`27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
28 27 0:25 / /mnt/my\040data ro,nosuid - tmpfs tmpfs ro,size=4k
29 27 254:0 /sub /srv rw - ext4 /dev/vda rw
30 27 254:0 / /srv/inner rw,noatime - ext4 /dev/vda rw
bad line
`)
	if len(mi) != 4 || mi[1].mountPoint != "/mnt/my data" || mi[1].fsType != "tmpfs" || mi[0].superOptions != "rw,discard" {
		t.Fatalf("parsed %+v", mi)
	}
	cases := []struct {
		path       string
		maj, min   uint32
		haveDev    bool
		wantMount  string
		wantFound  bool
		wantOption string
	}{
		{"/mnt/my data/x", 0, 25, true, "/mnt/my data", true, "ro,nosuid"},
		{"/srv/inner/a", 254, 0, true, "/srv/inner", true, "rw,noatime"},
		{"/srv/innerx", 254, 0, true, "/srv", true, "rw"},
		{"/home/u", 254, 0, true, "/", true, "rw,relatime"},
		{"/mnt/my data", 9, 9, true, "/mnt/my data", true, "ro,nosuid"}, // device unknown to mountinfo: longest prefix
	}
	for _, c := range cases {
		m, ok := findMount(mi, c.path, c.maj, c.min, c.haveDev)
		if ok != c.wantFound || m.mountPoint != c.wantMount || m.mountOptions != c.wantOption {
			t.Errorf("%s: got %q %v", c.path, m.mountPoint, ok)
		}
	}
	if got := mergeOptions("rw,relatime", "rw,discard"); got != "rw,relatime,discard" {
		t.Errorf("merge %q", got)
	}
}
