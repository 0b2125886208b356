package compare

import (
	"fmt"
	"path/filepath"

	"github.com/ringbench/ringbench/internal/fingerprint"
)

// CheckComparable compares the fingerprint of every file with that of the baseline's first file and lists
// the differences that make a comparison unfair (fingerprint.Mismatch: CPU model or count, governor,
// virtualisation, mitigations, GOMAXPROCS), each as "BASE vs FILE: field: a vs b". A pair that differs only in
// kernel (fingerprint.KernelOnlyDiffers, which compares mitigations by kind, since kernels reword them) is a
// fair kernel comparison and lists nothing.
func CheckComparable(sets []*Set) []string {
	if len(sets) == 0 || len(sets[0].Envs) == 0 {
		return nil
	}
	ref := sets[0].Envs[0]
	refName := filepath.Base(sets[0].Files[0])
	var out []string
	for si, s := range sets {
		for fi, e := range s.Envs {
			if (si == 0 && fi == 0) || fingerprint.KernelOnlyDiffers(ref, e) {
				continue
			}
			for _, d := range fingerprint.Mismatch(ref, e) {
				out = append(out, fmt.Sprintf("%s vs %s: %s", refName, filepath.Base(s.Files[fi]), d))
			}
		}
	}
	return out
}

// onlyKernelDiffers reports whether every file's fingerprint differs from the baseline's first in kernel alone
// (or not at all), with at least two kernels among them.
func onlyKernelDiffers(sets []*Set) bool {
	ref := sets[0].Envs[0]
	for _, s := range sets {
		for _, e := range s.Envs {
			if e.Kernel.Release == ref.Kernel.Release {
				if len(fingerprint.Mismatch(ref, e)) > 0 {
					return false
				}
			} else if !fingerprint.KernelOnlyDiffers(ref, e) {
				return false
			}
		}
	}
	return true
}
