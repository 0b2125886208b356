package kmatrix

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cpioRead is a minimal newc reader, independent of the writer, for checking archives.
type cpioFile struct {
	name          string
	mode, nlink   uint32
	rmaj, rmin    uint32
	data          string
	uid, gid, mtm uint32
}

func cpioRead(t *testing.T, gz []byte) []cpioFile {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var out []cpioFile
	off := 0
	pad := func(n int) int { return (n + 3) &^ 3 }
	for {
		if off+110 > len(raw) {
			t.Fatalf("archive ends inside a header at %d", off)
		}
		h := string(raw[off : off+110])
		if h[:6] != "070701" {
			t.Fatalf("bad magic %q at %d", h[:6], off)
		}
		field := func(i int) uint32 {
			v, err := strconv.ParseUint(h[6+8*i:14+8*i], 16, 32)
			if err != nil {
				t.Fatalf("bad header field %d at %d", i, off)
			}
			return uint32(v)
		}
		f := cpioFile{mode: field(1), uid: field(2), gid: field(3), nlink: field(4), mtm: field(5), rmaj: field(9), rmin: field(10)}
		size, namesize := int(field(6)), int(field(11))
		if off%4 != 0 {
			t.Fatalf("header at %d not 4-aligned", off)
		}
		f.name = string(raw[off+110 : off+110+namesize-1])
		off = pad(off + 110 + namesize)
		f.data = string(raw[off : off+size])
		off = pad(off + size)
		if f.name == "TRAILER!!!" {
			if off != len(raw) {
				t.Fatalf("%d bytes after the trailer", len(raw)-off)
			}
			return out
		}
		out = append(out, f)
	}
}

func TestInitramfsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "init"), []byte("#!/bin/sh\necho hi\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "odd"), []byte("12345"), 0o600)
	spec := filepath.Join(dir, "spec")
	os.WriteFile(spec, []byte(`# comment
dir /dev 0755
nod /dev/console 0600 c 5 1
dir /tmp 1777
file /init init 0755
file /bin/odd `+filepath.Join(dir, "odd")+` 0644
slink /bin/sh busybox 0777
`), 0o644)
	out := filepath.Join(dir, "initramfs.cpio.gz")
	if err := BuildInitramfs(spec, out); err != nil {
		t.Fatal(err)
	}
	gz, _ := os.ReadFile(out)
	files := cpioRead(t, gz)
	want := []cpioFile{
		{name: "dev", mode: 0o040755, nlink: 1},
		{name: "dev/console", mode: 0o020600, nlink: 1, rmaj: 5, rmin: 1},
		{name: "tmp", mode: 0o041777, nlink: 1},
		{name: "init", mode: 0o100755, nlink: 1, data: "#!/bin/sh\necho hi\n"},
		{name: "bin/odd", mode: 0o100644, nlink: 1, data: "12345"},
		{name: "bin/sh", mode: 0o120777, nlink: 1, data: "busybox"},
	}
	if len(files) != len(want) {
		t.Fatalf("entries %+v", files)
	}
	for i := range want {
		if files[i] != want[i] {
			t.Errorf("entry %d: %+v, want %+v", i, files[i], want[i])
		}
	}
	// Same inputs, same bytes: entries are dated 0 and owned by root.
	out2 := filepath.Join(dir, "again.cpio.gz")
	if err := BuildInitramfs(spec, out2); err != nil {
		t.Fatal(err)
	}
	gz2, _ := os.ReadFile(out2)
	if !bytes.Equal(gz, gz2) {
		t.Fatal("archive is not reproducible")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

func TestInitramfsSpecErrors(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"", "no entries"},
		{"pipe /x 0644", `unknown entry type "pipe"`},
		{"dir /x", "dir takes 2 fields, got 1"},
		{"dir /x 0999", `bad octal mode "0999"`},
		{"dir /../etc 0755", "bad name"},
		{"nod /dev/x 0600 p 1 2", `device type "p"`},
		{"nod /dev/x 0600 c one 2", "bad device numbers"},
	} {
		_, err := ParseInitramfsSpec("spec", strings.NewReader(tc.spec), "/")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("spec %q: err %v, want %q", tc.spec, err, tc.want)
		}
	}
	entries, err := ParseInitramfsSpec("spec", strings.NewReader("file /init /no/such/file 0755"), "/")
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteInitramfs(io.Discard, entries); err == nil || !strings.Contains(err.Error(), "/no/such/file") {
		t.Fatalf("missing source: %v", err)
	}
}
