package kmatrix

import (
	"strings"
	"testing"
)

func TestDecodeCaps(t *testing.T) {
	c, err := decodeCaps([]byte(`{"schema":"ringbench/kmatrix-caps","buf_ring":{"supported":true,"detail":"ok"},"multishot_recv":{"supported":false,"detail":"recv: EINVAL"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.BufRing.cell() != "yes" || c.MultishotRecv.cell() != "no (recv: EINVAL)" || (Cap{}).cell() != "no" {
		t.Fatalf("%+v", c)
	}
	for _, bad := range []string{`nope`, `{"schema":"other"}`} {
		if _, err := decodeCaps([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A caps block that disagrees with the probe is reported; one the probe says nothing about fills in.
func TestProcessUsesCaps(t *testing.T) {
	meta := block(BlockMeta, 0, []byte("release=5.15.0-1\naccel=tcg\nio_uring_disabled=absent\n"))
	probe := block(BlockProbe, 0, []byte(`{"io_uring":{"setup_ok":true,"features":1023,"last_opcode":39,"buf_ring":{"supported":true}}}`))
	caps := block(BlockCaps, 0, []byte(`{"schema":"ringbench/kmatrix-caps","buf_ring":{"supported":false,"detail":"IORING_REGISTER_PBUF_RING: EINVAL"},"multishot_recv":{"supported":false,"detail":"not tried: needs a provided buffer ring"}}`))
	c := parseString(t, "caps.log", meta+probe+caps+"===RINGBENCH-DONE blocks=3===\n")
	b, err := Process(c, Options{OutDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if b.Row.BufRing != "yes" || b.Row.MultishotRecv != "no (not tried: needs a provided buffer ring)" {
		t.Fatalf("row %+v", b.Row)
	}
	if !strings.Contains(strings.Join(b.Warnings, "\n"), `buf ring: the probe says "yes", kmatrix caps "no (IORING_REGISTER_PBUF_RING: EINVAL)"`) {
		t.Fatalf("warnings %q", b.Warnings)
	}
}
