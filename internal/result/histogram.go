package result

import (
	"fmt"

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
	h, err = hdrhistogram.Decode([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("corrupt histogram: %v: %w", err, ErrInvalid)
	}
	return h, nil
}
