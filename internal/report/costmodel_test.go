package report

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCostModelSection(t *testing.T) {
	r := buildFrom(t, filepath.Join("..", "costmodel", "testdata", "batch-sweep.json"))
	page, err := HTML(r, nil, "ringbench test", time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	for _, want := range []string{
		`<a href="#costmodel">Cost model</a>`,
		`<section id="costmodel">`,
		"<h3>small-file: CPU/op = w &#43; c/batch (bs=4096/depth=64)</h3>",
		"<th>c per submission (95% CI)</th>",
		"uring&#39;s CPU/op falls below epoll&#39;s from batch 2",
		"A null syscall (getppid) cost 100ns",
		"5 batch sizes, 15 samples",
		"<th class=\"field\">null syscall (getppid)</th><td class=\"value\">100 ns</td>",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}

	// A file with no sweep has no section; two connection counts are too few to fit.
	r = buildFrom(t, writeFixtures(t, "kernel-6.12-kvm.json")...)
	page, err = HTML(r, nil, "ringbench test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	html = string(page)
	if !strings.Contains(html, "too few points to fit (2 connection counts; need 3)") {
		i := strings.Index(html, `id="costmodel"`)
		t.Errorf("two conns values: no too-few line (section at %d)", i)
	}
	if strings.Contains(html, "c/batch") {
		t.Error("a batch model without a batch sweep")
	}
}
