package cpuset

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// MaxCPU bounds the CPU numbers Parse accepts (the size of unix.CPUSet).
const MaxCPU = 1024

// ErrSyntax marks a CPU list that is not in the kernel's list format.
var ErrSyntax = errors.New("not a CPU list (want e.g. 0-3,6)")

// Parse reads a CPU list in the kernel's format ("0-3,6", as taskset -c and cpuset.cpus take it) and
// returns the CPUs, sorted and without duplicates. Errors wrap ErrSyntax.
func Parse(list string) ([]int, error) {
	s := strings.TrimSpace(list)
	if s == "" {
		return nil, fmt.Errorf("empty list: %w", ErrSyntax)
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := cpuNumber(lo)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", part, err)
		}
		b := a
		if isRange {
			if b, err = cpuNumber(hi); err != nil {
				return nil, fmt.Errorf("%q: %w", part, err)
			}
			if b < a {
				return nil, fmt.Errorf("%q: range runs backwards: %w", part, ErrSyntax)
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func cpuNumber(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || strings.TrimSpace(s) != s || strings.HasPrefix(s, "+") {
		return 0, ErrSyntax
	}
	if n >= MaxCPU {
		return 0, fmt.Errorf("CPU %d is beyond %d: %w", n, MaxCPU-1, ErrSyntax)
	}
	return n, nil
}

// Format writes cpus (sorted) in the kernel's list format, ranges collapsed: [0 1 2 3 6] → "0-3,6".
func Format(cpus []int) string {
	var b strings.Builder
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(cpus[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(cpus[j]))
		}
		i = j + 1
	}
	return b.String()
}

// Online lists the online CPUs (/sys/devices/system/cpu/online), or the affinity mask when that file
// cannot be read.
func Online() []int {
	if cpus, err := readList("/sys/devices/system/cpu/online"); err == nil {
		return cpus
	}
	return Allowed()
}

// Cpuset lists the CPUs of this process's cpuset: what the kernel's cpuset_cpus_allowed returns, and so
// what it lets this process place an SQPOLL thread on (IORING_SETUP_SQ_AFF), whatever the affinity mask
// (taskset) says. It reads cpuset.cpus.effective of the process's cgroup (v2) or cpuset.effective_cpus
// of its cpuset cgroup (v1), climbing to the nearest ancestor that has the file, and falls back to all
// online CPUs when there is no cpuset controller. The result is always a subset of Online.
func Cpuset() []int {
	online := Online()
	set, err := cgroupCpuset("/proc/self/cgroup", "/sys/fs/cgroup")
	if err != nil || len(set) == 0 {
		return online
	}
	var out []int
	for _, c := range set {
		if slices.Contains(online, c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return online
	}
	return out
}

// cgroupCpuset finds the effective cpuset of the cgroup named in procCgroup, under the cgroup mount root.
func cgroupCpuset(procCgroup, root string) ([]int, error) {
	f, err := os.Open(procCgroup)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	type cand struct{ dir, file string }
	var cands []cand
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// hierarchy-ID:controller-list:path
		fields := strings.SplitN(sc.Text(), ":", 3)
		if len(fields) != 3 {
			continue
		}
		switch {
		case slices.Contains(strings.Split(fields[1], ","), "cpuset"): // v1
			cands = append(cands, cand{filepath.Join(root, "cpuset", fields[2]), "cpuset.effective_cpus"})
		case fields[0] == "0" && fields[1] == "": // v2, mounted at root or (hybrid) root/unified
			cands = append(cands, cand{filepath.Join(root, fields[2]), "cpuset.cpus.effective"},
				cand{filepath.Join(root, "unified", fields[2]), "cpuset.cpus.effective"})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, c := range cands {
		for dir := c.dir; ; dir = filepath.Dir(dir) {
			if cpus, err := readList(filepath.Join(dir, c.file)); err == nil && len(cpus) > 0 {
				return cpus, nil
			}
			if dir == root || dir == "/" || dir == "." || !strings.HasPrefix(dir, root) {
				break
			}
		}
	}
	return nil, errors.New("no cpuset controller")
}

func readList(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(string(b))
}
