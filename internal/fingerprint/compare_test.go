package fingerprint

import (
	"strings"
	"testing"
)

func base() Fingerprint {
	return Fingerprint{
		Kernel: Kernel{Release: "6.18.44", Arch: "x86_64"},
		CPU:    CPU{Model: "AMD EPYC", Logical: 2, Governor: "performance"},
		Virt:   Virt{Hypervisor: "kvm"},
		Mitigations: map[string]string{
			"spectre_v2": "Mitigation: Retpolines; STIBP: disabled",
			"meltdown":   "Not affected",
		},
		Go: GoRuntime{GOMAXPROCS: 2},
	}
}

func TestMismatch(t *testing.T) {
	if d := Mismatch(base(), base()); len(d) != 0 {
		t.Fatalf("identical fingerprints differ: %v", d)
	}
	other := base()
	other.Kernel.Release = "6.1.0"
	if d := Mismatch(base(), other); len(d) != 0 {
		t.Errorf("the kernel alone must not count: %v", d)
	}

	cases := []struct {
		name   string
		change func(*Fingerprint)
		want   string
	}{
		{"model", func(f *Fingerprint) { f.CPU.Model = "Intel Xeon" }, `cpu model: "AMD EPYC" vs "Intel Xeon"`},
		{"count", func(f *Fingerprint) { f.CPU.Logical = 4 }, "logical cpus: 2 vs 4"},
		{"governor", func(f *Fingerprint) { f.CPU.Governor = "powersave" }, "governor"},
		{"hypervisor", func(f *Fingerprint) { f.Virt.Hypervisor = "" }, `hypervisor: "kvm" vs ""`},
		{"container", func(f *Fingerprint) { f.Virt.Container = "docker" }, "container"},
		{"emulated", func(f *Fingerprint) { f.Virt.Emulated = true }, "emulated: false vs true"},
		{"mitigation text", func(f *Fingerprint) { f.Mitigations["spectre_v2"] = "Vulnerable" }, "mitigation spectre_v2"},
		{"mitigation file", func(f *Fingerprint) { f.Mitigations["tsa"] = "Not affected" }, `mitigation tsa: "(absent)" vs "Not affected"`},
		{"gomaxprocs", func(f *Fingerprint) { f.Go.GOMAXPROCS = 1 }, "GOMAXPROCS: 2 vs 1"},
	}
	for _, c := range cases {
		b := base()
		c.change(&b)
		d := Mismatch(base(), b)
		if len(d) != 1 || !strings.Contains(d[0], c.want) {
			t.Errorf("%s: got %q, want one entry with %q", c.name, d, c.want)
		}
	}

	// Unknown is not a difference.
	b := base()
	b.CPU = CPU{}
	b.Mitigations = nil
	b.Go.GOMAXPROCS = 0
	if d := Mismatch(base(), b); len(d) != 0 {
		t.Errorf("unknown fields counted as differences: %v", d)
	}
	// Several differences are all listed.
	b = base()
	b.CPU.Model, b.Go.GOMAXPROCS = "x", 8
	if d := Mismatch(base(), b); len(d) != 2 {
		t.Errorf("want 2 differences, got %v", d)
	}
}

func TestKernelOnlyDiffers(t *testing.T) {
	a := base()
	if KernelOnlyDiffers(a, base()) {
		t.Error("same kernel reported as a kernel comparison")
	}
	b := base()
	b.Kernel.Release = "6.1.0-31-cloud-amd64"
	// Newer kernels add vulnerability files and reword mitigations: still a fair kernel comparison.
	b.Mitigations["spectre_v2"] = "Mitigation: Retpolines"
	delete(b.Mitigations, "meltdown")
	if !KernelOnlyDiffers(a, b) {
		t.Errorf("only the kernel differs, but: %v", mismatch(a, b, true))
	}
	// Each of these, on top of b's kernel difference, makes it more than a kernel comparison.
	for _, tc := range []struct {
		what string
		edit func(*Fingerprint)
	}{
		{"mitigated vs vulnerable", func(f *Fingerprint) { f.Mitigations = map[string]string{"spectre_v2": "Vulnerable"} }},
		{"a different CPU", func(f *Fingerprint) { f.CPU.Model = "Intel Xeon" }},
		{"emulated vs native", func(f *Fingerprint) { f.Virt.Emulated = true }},
		{"an unknown kernel", func(f *Fingerprint) { f.Kernel.Release = "" }},
	} {
		c := b
		tc.edit(&c)
		if KernelOnlyDiffers(a, c) {
			t.Errorf("%s counted as a kernel-only difference", tc.what)
		}
	}
}

func TestMitigationSummary(t *testing.T) {
	got := MitigationSummary(map[string]string{
		"a": "Not affected", "b": "Mitigation: x", "c": "Vulnerable: Safe RET, no microcode", "d": "Vulnerable", "e": "Unknown: no idea",
	})
	want := "1 mitigated, 1 not affected, 2 vulnerable (c, d), 1 other"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if MitigationSummary(nil) != "" {
		t.Error("nil map")
	}
}
