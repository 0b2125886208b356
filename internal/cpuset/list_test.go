package cpuset

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestParseFormat(t *testing.T) {
	good := []struct {
		in   string
		want []int
		fmt  string
	}{
		{"0", []int{0}, "0"},
		{"0-3,6", []int{0, 1, 2, 3, 6}, "0-3,6"},
		{"6,0-3\n", []int{0, 1, 2, 3, 6}, "0-3,6"},
		{"1,1,0-1", []int{0, 1}, "0-1"},
		{"15", []int{15}, "15"},
	}
	for _, c := range good {
		got, err := Parse(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if f := Format(got); f != c.fmt {
			t.Errorf("Format(%v) = %q, want %q", got, f, c.fmt)
		}
	}
	for _, in := range []string{"", "a", "-1", "1-", "3-1", "0,,1", "1.5", "+1", "1 - 2", "4096"} {
		if got, err := Parse(in); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, %v; want ErrSyntax", in, got, err)
		}
	}
}

// TestCpuset: this process's cpuset holds every CPU of its affinity mask and only online CPUs.
func TestCpuset(t *testing.T) {
	online, set, aff := Online(), Cpuset(), Allowed()
	if len(set) == 0 || len(online) == 0 {
		t.Fatalf("Online %v, Cpuset %v", online, set)
	}
	for _, c := range aff {
		if !slices.Contains(set, c) {
			t.Errorf("CPU %d is in the affinity mask %v but not in the cpuset %v", c, aff, set)
		}
	}
	for _, c := range set {
		if !slices.Contains(online, c) {
			t.Errorf("cpuset CPU %d is not online (%v)", c, online)
		}
	}
}

// TestCgroupCpuset reads a made-up cgroup tree, v1 and v2, climbing to the nearest cgroup with a cpuset.
func TestCgroupCpuset(t *testing.T) {
	root := t.TempDir()
	write := func(path, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	proc := filepath.Join(root, "cgroup")
	// v2: the leaf has no cpuset controller enabled, its parent does.
	write(proc, "0::/a/b\n")
	write(filepath.Join(root, "a", "cpuset.cpus.effective"), "2-3\n")
	if err := os.MkdirAll(filepath.Join(root, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := cgroupCpuset(proc, root); err != nil || !slices.Equal(got, []int{2, 3}) {
		t.Errorf("v2: %v, %v; want [2 3]", got, err)
	}
	// v1.
	write(proc, "4:memory:/x\n3:cpuset,cpuacct:/c\n")
	write(filepath.Join(root, "cpuset", "c", "cpuset.effective_cpus"), "0,5\n")
	if got, err := cgroupCpuset(proc, root); err != nil || !slices.Equal(got, []int{0, 5}) {
		t.Errorf("v1: %v, %v; want [0 5]", got, err)
	}
	// No cpuset anywhere.
	write(proc, "0::/none\n")
	if got, err := cgroupCpuset(proc, filepath.Join(root, "empty")); err == nil {
		t.Errorf("no cpuset: %v, want an error", got)
	}
}
