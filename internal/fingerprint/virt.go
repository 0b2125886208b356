package fingerprint

import (
	"os"
	"strings"
)

// dmiHypervisors maps DMI sys_vendor / product_name words to a hypervisor name.
var dmiHypervisors = []struct{ word, name string }{
	{"QEMU", "qemu"},
	{"KVM", "kvm"},
	{"VMware", "vmware"},
	{"VirtualBox", "virtualbox"},
	{"innotek", "virtualbox"},
	{"Xen", "xen"},
	{"Microsoft Corporation", "hyper-v"},
	{"Amazon EC2", "amazon"},
	{"Google Compute Engine", "google"},
	{"Parallels", "parallels"},
	{"Bochs", "bochs"},
	{"Firecracker", "firecracker"},
	{"Cloud Hypervisor", "cloud-hypervisor"},
}

// clocksourceHypervisors maps paravirtual clock sources to the hypervisor that provides them.
var clocksourceHypervisors = []struct{ source, name string }{
	{"kvm-clock", "kvm"},
	{"xen", "xen"},
	{"hyperv_clocksource_tsc_page", "hyper-v"},
	{"hyperv_clocksource_msr", "hyper-v"},
}

func exists(p string) bool {
	_, err := os.Stat(path(p))
	return err == nil
}

func collectVirt() Virt {
	var v Virt
	var evidence []string
	flag := false
	for _, m := range cpuinfo() {
		if f := m["flags"]; f != "" {
			for _, w := range strings.Fields(f) {
				if w == "hypervisor" {
					flag = true
				}
			}
			break
		}
	}
	if flag {
		evidence = append(evidence, "cpuinfo hypervisor flag")
	}
	name := ""
	if t := readString("/sys/hypervisor/type"); t != "" {
		name = t
		evidence = append(evidence, "/sys/hypervisor/type "+t)
	}
	vendor := readString("/sys/class/dmi/id/sys_vendor")
	product := readString("/sys/class/dmi/id/product_name")
	if dmi := strings.TrimSpace(vendor + " " + product); dmi != "" {
		for _, h := range dmiHypervisors {
			if strings.Contains(dmi, h.word) {
				if name == "" {
					name = h.name
				}
				evidence = append(evidence, "DMI "+dmi)
				break
			}
		}
	}
	clocks := strings.Fields(readString("/sys/devices/system/clocksource/clocksource0/available_clocksource"))
	kvmClock := false
	for _, c := range clocks {
		for _, h := range clocksourceHypervisors {
			if c == h.source {
				if name == "" {
					name = h.name
				}
				if c == "kvm-clock" {
					kvmClock = true
				}
				evidence = append(evidence, c)
			}
		}
	}
	if name == "" && exists("/proc/device-tree/hypervisor/compatible") {
		name = strings.TrimRight(readString("/proc/device-tree/hypervisor/compatible"), "\x00")
		evidence = append(evidence, "device-tree hypervisor node")
	}
	if name == "" && flag {
		name = "unknown"
	}
	v.Hypervisor = name
	// qemu's TCG (software emulation) runs 20-30x slower than hardware: its figures are not comparable.
	model := cpuinfoField(cpuinfo(), "model name")
	if strings.Contains(model, "TCG") || (strings.Contains(model, "QEMU Virtual CPU") && !kvmClock) {
		v.Emulated = true
		v.Accelerator = "tcg"
		evidence = append(evidence, "emulated CPU model "+model)
	}

	v.Container, evidence = detectContainer(evidence)
	v.Evidence = strings.Join(evidence, ", ")
	return v
}

// detectContainer looks for the markers container runtimes leave behind.
func detectContainer(evidence []string) (string, []string) {
	switch {
	case exists("/.dockerenv"):
		return "docker", append(evidence, "/.dockerenv")
	case exists("/run/.containerenv"):
		return "podman", append(evidence, "/run/.containerenv")
	}
	if c := readString("/run/systemd/container"); c != "" {
		return c, append(evidence, "/run/systemd/container")
	}
	if env, err := os.ReadFile(path("/proc/1/environ")); err == nil {
		for _, kv := range strings.Split(string(env), "\x00") {
			if c, ok := strings.CutPrefix(kv, "container="); ok && c != "" {
				return c, append(evidence, "container= in PID 1's environment")
			}
		}
	}
	cg := readString("/proc/self/cgroup")
	for _, m := range []struct{ word, name string }{
		{"kubepods", "kubernetes"}, {"docker", "docker"}, {"libpod", "podman"}, {"lxc", "lxc"}, {"containerd", "containerd"},
	} {
		if strings.Contains(cg, m.word) {
			return m.name, append(evidence, "cgroup "+m.word)
		}
	}
	return "", evidence
}
