package fingerprint

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// mountInfo is one line of /proc/self/mountinfo.
type mountInfo struct {
	devMajor, devMinor uint32
	mountPoint         string
	mountOptions       string
	fsType             string
	source             string
	superOptions       string
}

// unescapeMount undoes the octal escapes (\040 for space) of /proc mount files.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// parseMountInfo parses /proc/self/mountinfo (proc(5)).
func parseMountInfo(s string) []mountInfo {
	var out []mountInfo
	for _, line := range strings.Split(s, "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(pre), strings.Fields(post)
		if len(f) < 6 || len(g) < 2 {
			continue
		}
		majS, minS, ok := strings.Cut(f[2], ":")
		if !ok {
			continue
		}
		a, err1 := strconv.ParseUint(majS, 10, 32)
		b, err2 := strconv.ParseUint(minS, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		m := mountInfo{devMajor: uint32(a), devMinor: uint32(b), mountPoint: unescapeMount(f[4]), mountOptions: f[5],
			fsType: g[0], source: unescapeMount(g[1])}
		if len(g) >= 3 {
			m.superOptions = g[2]
		}
		out = append(out, m)
	}
	return out
}

// under reports whether p is mount point mp or inside it.
func under(p, mp string) bool {
	return mp == "/" || p == mp || strings.HasPrefix(p, mp+"/")
}

// findMount picks the mount that holds p: among mounts of p's device the one with the longest mount point
// that contains p; when the device matches none (some filesystems report anonymous devices), the longest
// containing mount point. Later lines win ties (they are mounted on top).
func findMount(mounts []mountInfo, p string, major, minor uint32, haveDev bool) (mountInfo, bool) {
	best, found := mountInfo{}, false
	pick := func(devMatch bool) {
		for _, m := range mounts {
			if devMatch && (m.devMajor != major || m.devMinor != minor) {
				continue
			}
			if under(p, m.mountPoint) && (!found || len(m.mountPoint) >= len(best.mountPoint)) {
				best, found = m, true
			}
		}
	}
	if haveDev {
		pick(true)
	}
	if !found {
		pick(false)
	}
	return best, found
}

// mergeOptions joins per-mount and superblock options without repeating one.
func mergeOptions(a, b string) string {
	seen := map[string]bool{}
	var out []string
	for _, o := range strings.Split(a+","+b, ",") {
		if o == "" || seen[o] {
			continue
		}
		seen[o] = true
		out = append(out, o)
	}
	return strings.Join(out, ",")
}

func collectDataDir(dir string) *DataDir {
	d := &DataDir{Path: dir}
	if abs, err := filepath.Abs(dir); err == nil {
		d.Path = abs
	}
	p := d.Path
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	var st unix.Stat_t
	haveDev := unix.Stat(p, &st) == nil
	major, minor := unix.Major(st.Dev), unix.Minor(st.Dev)
	m, ok := findMount(parseMountInfo(readString("/proc/self/mountinfo")), p, major, minor, haveDev)
	if ok {
		d.FSType = m.fsType
		d.MountOptions = mergeOptions(m.mountOptions, m.superOptions)
		d.Device = m.source
		if !haveDev {
			major, minor = m.devMajor, m.devMinor
		}
	}
	if name, sched := blockDevice(major, minor); name != "" {
		d.Device = "/dev/" + name
		d.Scheduler = sched
	}
	return d
}

// blockDevice resolves a device number to its /sys/block name and I/O scheduler. A partition reports its
// disk's scheduler; a device without a queue (tmpfs, overlay) returns "".
func blockDevice(major, minor uint32) (name, scheduler string) {
	link := path("/sys/dev/block/" + strconv.FormatUint(uint64(major), 10) + ":" + strconv.FormatUint(uint64(minor), 10))
	real, err := filepath.EvalSymlinks(link)
	if err != nil {
		return "", ""
	}
	name = filepath.Base(real)
	disk := real
	if _, err := os.Stat(filepath.Join(real, "partition")); err == nil {
		disk = filepath.Dir(real)
	}
	if b, err := os.ReadFile(filepath.Join(disk, "queue", "scheduler")); err == nil {
		scheduler = bracketed(strings.TrimSpace(string(b)))
	}
	return name, scheduler
}
