package kmatrix

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTableFromRealBoots(t *testing.T) {
	dir := t.TempDir()
	// Filed 6.12 first: the table orders by kernel version, not by file or call order.
	for _, p := range []string{log612, log61} {
		if _, err := processLog(t, p, Options{OutDir: dir, Accel: "tcg"}); err != nil {
			t.Fatal(err)
		}
	}
	boots, err := LoadBoots(dir)
	if err != nil {
		t.Fatal(err)
	}
	table, err := Table(boots)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(table, "\n")
	for i, want := range []string{
		"| kernel release | accel | io_uring_disabled | setup | features | last opcode | opcodes | SQPOLL | DEFER_TASKRUN | buf ring | multishot recv | multishot accept | functional run |",
		"|---|---|---|---|---|---|---|---|---|---|---|---|---|",
		"| 6.1.0-56-cloud-amd64 | tcg (emulated) | absent | ok | 0x1fff | 48 | 49 | yes | yes | yes | yes | yes | ran epoll,sqpoll,uring |",
		"| 6.12.117+deb12-cloud-amd64 | tcg (emulated) | 0 | ok | 0xffff | 57 | 58 | yes | yes | yes | yes | yes | ran epoll,sqpoll,uring |",
		"",
		"- 6.12.117+deb12-cloud-amd64 over 6.1.0-56-cloud-amd64: opcodes +9: READ_MULTISHOT WAITID FUTEX_WAIT FUTEX_WAKE FUTEX_WAITV FIXED_FD_INSTALL FTRUNCATE BIND LISTEN; features: REG_REG_RING RECVSEND_BUNDLE MIN_TIMEOUT; setup flags: NO_SQARRAY",
		"",
		"- 6.1-tcg: " + EmulatedWarning,
		"- 6.12-tcg: " + EmulatedWarning,
	} {
		if i >= len(lines) || lines[i] != want {
			t.Fatalf("line %d:\n got %q\nwant %q\ntable:\n%s", i, lines[min(i, len(lines)-1)], want, table)
		}
	}
	// The matrix is about features: no performance figure may appear in it, emulated or not.
	for _, unit := range []string{"ops/s", "MB/s", "µs", "ns/op"} {
		if strings.Contains(table, unit) {
			t.Errorf("the table shows a performance figure (%s):\n%s", unit, table)
		}
	}

	// Explicit files work as a directory does; a crashed boot shows its problem.
	if _, err := processLog(t, logOops, Options{OutDir: dir, Accel: "tcg", Label: "6.12-tcg-crash"}); err == nil {
		t.Fatal("the crashed boot must report an error")
	}
	boots, err = LoadBoots(filepath.Join(dir, "6.1-tcg.boot.json"), filepath.Join(dir, "6.12-tcg-crash.boot.json"))
	if err != nil {
		t.Fatal(err)
	}
	table, _ = Table(boots)
	if !strings.Contains(table, "| no result |") || !strings.Contains(table, "6.12-tcg-crash: PROBLEM: ") {
		t.Fatalf("crash not shown:\n%s", table)
	}
}

func TestTableWithoutProbe(t *testing.T) {
	b := &Boot{Label: "6.1-tcg", Accelerator: "tcg", Emulated: true, Row: Row{Release: "6.1.0-1", IOUringDisabled: "absent",
		Probe: "failed (exit 127): no probe | command", SQPoll: unknown, DeferTaskrun: unknown, BufRing: "yes", MultishotRecv: "yes", MultishotAccept: unknown, Run: "skipped"}}
	table, err := Table([]*Boot{b})
	if err != nil {
		t.Fatal(err)
	}
	want := `| 6.1.0-1 | tcg (emulated) | absent | probe failed (exit 127): no probe \| command | - | - | - | ? | ? | yes | yes | ? | skipped |`
	if !strings.Contains(table, want) {
		t.Fatalf("table:\n%s\nwant row %s", table, want)
	}
	if _, err := Table(nil); !errors.Is(err, ErrNoBoots) {
		t.Fatalf("empty table: %v", err)
	}
}

func TestLoadBootsErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadBoots(dir); err == nil || !strings.Contains(err.Error(), "no *.boot.json") {
		t.Fatalf("empty dir: %v", err)
	}
	bad := filepath.Join(dir, "x.boot.json")
	os.WriteFile(bad, []byte(`{"schema":"ringbench/result"}`), 0o644)
	if _, err := LoadBoots(bad); err == nil || !strings.Contains(err.Error(), "not a kernel-matrix boot summary") {
		t.Fatalf("foreign file: %v", err)
	}
	os.WriteFile(bad, []byte(`{"schema":"ringbench/kmatrix-boot","version":99}`), 0o644)
	if _, err := LoadBoots(bad); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("newer file: %v", err)
	}
	if _, err := LoadBoots(filepath.Join(dir, "missing.boot.json")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestSortBoots(t *testing.T) {
	mk := func(rel, label string) *Boot { return &Boot{Label: label, Row: Row{Release: rel}} }
	boots := []*Boot{mk("6.12.117+deb12-cloud-amd64", "c"), mk("6.1.0-56-cloud-amd64", "b-tcg"), mk("6.1.0-56-cloud-amd64", "a-kvm"), mk("5.10.0-1", "z")}
	SortBoots(boots)
	var got []string
	for _, b := range boots {
		got = append(got, b.Label)
	}
	if strings.Join(got, " ") != "z a-kvm b-tcg c" {
		t.Fatalf("order %v", got)
	}
}

func TestCapability(t *testing.T) {
	for _, tc := range []struct {
		in   any
		want string
	}{
		{true, "yes"}, {false, "no"}, {nil, "?"}, {"yes", "?"},
		{map[string]any{"supported": true, "detail": "x"}, "yes"},
		{map[string]any{"supported": false, "detail": "EINVAL"}, "no (EINVAL)"},
		{map[string]any{"supported": false}, "no"},
		{map[string]any{"detail": "x"}, "?"},
	} {
		if got := capability(tc.in); got != tc.want {
			t.Errorf("capability(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMergeCap(t *testing.T) {
	b := &Boot{}
	if got := mergeCap(b, "buf ring", unknown, Cap{Supported: true}); got != "yes" {
		t.Fatalf("probe silent, caps yes: %q", got)
	}
	if got := mergeCap(b, "buf ring", "yes", Cap{Supported: true}); got != "yes" || len(b.Warnings) != 0 {
		t.Fatalf("agreement: %q %q", got, b.Warnings)
	}
	if got := mergeCap(b, "buf ring", "yes", Cap{Detail: "IORING_REGISTER_PBUF_RING: EINVAL"}); got != "yes" || len(b.Warnings) != 1 {
		t.Fatalf("disagreement must warn: %q %q", got, b.Warnings)
	}
}
