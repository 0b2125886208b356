package result

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.json")
	if err := os.WriteFile(existing, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name          string
		path          string
		force, mkdirs bool
		want          error // nil: accepted
	}{
		{"new file", filepath.Join(dir, "new.json"), false, false, nil},
		{"existing file", existing, false, false, ErrExists},
		{"existing file with force", existing, true, false, nil},
		{"directory", dir, true, false, ErrIsDir},
		{"device", "/dev/null", true, false, ErrNotRegular},
		{"missing directory", filepath.Join(dir, "no", "r.json"), false, false, ErrNotWritable},
		{"missing directory to be created", filepath.Join(dir, "no", "such", "r.json"), false, true, nil},
		{"file as directory", filepath.Join(existing, "r.json"), false, true, ErrNotWritable},
		{"proc", "/proc/x.json", false, false, ErrNotWritable},
		{"empty", "", false, false, ErrNotWritable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckWritable(c.path, c.force, c.mkdirs)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("CheckWritable(%q, %v, %v) = %v, want %v", c.path, c.force, c.mkdirs, err, c.want)
			}
			if err != nil && c.path != "" && !strings.Contains(err.Error(), c.path) {
				t.Errorf("error %q does not name %s", err, c.path)
			}
		})
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("CheckWritable left files behind: %v", ents)
	}
	if b, _ := os.ReadFile(existing); string(b) != "precious" {
		t.Errorf("existing file changed: %q", b)
	}
}

func TestWriteFileAtomicNeverReplacesADeviceOrDirectory(t *testing.T) {
	if err := WriteFileAtomic("/dev/null", []byte("x"), true); !errors.Is(err, ErrNotRegular) {
		t.Errorf("/dev/null with force: %v, want ErrNotRegular", err)
	}
	if st, err := os.Stat("/dev/null"); err != nil || st.Mode()&os.ModeDevice == 0 {
		t.Fatalf("/dev/null is no longer a device: %v %v", st, err)
	}
	if err := WriteFileAtomic(t.TempDir(), []byte("x"), true); !errors.Is(err, ErrIsDir) {
		t.Errorf("directory with force: %v, want ErrIsDir", err)
	}
}

func TestSaveFallbackNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 12, 4, 16, 0, 0, 0, time.UTC)
	f := &File{Samples: []Sample{{Backend: "epoll", Workload: "small-file", Ops: 1, Seconds: 1, OpsPerSec: 1}}}
	var paths []string
	for range 3 {
		p, err := SaveFallback(dir, f, at)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, filepath.Base(p))
	}
	want := "ringbench-20261204-160000.json ringbench-20261204-160000-2.json ringbench-20261204-160000-3.json"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("fallback paths %s, want %s", got, want)
	}
}
