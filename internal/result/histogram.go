package result

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Latency histograms record nanoseconds from 1 ns to one hour at 3 significant digits.
const (
	HistMin    = 1
	HistMax    = 3_600_000_000_000
	HistDigits = 3
)

// NewHistogram returns an empty latency histogram with ringbench's range and precision.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(HistMin, HistMax, HistDigits)
}

// LatencyFrom summarises a histogram, encoding it whole.
func LatencyFrom(h *hdrhistogram.Histogram) Latency {
	l := Latency{Count: h.TotalCount()}
	if l.Count == 0 {
		return l
	}
	l.Min = h.Min()
	l.Mean = h.Mean()
	l.P50 = h.ValueAtQuantile(50)
	l.P75 = h.ValueAtQuantile(75)
	l.P90 = h.ValueAtQuantile(90)
	l.P99 = h.ValueAtQuantile(99)
	l.P999 = h.ValueAtQuantile(99.9)
	l.P9999 = h.ValueAtQuantile(99.99)
	l.P99999 = h.ValueAtQuantile(99.999)
	l.Max = h.Max()
	if enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err == nil {
		l.Histogram = string(enc)
	}
	return l
}

// DecodeHistogram decodes an encoded histogram from a result file.
func DecodeHistogram(s string) (h *hdrhistogram.Histogram, err error) {
	if s == "" {
		return nil, fmt.Errorf("no histogram stored: %w", ErrInvalid)
	}
	// The decoder indexes by counts read from the input and can panic on hostile bytes.
	defer func() {
		if r := recover(); r != nil {
			h, err = nil, fmt.Errorf("corrupt histogram: %v: %w", r, ErrInvalid)
		}
	}()
	if err := checkGeometry(s); err != nil {
		return nil, err
	}
	h, err = hdrhistogram.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("corrupt histogram: %v: %w", err, ErrInvalid)
	}
	if h.TotalCount() > 0 && h.Min() < HistMin {
		return nil, fmt.Errorf("histogram holds values below %d ns: %w", int64(HistMin), ErrInvalid)
	}
	return h, nil
}

// checkGeometry reads the header inside an encoded histogram (base64 of: cookie, length, then zlib of
// cookie, payload length, normalizing offset, significant digits, lowest and highest trackable value) and
// refuses any geometry but ringbench's, before decoding allocates the counts it declares: a 56-byte string
// can otherwise ask for millions of counters, and a histogram of another range cannot be merged with ours.
func checkGeometry(s string) error {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) < 8 {
		return fmt.Errorf("corrupt histogram: not base64 of an HdrHistogram: %w", ErrInvalid)
	}
	zr, err := zlib.NewReader(bytes.NewReader(raw[8:]))
	if err != nil {
		return fmt.Errorf("corrupt histogram: %v: %w", err, ErrInvalid)
	}
	defer zr.Close()
	var hdr [32]byte
	if _, err := io.ReadFull(zr, hdr[:]); err != nil {
		return fmt.Errorf("corrupt histogram: short header: %w", ErrInvalid)
	}
	digits := int64(binary.BigEndian.Uint32(hdr[12:16]))
	lowest := int64(binary.BigEndian.Uint64(hdr[16:24]))
	highest := int64(binary.BigEndian.Uint64(hdr[24:32]))
	if digits != HistDigits || lowest != HistMin || highest != HistMax {
		return fmt.Errorf("histogram is not ringbench's (range %d..%d ns at %d digits, want %d..%d at %d): %w",
			lowest, highest, digits, int64(HistMin), int64(HistMax), HistDigits, ErrInvalid)
	}
	return nil
}
