package kmatrix

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The testdata console logs are real: captured from scripts/kernel-matrix.sh booting Debian's cloud
// kernels under qemu TCG (2026-11-22). tcg-6.12-mttcg-oops is a boot that crashed under multi-threaded
// TCG (an int3 oops in __schedule while the functional run was going), which is why the script now
// runs TCG single-threaded.
const (
	log61   = "testdata/tcg-6.1.console.log"
	log612  = "testdata/tcg-6.12.console.log"
	logOops = "testdata/tcg-6.12-mttcg-oops.console.log"
)

func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func parseString(t *testing.T, name, s string) *Console {
	t.Helper()
	c, err := ParseConsole(name, strings.NewReader(s))
	if err != nil {
		t.Fatalf("ParseConsole: %v", err)
	}
	return c
}

// block renders one payload the way the guest's init does.
func block(name string, exit int, payload []byte) string {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(payload)
	zw.Close()
	enc := base64.StdEncoding.EncodeToString(z.Bytes())
	var lines []string
	for len(enc) > 76 {
		lines = append(lines, enc[:76])
		enc = enc[76:]
	}
	lines = append(lines, enc)
	sum := sha256.Sum256(payload)
	return fmt.Sprintf("===RINGBENCH-BEGIN %s exit=%d enc=gzip+base64===\n%s\n===RINGBENCH-END %s bytes=%d sha256=%s===\n",
		name, exit, strings.Join(lines, "\n"), name, len(payload), hex.EncodeToString(sum[:]))
}

func TestParseRealLogs(t *testing.T) {
	for _, tc := range []struct {
		path, release string
	}{
		{log61, "6.1.0-56-cloud-amd64"},
		{log612, "6.12.117+deb12-cloud-amd64"},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			c := parseString(t, tc.path, readLog(t, tc.path))
			if err := c.Err(); err != nil {
				t.Fatalf("real log does not verify: %v", err)
			}
			var names []string
			for _, b := range c.Blocks {
				names = append(names, b.Name)
			}
			if got, want := strings.Join(names, " "), "meta probe probe-stderr caps run run-log"; got != want {
				t.Fatalf("blocks %q, want %q", got, want)
			}
			if !c.Done || c.DoneCount != 6 {
				t.Fatalf("done=%v count=%d", c.Done, c.DoneCount)
			}
			meta := parseMeta(c.Block(BlockMeta).Data)
			if meta["release"] != tc.release || meta["accel"] != "tcg" {
				t.Fatalf("meta %v", meta)
			}
			if p := c.Block(BlockProbe); p.Exit != 0 || !bytes.HasPrefix(bytes.TrimSpace(p.Data), []byte("{")) {
				t.Fatalf("probe block exit %d, starts %q", p.Exit, p.Data[:10])
			}
		})
	}
}

