package testsupport

import "testing"

func TestSVGElements(t *testing.T) {
	els, err := SVGElements([]byte(`<svg width="2" height="1"><g><text>a</text></g></svg>`))
	if err != nil || len(els) != 3 || els[0].Name.Local != "svg" || els[2].Name.Local != "text" {
		t.Errorf("SVGElements = %v, %v; want svg, g, text", els, err)
	}
	for _, bad := range []string{``, `<html></html>`, `<svg><text></svg>`} {
		if _, err := SVGElements([]byte(bad)); err == nil {
			t.Errorf("SVGElements(%q) did not fail", bad)
		}
	}
}
