package result

import "fmt"

// Warning is a condition that makes figures suspect. Kind is a stable identifier that readers act on;
// Text says it to a person.
type Warning struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
}

// Warning kinds. Readers must accept kinds they do not know.
const (
	// WarnSQPollSharedCPU: the SQPOLL poll thread has no core of its own.
	WarnSQPollSharedCPU = "sqpoll-shared-cpu"
	// WarnRingFallback: the ring was set up without a flag or feature this kernel lacks.
	WarnRingFallback = "ring-fallback"
	// WarnLowResidency: the file data set was not fully in the page cache.
	WarnLowResidency = "low-residency"
	// WarnNotCold: a --cache cold data set was still partly in the page cache at the start of a sample.
	WarnNotCold = "not-cold"
	// WarnGeneratorBottleneck: the load generator used as much CPU per request as the server.
	WarnGeneratorBottleneck = "generator-bottleneck"
	// WarnGeneratorSharedCPU: the load generator shares the server's core.
	WarnGeneratorSharedCPU = "generator-shared-cpu"
	// WarnCountingUnavailable: kernel counts (syscalls, CPU, memory) were not measured.
	WarnCountingUnavailable = "counting-unavailable"
	// WarnInterrupted: the run or sample was cut short.
	WarnInterrupted = "interrupted"
	// WarnEmulated: the figures come from an emulated CPU.
	WarnEmulated = "emulated"
	// WarnOther is any other warning (and the kind of old warnings that fit none of the above).
	WarnOther = "other"
)

// Warn makes a warning of kind with a formatted text.
func Warn(kind, format string, args ...any) Warning {
	return Warning{Kind: kind, Text: fmt.Sprintf(format, args...)}
}

// String is the text.
func (w Warning) String() string { return w.Text }

// AddWarnings appends the warnings of add that ws does not already hold.
func AddWarnings(ws []Warning, add ...Warning) []Warning {
	for _, a := range add {
		dup := false
		for _, w := range ws {
			dup = dup || w == a
		}
		if !dup {
			ws = append(ws, a)
		}
	}
	return ws
}
