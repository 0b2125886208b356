package result

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

func TestSaveLoadRoundTripAndNoOverwrite(t *testing.T) {
	dir := t.TempDir()
	h := NewHistogram()
	for i := int64(1); i <= 1000; i++ {
		if err := h.RecordValue(i * 1000); err != nil {
			t.Fatal(err)
		}
	}
	f := &File{Samples: []Sample{{Backend: "uring", Workload: "small-file", Ops: 10, Seconds: 1, OpsPerSec: 10,
		Latency: LatencyFrom(h), Params: map[string]string{"depth": "32", "batch": "8"}}}}
	path := filepath.Join(dir, "r.json")
	if err := Save(path, f, false); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Samples[0].Latency.P50 != h.ValueAtQuantile(50) || got.Schema != Schema || got.Version != Version {
		t.Fatalf("round trip lost data: %+v", got.Samples[0].Latency)
	}
	back, err := DecodeHistogram(got.Samples[0].Latency.Histogram)
	if err != nil || back.TotalCount() != 1000 || back.ValueAtQuantile(99) != h.ValueAtQuantile(99) {
		t.Fatalf("histogram round trip: %v %v", err, back)
	}
	if k := ParamsString(got.Samples[0].Params); k != "batch=8/depth=32" {
		t.Fatalf("params %q", k)
	}
	if err := Save(path, f, false); !errors.Is(err, ErrExists) {
		t.Fatalf("second save without force: %v, want ErrExists", err)
	}
	if err := Save(path, f, true); err != nil {
		t.Fatalf("save with force: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"empty.json":     "",
		"corrupt.json":   `{"schema": "ringbench/result", "version": 1, "samples": [`,
		"foreign.json":   `{"name": "something else"}`,
		"other.json":     `{"schema": "fio", "version": 1}`,
		"newer.json":     `{"schema": "ringbench/result", "version": 99}`,
		"nobackend.json": `{"schema": "ringbench/result", "version": 1, "samples": [{"workload": "x"}]}`,
	}
	for name, content := range cases {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
			continue
		}
		if !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error must be one line naming the file: %q", name, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := DecodeHistogram("HISTFAAAnotreally"); !errors.Is(err, ErrInvalid) {
		t.Errorf("corrupt histogram: %v", err)
	}
}

func TestSampleJSONHasFlatHeadlineFields(t *testing.T) {
	s := Sample{Backend: "uring", Workload: "small-file", Ops: 10, Syscalls: Syscalls{Available: true, PerOp: 0.03}, CPU: CPU{PerOpNs: 1400}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["syscalls_per_op"] != 0.03 || m["cpu_ns_per_op"] != 1400.0 || m["backend"] != "uring" {
		t.Fatalf("flat fields missing: %s", b)
	}
	s.Syscalls = Syscalls{Reason: "perf_event_paranoid 2"}
	b, _ = json.Marshal(s)
	m = nil
	_ = json.Unmarshal(b, &m)
	if v, ok := m["syscalls_per_op"]; !ok || v != nil {
		t.Fatalf("uncounted syscalls must be null, got %v in %s", v, b)
	}
	var back Sample
	if err := json.Unmarshal(b, &back); err != nil || back.Syscalls.Reason != "perf_event_paranoid 2" {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}

func TestDecodeHistogramRefusesForeignGeometryAndZero(t *testing.T) {
	foreign := hdrhistogram.New(1, 1<<40, 5)
	_ = foreign.RecordValue(1000)
	enc, err := foreign.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeHistogram(string(enc)); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "not ringbench's") {
		t.Errorf("foreign geometry: %v", err)
	}
	// One count at 0 ns in ringbench's own geometry (found by fuzzing): log-scale charts cannot draw it.
	if _, err := DecodeHistogram("HISTFAAAACh4nJJpmSzMwMDAyAABzFCakYGB2c1gxwIG+w8QASZAAAAA//9SqARO"); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero value: %v", err)
	}
}
