package fingerprint

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
)

// Mismatch lists the differences between a and b in the fields that must match for a fair performance
// comparison: CPU model, logical CPU count, virtualisation (hypervisor, container, emulation), CPU frequency
// governor, vulnerability mitigations and GOMAXPROCS. Each entry reads "field: a vs b". A field that is
// unknown (empty) on either side is not a difference, except virtualisation, where empty means "none".
// The kernel is deliberately not compared: see KernelOnlyDiffers.
func Mismatch(a, b Fingerprint) []string {
	return mismatch(a, b, false)
}

// KernelOnlyDiffers reports whether a and b ran on different kernel releases and otherwise match in every
// field Mismatch checks, which makes the pair a fair kernel-versus-kernel comparison. Mitigations are
// compared by kind only ("Not affected", "Vulnerable", "Mitigation", ...) and vulnerability files present on
// one side only are ignored, since newer kernels add files and reword the same mitigation.
func KernelOnlyDiffers(a, b Fingerprint) bool {
	if a.Kernel.Release == "" || b.Kernel.Release == "" || a.Kernel.Release == b.Kernel.Release {
		return false
	}
	return len(mismatch(a, b, true)) == 0
}

func mismatch(a, b Fingerprint, acrossKernels bool) []string {
	var out []string
	str := func(field, x, y string) {
		if x != "" && y != "" && x != y {
			out = append(out, fmt.Sprintf("%s: %q vs %q", field, x, y))
		}
	}
	num := func(field string, x, y int) {
		if x != 0 && y != 0 && x != y {
			out = append(out, fmt.Sprintf("%s: %d vs %d", field, x, y))
		}
	}
	str("cpu model", a.CPU.Model, b.CPU.Model)
	num("logical cpus", a.CPU.Logical, b.CPU.Logical)
	str("governor", a.CPU.Governor, b.CPU.Governor)
	if a.Virt.Hypervisor != b.Virt.Hypervisor {
		out = append(out, fmt.Sprintf("hypervisor: %q vs %q", a.Virt.Hypervisor, b.Virt.Hypervisor))
	}
	if a.Virt.Container != b.Virt.Container {
		out = append(out, fmt.Sprintf("container: %q vs %q", a.Virt.Container, b.Virt.Container))
	}
	if a.Virt.Emulated != b.Virt.Emulated {
		out = append(out, fmt.Sprintf("emulated: %v vs %v", a.Virt.Emulated, b.Virt.Emulated))
	}
	str("accelerator", a.Virt.Accelerator, b.Virt.Accelerator)
	out = append(out, mitigationDiffs(a.Mitigations, b.Mitigations, acrossKernels)...)
	num("GOMAXPROCS", a.Go.GOMAXPROCS, b.Go.GOMAXPROCS)
	return out
}

// mitigationKind is the part of a vulnerabilities file before the first colon: "Not affected",
// "Vulnerable", "Mitigation", "Unknown", ...
func mitigationKind(s string) string {
	k, _, _ := strings.Cut(s, ":")
	return strings.TrimSpace(k)
}

func mitigationDiffs(a, b map[string]string, acrossKernels bool) []string {
	if len(a) == 0 || len(b) == 0 {
		return nil // unknown on one side
	}
	both := maps.Clone(a)
	maps.Copy(both, b)
	var out []string
	for _, k := range slices.Sorted(maps.Keys(both)) {
		x, inA := a[k]
		y, inB := b[k]
		switch {
		case !inA || !inB:
			if acrossKernels {
				continue
			}
			if !inA {
				x = "(absent)"
			} else {
				y = "(absent)"
			}
		case acrossKernels:
			if mitigationKind(x) == mitigationKind(y) {
				continue
			}
		case x == y:
			continue
		}
		out = append(out, fmt.Sprintf("mitigation %s: %q vs %q", k, x, y))
	}
	return out
}

// MitigationSummary condenses the vulnerabilities map into counts by kind, e.g.
// "12 not affected, 7 mitigated, 1 vulnerable (spectre_v1)"; "" when unknown.
func MitigationSummary(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	var notAffected, mitigated, unknown int
	var vulnerable []string
	for k, v := range m {
		switch kind := mitigationKind(v); {
		case kind == "Not affected":
			notAffected++
		case kind == "Mitigation":
			mitigated++
		case strings.HasPrefix(kind, "Vulnerable"):
			vulnerable = append(vulnerable, k)
		default:
			unknown++
		}
	}
	sort.Strings(vulnerable)
	parts := []string{fmt.Sprintf("%d mitigated", mitigated), fmt.Sprintf("%d not affected", notAffected)}
	if len(vulnerable) > 0 {
		parts = append(parts, fmt.Sprintf("%d vulnerable (%s)", len(vulnerable), strings.Join(vulnerable, ", ")))
	}
	if unknown > 0 {
		parts = append(parts, fmt.Sprintf("%d other", unknown))
	}
	return strings.Join(parts, ", ")
}
