package result

import (
	"bytes"
	"encoding/json"
	"strings"
)

// UnmarshalJSON reads a warning in either form: the object of version 2, or the bare string of version 1,
// whose kind is inferred from its text once, here, so that no reader matches text.
func (w *Warning) UnmarshalJSON(b []byte) error {
	if b = bytes.TrimSpace(b); len(b) > 0 && b[0] == '"' {
		var text string
		if err := json.Unmarshal(b, &text); err != nil {
			return err
		}
		*w = Warning{Kind: legacyKind(text), Text: text}
		return nil
	}
	type plain Warning // no methods: avoids recursing into UnmarshalJSON
	if err := json.Unmarshal(b, (*plain)(w)); err != nil {
		return err
	}
	if w.Kind == "" {
		w.Kind = WarnOther
	}
	return nil
}

// legacyKind classifies a version 1 warning by the texts ringbench wrote before warnings had kinds.
func legacyKind(text string) string {
	t := strings.ToLower(text)
	switch {
	case strings.Contains(t, "sqpoll") && strings.Contains(t, "core"):
		return WarnSQPollSharedCPU
	case strings.Contains(t, "page cache not resident"):
		return WarnLowResidency
	case strings.Contains(t, "load generator may be the bottleneck"):
		return WarnGeneratorBottleneck
	case strings.Contains(t, "load generator shares"):
		return WarnGeneratorSharedCPU
	case strings.HasPrefix(t, "interrupted"):
		return WarnInterrupted
	case strings.Contains(t, "emulated"):
		return WarnEmulated
	case strings.Contains(t, "not available here") || strings.Contains(t, "no sparse registered-file table"):
		return WarnRingFallback
	case strings.Contains(t, "were not measured") || strings.Contains(t, "counting unavailable"):
		return WarnCountingUnavailable
	}
	return WarnOther
}

// v1Display is the presentation every version 1 file had: the registries of the ringbench that wrote them.
var v1Display = Display{
	Backends: []string{"epoll", "uring", "sqpoll", "gostd"},
	Workloads: []WorkloadDisplay{
		{Name: "small-file", Op: "read", Rate: "IOPS"},
		{Name: "many-file", Op: "file", Rate: "files/s"},
		{Name: "echo-proxy", Op: "request", Rate: "req/s"},
	},
}

// upgrade brings a decoded file of an older version to the current one in memory.
func upgrade(f *File) {
	if f.Version < 2 && len(f.Display.Backends) == 0 && len(f.Display.Workloads) == 0 {
		f.Display = v1Display
		f.Display.Backends = append([]string(nil), v1Display.Backends...)
		f.Display.Workloads = append([]WorkloadDisplay(nil), v1Display.Workloads...)
	}
	f.Version = Version
}
