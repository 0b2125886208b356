package testsupport

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
)

// SVGElements parses data, a chart, and returns its elements in document order, the root first; it fails
// when data is not well-formed XML or its root is not <svg>.
func SVGElements(data []byte) ([]xml.StartElement, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	var els []xml.StartElement
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			els = append(els, se.Copy())
		}
	}
	if len(els) == 0 || els[0].Name.Local != "svg" {
		root := ""
		if len(els) > 0 {
			root = els[0].Name.Local
		}
		return nil, fmt.Errorf("root element %q, want svg", root)
	}
	return els, nil
}
