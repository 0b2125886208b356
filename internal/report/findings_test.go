package report

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringbench/ringbench/internal/findings"
	ft "github.com/ringbench/ringbench/internal/findings/findingstest"
	"github.com/ringbench/ringbench/internal/result"
)

func saveAll(t *testing.T, files ...*result.File) []string {
	t.Helper()
	var paths []string
	for i, f := range files {
		p := filepath.Join(t.TempDir(), fmt.Sprintf("f%d.json", i))
		if err := result.Save(p, f, false); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func TestFindingsSection(t *testing.T) {
	r := buildFrom(t, saveAll(t, ft.All()...)...)
	page, err := HTML(r, nil, "ringbench test", time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	html := string(page)
	sec, warn := strings.Index(html, `<section id="findings">`), strings.Index(html, `<section id="warnings">`)
	if sec < 0 || warn < sec {
		t.Fatalf("no Findings section before Warnings (at %d, %d)", sec, warn)
	}
	if !strings.Contains(html, `<nav><a href="#findings">Findings</a>`) {
		t.Error("Findings is not first in the navigation")
	}
	var files []*result.File
	for _, in := range r.Inputs {
		files = append(files, in.File)
	}
	for i, f := range findings.Evaluate(files...) {
		if f.Verdict == findings.NotMeasured {
			t.Errorf("claim %d not measured: %s", i+1, f.Why)
			continue
		}
		// Every verdict links to a section or chart of this page.
		link := fmt.Sprintf(`<a href="#%s">%s</a>`, f.Anchor, f.Verdict)
		if !strings.Contains(html[sec:warn], link) {
			t.Errorf("claim %d: no %s in the Findings section", i+1, link)
		}
		if !strings.Contains(html, fmt.Sprintf(`id="%s"`, f.Anchor)) {
			t.Errorf("claim %d: anchor %q is not on the page", i+1, f.Anchor)
		}
	}
	if n := strings.Count(html[sec:warn], "<tr data-verdict="); n != len(findings.Claims) {
		t.Errorf("%d rows, want %d", n, len(findings.Claims))
	}

	// A file that answers no claim has no section.
	r = buildFrom(t, saveAll(t, ft.File("", ft.Timed("epoll", "small-file", nil, 1e5, 1000)))...)
	page, err = HTML(r, nil, "ringbench test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(page), `id="findings"`) || strings.Contains(string(page), `href="#findings"`) {
		t.Error("a Findings section with no claim measured")
	}
}