func TestParseRealCrash(t *testing.T) {
	c := parseString(t, logOops, readLog(t, logOops))
	if c.Done {
		t.Fatal("a crashed boot must not count as done")
	}
	if c.Block(BlockProbe) == nil || c.Block(BlockCaps) == nil {
		t.Fatal("the blocks sent before the crash must stay usable")
	}
	if c.Block(BlockRun) != nil {
		t.Fatal("no run block was sent before the crash")
	}
	err := c.Err()
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err %v, want ErrCorrupt", err)
	}
	for _, want := range []string{logOops, "RINGBENCH-DONE", "Kernel panic - not syncing: Fatal exception in interrupt"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// mutate edits the real 6.1 log and checks what the parser makes of it.
func TestParseDamagedLogs(t *testing.T) {
	real := readLog(t, log61)
	lines := strings.Split(real, "\n")
	// Find the first base64 line of the probe block and its END marker.
	probeBegin, probeEnd := -1, -1
	for i, l := range lines {
		if strings.HasPrefix(l, "===RINGBENCH-BEGIN probe ") {
			probeBegin = i
		}
		if strings.HasPrefix(l, "===RINGBENCH-END probe ") {
			probeEnd = i
		}
	}
	if probeBegin < 0 || probeEnd < probeBegin+3 {
		t.Fatal("testdata log lacks a multi-line probe block")
	}
	join := func(ls []string) string { return strings.Join(ls, "\n") }
	replaceLine := func(i int, s string) string {
		c := append([]string(nil), lines...)
		c[i] = s
		return join(c)
	}
	insertLine := func(i int, s string) string {
		c := append([]string(nil), lines[:i]...)
		c = append(c, s)
		return join(append(c, lines[i:]...))
	}
	flip := func(s string) string { // change one base64 character, keeping the alphabet
		b := []byte(s)
		if b[10] == 'A' {
			b[10] = 'B'
		} else {
			b[10] = 'A'
		}
		return string(b)
	}

	for _, tc := range []struct {
		name string
		log  string
		// wantErr is a fragment of the error ("" = the log must verify); gone lists blocks that must be
		// missing, kept blocks that must still be there.
		wantErr string
		gone    []string
		kept    []string
	}{
		{name: "crlf line endings", log: strings.ReplaceAll(real, "\n", "\r\n"), kept: []string{"probe", "run"}},
		{name: "kernel noise line inside a block", log: insertLine(probeBegin+2, "[   12.345678] random: crng init done"),
			kept: []string{"probe"}},
		{name: "noise before a marker on the same line", log: replaceLine(probeEnd, "[ 3.1] x ==="+lines[probeEnd]),
			kept: []string{"probe"}},
		{name: "one corrupted character", log: replaceLine(probeBegin+2, flip(lines[probeBegin+2])),
			wantErr: `block "probe" (line`, gone: []string{"probe"}, kept: []string{"meta", "run"}},
		{name: "lost line", log: replaceLine(probeBegin+2, ""),
			wantErr: `block "probe"`, gone: []string{"probe"}, kept: []string{"meta", "run"}},
		{name: "wrong checksum", log: replaceLine(probeEnd, strings.Replace(lines[probeEnd], "sha256=", "sha256=00", 1)),
			wantErr: "sha256 mismatch", gone: []string{"probe"}},
		{name: "wrong length", log: replaceLine(probeEnd, strings.Replace(lines[probeEnd], "bytes=", "bytes=1", 1)),
			wantErr: "length mismatch", gone: []string{"probe"}},
		{name: "missing END marker", log: replaceLine(probeEnd, ""),
			wantErr: "truncated: a new block began", gone: []string{"probe"}, kept: []string{"meta", "caps"}},
		{name: "missing BEGIN marker", log: replaceLine(probeBegin, ""),
			wantErr: "END marker without a BEGIN marker", gone: []string{"probe"}},
		{name: "truncated mid-block", log: join(lines[:probeBegin+3]),
			wantErr: "the log ends before the END marker", gone: []string{"probe", "run"}, kept: []string{"meta"}},
		{name: "no DONE marker", log: strings.Replace(real, "===RINGBENCH-DONE blocks=6===", "", 1),
			wantErr: "no ===RINGBENCH-DONE marker", kept: []string{"probe", "run"}},
		{name: "DONE count disagrees", log: strings.Replace(real, "DONE blocks=6", "DONE blocks=7", 1),
			wantErr: "announced 7 blocks, the log holds 6", kept: []string{"probe", "run"}},
		{name: "unknown encoding", log: replaceLine(probeBegin, strings.Replace(lines[probeBegin], "gzip+base64", "zstd", 1)),
			wantErr: `unknown encoding "zstd"`, gone: []string{"probe"}},
		{name: "duplicate block", log: strings.Replace(real, "===RINGBENCH-DONE blocks=6===", block("meta", 0, []byte("x=1\n"))+"===RINGBENCH-DONE blocks=7===", 1),
			wantErr: "duplicate block name", kept: []string{"meta"}},
		{name: "empty log", log: "", wantErr: "no RINGBENCH blocks found"},
		{name: "boot messages only", log: "[    0.000000] Linux version 6.1.0\n[    1.2] Kernel panic - not syncing: VFS: Unable to mount root fs\n",
			wantErr: "kernel: Kernel panic - not syncing: VFS: Unable to mount root fs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := parseString(t, "guest.log", tc.log)
			err := c.Err()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "guest.log") {
					t.Fatalf("error %v must wrap ErrCorrupt and name the log", err)
				}
			}
			for _, n := range tc.gone {
				if c.Block(n) != nil {
					t.Errorf("block %q should not have verified", n)
				}
			}
			for _, n := range tc.kept {
				if c.Block(n) == nil {
					t.Errorf("block %q should still be usable", n)
				}
			}
		})
	}
}

func TestParsePlainBase64AndNoise(t *testing.T) {
	payload := []byte("release=6.1.0\n")
	sum := sha256.Sum256(payload)
	log := "boot noise\n===RINGBENCH-BEGIN meta exit=0 enc=base64===\n" +
		base64.StdEncoding.EncodeToString(payload) + "\n" +
		"[ 1.0] this line is noise\n" +
		fmt.Sprintf("===RINGBENCH-END meta bytes=%d sha256=%s===\n", len(payload), hex.EncodeToString(sum[:])) +
		"===RINGBENCH-DONE blocks=1===\n"
	c := parseString(t, "plain.log", log)
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
	b := c.Block("meta")
	if string(b.Data) != string(payload) || b.Noise != 1 || b.Exit != 0 || b.Line != 2 {
		t.Fatalf("block %+v", b)
	}
}

func TestParseMarker(t *testing.T) {
	for _, tc := range []struct {
		in   string
		name string
		ok   bool
	}{
		{"probe exit=0 enc=gzip+base64===", "probe", true},
		{"probe exit=0 enc=gzip+base64", "probe", false}, // no closing ===
		{"===", "", false},
		{"pro/be exit=0===", "pro/be", false},
		{"probe exit=0 ===", "probe", true},
		{"probe junk===", "probe", false},
	} {
		name, _, ok := parseMarker(tc.in)
		if name != tc.name || ok != tc.ok {
			t.Errorf("parseMarker(%q) = %q, %v; want %q, %v", tc.in, name, ok, tc.name, tc.ok)
		}
	}
}
