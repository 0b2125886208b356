package merge

import (
	"errors"
	"strings"
	"testing"

	"github.com/ringbench/ringbench/internal/result"
)

// loader makes one loader's result file of n samples, with latencies lat (ns) and its share of ops of
// windows counted for loaders loaders.
func loader(t *testing.T, windows []string, ops []int64, winOps []int64, loaders int, lat ...int64) *result.File {
	t.Helper()
	f := &result.File{Schema: result.Schema, Version: result.Version}
	for i, id := range windows {
		h := result.NewHistogram()
		for _, v := range lat {
			if err := h.RecordValue(v); err != nil {
				t.Fatal(err)
			}
		}
		f.Samples = append(f.Samples, result.Sample{Backend: "epoll", Workload: "echo-proxy", Repeat: i,
			Params: map[string]string{"conns": "4", "msg-size": "64", "loaders": "2"},
			Ops:    ops[i], Bytes: 128 * ops[i], Seconds: 1, OpsPerSec: float64(ops[i]),
			Latency:      result.LatencyFrom(h),
			Syscalls:     result.Syscalls{Available: true, Total: 1000, PerOp: 1000 / float64(winOps[i])},
			CPU:          result.CPU{UserNs: 5000, SysNs: 5000, PerOpNs: 10000 / float64(winOps[i])},
			ServerWindow: &result.ServerWindow{ID: id, Loaders: loaders, Ops: winOps[i]}})
	}
	return f
}

func TestMergeSumsOpsAndMergesHistograms(t *testing.T) {
	a := loader(t, []string{"w-1", "w-2"}, []int64{300, 310}, []int64{700, 720}, 2, 1000, 2000, 3000)
	b := loader(t, []string{"w-1", "w-2"}, []int64{400, 410}, []int64{700, 720}, 2, 9000, 9000)
	m, err := Files([]Input{{"a.json", a}, {"b.json", b}})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range m.Samples {
		if want := a.Samples[i].Ops + b.Samples[i].Ops; s.Ops != want || s.Bytes != 128*want {
			t.Errorf("sample %d: ops %d bytes %d, want %d and %d", i, s.Ops, s.Bytes, want, 128*want)
		}
		if s.Latency.Count != 5 || s.Latency.Min != 1000 || s.Latency.Max < 9000 || s.Latency.P50 < 2990 || s.Latency.P50 > 3010 {
			t.Errorf("sample %d: merged latency %+v, want the five values' distribution", i, s.Latency)
		}
		if s.Params["conns"] != "8" || s.Params["loaders"] != "2" {
			t.Errorf("sample %d: params %v", i, s.Params)
		}
		if s.Syscalls.Total != 1000 || s.Syscalls.PerOp != 1000/float64(s.Ops) {
			t.Errorf("sample %d: syscalls %+v, want the server's once, per op over %d", i, s.Syscalls, s.Ops)
		}
	}
}

func TestMergeRefusesFilesThatDoNotBelongTogether(t *testing.T) {
	a := loader(t, []string{"w-1"}, []int64{300}, []int64{700}, 2, 1000)
	for _, c := range []struct {
		name string
		b    *result.File
		want []string
	}{
		{"another window", loader(t, []string{"x-1"}, []int64{400}, []int64{700}, 2, 1000), []string{"b.json", "x-1", "w-1"}},
		{"a missing loader", loader(t, []string{"w-1"}, []int64{300}, []int64{700}, 2, 1000), []string{"700", "600", "missing or given twice"}},
		{"more samples", loader(t, []string{"w-1", "w-2"}, []int64{400, 1}, []int64{700, 1}, 2, 1000), []string{"b.json", "2 samples"}},
		{"no window", func() *result.File {
			f := loader(t, []string{"w-1"}, []int64{400}, []int64{700}, 2, 1000)
			f.Samples[0].ServerWindow = nil
			return f
		}(), []string{"b.json", "no server window"}},
	} {
		_, err := Files([]Input{{"a.json", a}, {"b.json", c.b}})
		if !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: %v, want ErrMismatch", c.name, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", c.name, err, w)
			}
		}
	}
}
