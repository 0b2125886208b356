package result

import (
	"path/filepath"
	"reflect"
	"testing"
)

// A version 1 file (warnings as bare strings, no display) loads as the current version: kinds inferred
// from the texts it was written with, and the display order of the registries of that time.
func TestLoadVersion1(t *testing.T) {
	f, err := Load(filepath.Join("testdata", "v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != Version {
		t.Errorf("version %d, want it upgraded to %d", f.Version, Version)
	}
	if !reflect.DeepEqual(f.Display, v1Display) {
		t.Errorf("display %+v, want %+v", f.Display, v1Display)
	}
	kinds := func(ws []Warning) []string {
		var out []string
		for _, w := range ws {
			out = append(out, w.Kind)
		}
		return out
	}
	want := [][]string{
		{WarnSQPollSharedCPU, WarnLowResidency},
		{WarnInterrupted, WarnRingFallback},
	}
	for i, w := range want {
		if got := kinds(f.Samples[i].Warnings); !reflect.DeepEqual(got, w) {
			t.Errorf("sample %d warning kinds %q, want %q", i, got, w)
		}
	}
	if got, w := kinds(f.Warnings), []string{WarnInterrupted, WarnEmulated, WarnOther}; !reflect.DeepEqual(got, w) {
		t.Errorf("file warning kinds %q, want %q", got, w)
	}
	if f.Warnings[2].Text != "disk is slow" {
		t.Errorf("text changed: %q", f.Warnings[2].Text)
	}

	// Written again, it is a current file and reads back the same.
	path := filepath.Join(t.TempDir(), "v2.json")
	if err := Save(path, f, false); err != nil {
		t.Fatal(err)
	}
	g, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g.Warnings, f.Warnings) || !reflect.DeepEqual(g.Samples[0].Warnings, f.Samples[0].Warnings) ||
		!reflect.DeepEqual(g.Display, f.Display) {
		t.Errorf("round trip changed warnings or display:\n%+v\n%+v", g, f)
	}
}

// A current file keeps its own display: nothing of version 1 is filled in.
func TestDecodeKeepsDisplay(t *testing.T) {
	data := `{"schema": "ringbench/result", "version": 2, "samples": [], "warnings": [{"kind": "future-kind", "text": "x"}, {"text": "y"}],
		"display": {"backends": ["b", "a"], "workloads": [{"name": "w", "op": "thing", "rate": "things/s"}]}}`
	f, err := Decode([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"b", "a"}; !reflect.DeepEqual(f.Display.Backends, want) || f.Display.Workloads[0].Op != "thing" {
		t.Errorf("display %+v", f.Display)
	}
	if f.Warnings[0].Kind != "future-kind" || f.Warnings[1].Kind != WarnOther {
		t.Errorf("warnings %+v: an unknown kind is kept, a missing one is %q", f.Warnings, WarnOther)
	}
}
