package series

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ringbench/ringbench/internal/result"
)

// Excluded is what Valid left out: how many samples of how many, and why.
type Excluded struct {
	N, Of int
	// Kinds counts the left-out samples by result.Sample.Invalid.Kind; Example is one reason of each kind.
	Kinds   map[string]int
	Example map[string]string
}

// Valid returns the samples not marked invalid (result.Sample.Invalid), in order, and what it left out.
// Summaries, compare and report group only valid samples: an invalid one (a buffered sample that read from
// disk) measures something else than its series. When nothing is left out, samples itself is returned.
func Valid(samples []result.Sample) ([]result.Sample, Excluded) {
	ex := Excluded{Of: len(samples)}
	bad := 0
	for i := range samples {
		if samples[i].Invalid != nil {
			bad++
		}
	}
	if bad == 0 {
		return samples, ex
	}
	ex.Kinds, ex.Example = map[string]int{}, map[string]string{}
	kept := make([]result.Sample, 0, len(samples)-bad)
	for _, s := range samples {
		if s.Invalid == nil {
			kept = append(kept, s)
			continue
		}
		ex.N++
		k := s.Invalid.Kind
		if ex.Kinds[k] == 0 {
			ex.Example[k] = fmt.Sprintf("%s/%s sample %d: %s", s.Workload, s.Backend, s.Repeat+1, s.Invalid.Text)
		}
		ex.Kinds[k]++
	}
	return kept, ex
}

// Add merges what another Valid call left out.
func (e Excluded) Add(o Excluded) Excluded {
	out := Excluded{N: e.N + o.N, Of: e.Of + o.Of}
	for _, x := range []Excluded{e, o} {
		for k, n := range x.Kinds {
			if out.Kinds == nil {
				out.Kinds, out.Example = map[string]int{}, map[string]string{}
			}
			if out.Kinds[k] == 0 {
				out.Example[k] = x.Example[k]
			}
			out.Kinds[k] += n
		}
	}
	return out
}

// Line says what was left out, in one line ("" when nothing was): "left out 2 of 12 samples as invalid:
// 2 low-residency (e.g. small-file/uring sample 3: page cache below 99% resident ...)".
func (e Excluded) Line() string {
	if e.N == 0 {
		return ""
	}
	kinds := make([]string, 0, len(e.Kinds))
	for k := range e.Kinds {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%d %s (e.g. %s)", e.Kinds[k], k, e.Example[k])
	}
	noun := "samples"
	if e.Of == 1 {
		noun = "sample"
	}
	return fmt.Sprintf("left out %d of %d %s as invalid: %s", e.N, e.Of, noun, strings.Join(parts, "; "))
}
