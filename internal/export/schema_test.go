package export

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ringbench/ringbench/internal/result"
)

// resultSchema compiles docs/result.schema.json, formats (date-time) asserted.
func resultSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(filepath.Join("..", "..", "docs", "result.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func validate(t *testing.T, sch *jsonschema.Schema, data []byte) error {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return sch.Validate(inst)
}

// TestSchemaAcceptsRealResultFiles: every committed result file, of both versions, and a file Save has
// just written (every optional part filled) are valid under the schema.
func TestSchemaAcceptsRealResultFiles(t *testing.T) {
	sch := resultSchema(t)
	var paths []string
	for _, pat := range []string{"internal/report/testdata/*.json", "internal/report/testdata/v1/*.json",
		"internal/result/testdata/*.json", "results/*.json"} {
		m, err := filepath.Glob(filepath.Join("..", "..", pat))
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) < 6 {
		t.Fatalf("found only %v", paths)
	}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := validate(t, sch, data); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	f := made(t)
	slab := 12.5
	f.Samples[0].Memory = &result.ConnMemory{IdleConns: 10, RSSDeltaBytes: 1000, RSSPerConnBytes: 100, SlabPerConnBytes: &slab}
	f.Samples[0].Residency = &result.Residency{Before: 1, After: 0.5, Locked: true}
	f.Samples[1].Syscalls.Backend = &result.SyscallCount{Total: 3, PerOp: 0.01, ByName: map[string]uint64{"io_uring_enter": 3}}
	f.Samples[0].RingEvents = &result.RingEvents{Available: true, Submitted: 3, AsyncPunts: 1, TaskWork: 2, PollArms: 1, CQOverflows: 0}
	f.Samples[1].RingEvents = &result.RingEvents{Reason: "perf_event_open denied"}
	f.Skipped = []result.Skip{{Backend: "sqpoll", Workload: "echo-proxy", Reason: "no"}}
	f.Warnings = []result.Warning{result.Warn(result.WarnOther, "w")}
	f.Config = result.Config{Backends: []string{"uring"}, Workloads: []string{"small-file"}, Count: 2, Duration: result.Duration(1500000000),
		Warmup: 0, Options: map[string]string{"depth": "32"}}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := result.Save(path, f, false); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate(t, sch, data); err != nil {
		t.Errorf("a file Save wrote: %v", err)
	}
}

// TestSchemaRefusesWhatLoadRefuses: the schema is not vacuous.
func TestSchemaRefusesWhatLoadRefuses(t *testing.T) {
	sch := resultSchema(t)
	for _, bad := range []string{
		`{"name": "something else"}`,
		`{"schema": "fio", "version": 1}`,
		`{"schema": "ringbench/result", "version": 99}`,
		`{"schema": "ringbench/result", "version": 2, "samples": [{"workload": "x"}]}`,
		`{"schema": "ringbench/result", "version": 2, "samples": [{"backend": "b", "workload": "w", "ops": -1}]}`,
		`{"schema": "ringbench/result", "version": 2, "started": "yesterday"}`,
		`{"schema": "ringbench/result", "version": 2, "config": {"duration": "5 seconds"}}`,
		`{"schema": "ringbench/result", "version": 2, "samples": [{"backend": "b", "workload": "w", "kind": "other"}]}`,
	} {
		if err := validate(t, sch, []byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		} else if _, lerr := result.Decode([]byte(bad)); lerr == nil && !strings.Contains(bad, "started") && !strings.Contains(bad, "kind") && !strings.Contains(bad, "duration") {
			t.Errorf("the schema refuses what Decode reads: %s", bad)
		}
	}
}
