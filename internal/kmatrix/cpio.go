package kmatrix

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Initramfs archives are written here rather than with cpio(1), which is often missing: the format is
// the kernel's "newc" cpio, gzip-compressed, with every entry owned by root and dated 0, so the same
// inputs give the same bytes. The entries come from a spec in the format of the kernel's own
// usr/gen_init_cpio, a subset of it:
//
//	dir   <name> <mode>
//	file  <name> <source path> <mode>
//	slink <name> <target> <mode>
//	nod   <name> <mode> <c|b> <major> <minor>
//
// Modes are octal. Blank lines and lines starting with # are ignored. A relative source path is taken
// relative to the spec file's directory.

// cpioEntry is one parsed spec line.
type cpioEntry struct {
	kind         string // dir, file, slink, nod
	name         string
	mode         uint32 // permission bits only
	source       string // file: path on the host; slink: target
	devType      byte   // nod: 'c' or 'b'
	major, minor uint32
	line         int
}

// ParseInitramfsSpec reads a gen_init_cpio-style spec. specDir resolves relative file sources.
func ParseInitramfsSpec(specName string, r io.Reader, specDir string) ([]cpioEntry, error) {
	var out []cpioEntry
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", specName, n, fmt.Sprintf(format, args...))
		}
		want := map[string]int{"dir": 3, "file": 4, "slink": 4, "nod": 6}[f[0]]
		if want == 0 {
			return nil, bad("unknown entry type %q (want dir, file, slink or nod)", f[0])
		}
		if len(f) != want {
			return nil, bad("%s takes %d fields, got %d", f[0], want-1, len(f)-1)
		}
		e := cpioEntry{kind: f[0], name: strings.TrimPrefix(f[1], "/"), line: n}
		if e.name == "" || strings.Contains("/"+e.name+"/", "/../") {
			return nil, bad("bad name %q", f[1])
		}
		modeField := f[2]
		switch e.kind {
		case "file":
			e.source, modeField = f[2], f[3]
			if !filepath.IsAbs(e.source) {
				e.source = filepath.Join(specDir, e.source)
			}
		case "slink":
			e.source, modeField = f[2], f[3]
		case "nod":
			if f[3] != "c" && f[3] != "b" {
				return nil, bad("device type %q (want c or b)", f[3])
			}
			e.devType = f[3][0]
			ma, err1 := strconv.ParseUint(f[4], 10, 32)
			mi, err2 := strconv.ParseUint(f[5], 10, 32)
			if err1 != nil || err2 != nil {
				return nil, bad("bad device numbers %q %q", f[4], f[5])
			}
			e.major, e.minor = uint32(ma), uint32(mi)
		}
		m, err := strconv.ParseUint(modeField, 8, 32)
		if err != nil || m > 0o7777 {
			return nil, bad("bad octal mode %q", modeField)
		}
		e.mode = uint32(m)
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", specName, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no entries", specName)
	}
	return out, nil
}

// File type bits of the cpio mode field.
const (
	cpioDir  = 0o040000
	cpioReg  = 0o100000
	cpioLink = 0o120000
	cpioChr  = 0o020000
	cpioBlk  = 0o060000
)

// WriteInitramfs writes the entries as a gzip-compressed newc cpio archive to w.
func WriteInitramfs(w io.Writer, entries []cpioEntry) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	cw := &countWriter{w: zw}
	for i, e := range entries {
		var (
			mode uint32
			data io.Reader
			size int64
			rdev [2]uint32
		)
		switch e.kind {
		case "dir":
			mode = cpioDir | e.mode
		case "slink":
			mode = cpioLink | e.mode
			data, size = strings.NewReader(e.source), int64(len(e.source))
		case "nod":
			mode = cpioChr | e.mode
			if e.devType == 'b' {
				mode = cpioBlk | e.mode
			}
			rdev = [2]uint32{e.major, e.minor}
		case "file":
			fh, err := os.Open(e.source)
			if err != nil {
				return fmt.Errorf("initramfs entry %s (spec line %d): %w", e.name, e.line, err)
			}
			defer fh.Close() // few entries: closing at return is fine
			st, err := fh.Stat()
			if err != nil {
				return fmt.Errorf("initramfs entry %s: %w", e.name, err)
			}
			if !st.Mode().IsRegular() {
				return fmt.Errorf("initramfs entry %s: %s is not a regular file", e.name, e.source)
			}
			mode = cpioReg | e.mode
			data, size = fh, st.Size()
		}
		if err := writeCpioHeader(cw, uint32(i+1), mode, 1, size, rdev, e.name); err != nil {
			return err
		}
		if data != nil {
			n, err := io.Copy(cw, data)
			if err != nil {
				return fmt.Errorf("initramfs entry %s: %w", e.name, err)
			}
			if n != size {
				return fmt.Errorf("initramfs entry %s: %s changed size while being archived", e.name, e.source)
			}
			if err := cw.pad4(); err != nil {
				return err
			}
		}
	}
	if err := writeCpioHeader(cw, 0, 0, 1, 0, [2]uint32{}, "TRAILER!!!"); err != nil {
		return err
	}
	return zw.Close()
}

func writeCpioHeader(cw *countWriter, ino, mode, nlink uint32, size int64, rdev [2]uint32, name string) error {
	if size > 0xffffffff {
		return fmt.Errorf("initramfs entry %s: larger than 4 GiB", name)
	}
	// magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, mode, 0, 0, nlink, 0, uint32(size), 0, 0, rdev[0], rdev[1], len(name)+1, 0)
	if _, err := io.WriteString(cw, hdr+name+"\x00"); err != nil {
		return err
	}
	return cw.pad4()
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countWriter) pad4() error {
	if r := c.n % 4; r != 0 {
		_, err := c.Write(make([]byte, 4-r))
		return err
	}
	return nil
}

// BuildInitramfs reads the spec at specPath and writes the archive to outPath atomically.
func BuildInitramfs(specPath, outPath string) error {
	fh, err := os.Open(specPath)
	if err != nil {
		return err
	}
	defer fh.Close()
	entries, err := ParseInitramfsSpec(specPath, fh, filepath.Dir(specPath))
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(outPath), "."+filepath.Base(outPath)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := WriteInitramfs(tmp, entries); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), outPath)
}
