package compare

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ringbench/ringbench/internal/result"
)

// MaxThreshold bounds thresholds: a change of more than 1000% is not a threshold but a typo.
const MaxThreshold = 10.0

// ParseThreshold reads a threshold in percent: "5%", "5" and "2.5%" are 0.05, 0.05 and 0.025.
func ParseThreshold(s string) (float64, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimSuffix(t, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || t == "" {
		return 0, fmt.Errorf("%q is not a percentage (e.g. 5%%)", s)
	}
	v /= 100
	if v < 0 || v > MaxThreshold {
		return 0, fmt.Errorf("%q is out of range (0%% to %g%%)", s, MaxThreshold*100)
	}
	return v, nil
}

// ParseMetricThresholds reads "syscalls/op=2%,ops/s=10%" into thresholds by metric name.
func ParseMetricThresholds(s string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("%q is not METRIC=PERCENT", part)
		}
		if _, known := result.MetricByName(name); !known {
			return nil, fmt.Errorf("unknown metric %q (known: %s)", name, MetricNames())
		}
		t, err := ParseThreshold(val)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		out[name] = t
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q names no metric", s)
	}
	return out, nil
}

// ParseMetrics reads a comma-separated list of metric names, checking each against the catalogue.
func ParseMetrics(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if _, ok := result.MetricByName(name); !ok {
			return nil, fmt.Errorf("unknown metric %q (known: %s)", name, MetricNames())
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q names no metric", s)
	}
	return out, nil
}
