package result

// Fuzz targets for what ringbench reads from files it did not necessarily write: result files (Decode,
// which Load calls), the histograms inside them (DecodeHistogram) and the duration strings of their
// config (Duration.UnmarshalText). Seeds are below and in testdata/fuzz/<target>/.
//
//	go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime 10s ./internal/result/
//	go test -run '^$' -fuzz '^FuzzDecodeHistogram$' -fuzztime 10s ./internal/result/
//	go test -run '^$' -fuzz '^FuzzDurationText$' -fuzztime 10s ./internal/result/

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// sampleHistogram is a small real latency histogram, encoded as run writes it.
func sampleHistogram(tb testing.TB) string {
	h := NewHistogram()
	for i := int64(1); i <= 200; i++ {
		if err := h.RecordValue(i * i * 997); err != nil {
			tb.Fatal(err)
		}
	}
	return LatencyFrom(h).Histogram
}

// seedFile is a small, valid result file as Save writes it.
func seedFile(tb testing.TB) []byte {
	h := NewHistogram()
	_ = h.RecordValue(12345)
	_ = h.RecordValue(67890)
	res := 0.5
	f := &File{Schema: Schema, Version: Version, Started: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
		Finished: time.Date(2026, 1, 2, 3, 5, 5, 0, time.FixedZone("x", 3600)), Label: "seed",
		Command: []string{"ringbench", "run"},
		Config: Config{Backends: []string{"uring"}, Workloads: []string{"small-file"}, Count: 1, Duration: Duration(2 * time.Second),
			Warmup: Duration(500 * time.Millisecond), Options: map[string]string{"depth": "32"}},
		Samples: []Sample{{Backend: "uring", Workload: "small-file", Params: map[string]string{"depth": "32"}, Seconds: 2, Ops: 10,
			Bytes: 40960, OpsPerSec: 5, BytesPerSec: 20480, Latency: LatencyFrom(h), EntersPerOp: 0.25,
			Syscalls:  Syscalls{Available: true, Total: 7, PerOp: 0.7, ByName: map[string]uint64{"io_uring_enter": 3}},
			Residency: &Residency{Before: 1, After: 1}, Memory: &ConnMemory{IdleConns: 1, SlabPerConnBytes: &res}}},
		Skipped: []Skip{{Backend: "sqpoll", Reason: "no"}}, Warnings: []Warning{{Kind: WarnOther, Text: "w"}},
		Display: Display{Backends: []string{"uring"}, Workloads: []WorkloadDisplay{{Name: "small-file", Op: "read", Rate: "IOPS"}}}}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// FuzzDecode: Decode never panics; every error wraps ErrInvalid and is one line; a file it accepts
// re-encodes (as Save does) to bytes that decode to the same samples and re-encode identically; and the
// histograms inside an accepted file decode or fail with ErrInvalid, never panic.
func FuzzDecode(f *testing.F) {
	f.Add(seedFile(f))
	for _, s := range []string{
		``,
		` `,
		`{"schema": "ringbench/result", "version": 1, "samples": [`,
		`{"name": "something else"}`,
		`{"schema": "fio", "version": 1}`,
		`{"schema": "ringbench/result", "version": 99}`,
		`{"schema": "ringbench/result", "version": 0}`,
		`{"schema": "ringbench/result", "version": 1.5}`,
		`{"schema": "ringbench/result", "version": 1}`,
		`{"schema": "ringbench/result", "version": 1, "samples": [{"workload": "x"}]}`,
		`{"schema": "ringbench/result", "version": 1, "samples": [null]}`,
		`{"schema": "ringbench/result", "version": 1, "samples": [{"backend": "b", "workload": "w", "ops": -1}]}`,
		`{"schema": "ringbench/result", "version": 1, "samples": [{"backend": "b", "workload": "w", "params": {}, "warnings": []}]}`,
		`{"schema": "ringbench/result", "version": 1, "config": {"duration": "1h2m", "warmup": 5}}`,
		`{"schema": "ringbench/result", "version": 1, "config": {"duration": "-9223372036854775808ns"}}`,
		`{"SCHEMA": "ringbench/result", "Version": 1, "schema": "x", "schema": "ringbench/result"}`,
		`{"schema": "ringbench/result", "version": 1, "started": "0000-01-01T00:00:00+01:00", "finished": "9999-12-31T23:59:59-23:59"}`,
		`{"schema": "ringbench/result", "version": 1, "samples": [{"backend": "b", "workload": "w", "latency": {"count": 1, "histogram": "HISTFAAAnotreally"}}]}`,
		`{"schema": "ringbench/result", "version": 1, "samples": [{"backend": "b", "workload": "w", "seconds": 1e308, "ops_per_sec": 5e-324}]}`,
		"{\"schema\": \"ringbench/result\", \"version\": 1, \"label\": \"\\u0000\\n\\ud800\"}",
		`[1, 2, 3]`,
		`"ringbench/result"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Decode(data)
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("Decode error is not one line: %q", err)
		}
		if !accepted(t, "Decode", file, err) {
			return
		}
		enc, err := json.MarshalIndent(file, "", "  ")
		if err != nil {
			t.Fatalf("an accepted file cannot be written back: %v", err)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("an accepted file, written back, is refused: %v\n%s", err, enc)
		}
		s1, _ := json.Marshal(file.Samples)
		s2, _ := json.Marshal(again.Samples)
		if !bytes.Equal(s1, s2) {
			t.Fatalf("samples changed through a write and a read:\n%s\n%s", s1, s2)
		}
		enc2, err := json.MarshalIndent(again, "", "  ")
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable (%v):\n%s\n%s", err, enc, enc2)
		}
		for i := range file.Samples {
			if hs := file.Samples[i].Latency.Histogram; hs != "" {
				if _, err := DecodeHistogram(hs); err != nil && !errors.Is(err, ErrInvalid) {
					t.Fatalf("sample %d: histogram error does not wrap ErrInvalid: %v", i, err)
				}
			}
		}
	})
}

// histogramBytes builds the base64 of an HdrHistogram V2 compressed encoding with the given header
// geometry and raw (already zig-zag encoded) payload, so seeds can reach past the format checks.
func histogramBytes(lowest, highest int64, digits int32, payload []byte) string {
	var inner bytes.Buffer
	_ = binary.Write(&inner, binary.BigEndian, hdrhistogram.V2EncodingCookieBase|0x10)
	_ = binary.Write(&inner, binary.BigEndian, int32(len(payload)))
	_ = binary.Write(&inner, binary.BigEndian, int32(0))
	_ = binary.Write(&inner, binary.BigEndian, digits)
	_ = binary.Write(&inner, binary.BigEndian, lowest)
	_ = binary.Write(&inner, binary.BigEndian, highest)
	_ = binary.Write(&inner, binary.BigEndian, float64(1))
	inner.Write(payload)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(inner.Bytes())
	_ = zw.Close()
	var outer bytes.Buffer
	_ = binary.Write(&outer, binary.BigEndian, hdrhistogram.V2CompressedEncodingCookieBase|0x10)
	_ = binary.Write(&outer, binary.BigEndian, int32(z.Len()))
	outer.Write(z.Bytes())
	return base64.StdEncoding.EncodeToString(outer.Bytes())
}

// FuzzDecodeHistogram: DecodeHistogram never panics and every error wraps ErrInvalid; a histogram it
// accepts encodes again (as LatencyFrom does) to one that decodes to the same distribution.
func FuzzDecodeHistogram(f *testing.F) {
	good := sampleHistogram(f)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(LatencyFrom(NewHistogram()).Histogram) // empty: LatencyFrom stores none, so ""
	f.Add("HISTFAAAnotreally")
	f.Add("HISTFAAA")
	f.Add(base64.StdEncoding.EncodeToString([]byte{0x1c, 0x84, 0x93, 0x14, 0, 0, 0, 4, 1, 2, 3, 4}))
	f.Add(base64.StdEncoding.EncodeToString([]byte{0x1c, 0x84, 0x93, 0x14, 0xff, 0xff, 0xff, 0xff}))
	f.Add(histogramBytes(HistMin, HistMax, HistDigits, []byte{2, 1, 4}))
	f.Add(histogramBytes(HistMin, HistMax, HistDigits, []byte{0x7f, 2}))                                              // zero run then a count
	f.Add(histogramBytes(HistMin, HistMax, HistDigits, []byte{0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})) // huge count
	f.Add(histogramBytes(1, 2, 0, []byte{2}))
	f.Add(histogramBytes(0, -1, 9, nil))
	f.Add(histogramBytes(1, 1<<62, 5, []byte{2})) // a wide geometry: millions of counters from a few bytes
	f.Fuzz(func(t *testing.T, s string) {
		h, err := DecodeHistogram(s)
		if !accepted(t, "DecodeHistogram", h, err) {
			return
		}
		enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
		if err != nil {
			t.Fatalf("an accepted histogram cannot be encoded again: %v", err)
		}
		h2, err := DecodeHistogram(string(enc))
		if err != nil {
			t.Fatalf("an accepted histogram, encoded again, is refused: %v", err)
		}
		if h.TotalCount() != h2.TotalCount() || h.Min() != h2.Min() || h.Max() != h2.Max() ||
			h.ValueAtQuantile(50) != h2.ValueAtQuantile(50) || h.ValueAtQuantile(99.9) != h2.ValueAtQuantile(99.9) {
			t.Fatalf("distribution changed through an encode and a decode: count %d/%d min %d/%d max %d/%d",
				h.TotalCount(), h2.TotalCount(), h.Min(), h2.Min(), h.Max(), h2.Max())
		}
	})
}

// FuzzDurationText: the config durations of a result file (Duration, "2s") read back what they write,
// for every int64; and any string UnmarshalText accepts writes back to one that reads as the same value.
func FuzzDurationText(f *testing.F) {
	for _, s := range []string{"2s", "500ms", "0", "1h2m3.5s", "-9223372036854775808ns", "2562047h47m16.854775807s", "1.5µs", "1.5us", ".5s", "1e3s", ""} {
		f.Add(s, int64(0))
	}
	f.Add("", int64(-1<<63))
	f.Add("", int64(1<<63-1))
	f.Fuzz(func(t *testing.T, s string, n int64) {
		text, err := Duration(n).MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var d Duration
		if err := d.UnmarshalText(text); err != nil || int64(d) != n {
			t.Fatalf("Duration(%d) writes %q, which reads as %d, %v", n, text, int64(d), err)
		}
		var v Duration
		if err := v.UnmarshalText([]byte(s)); err != nil {
			return
		}
		text, _ = v.MarshalText()
		var w Duration
		if err := w.UnmarshalText(text); err != nil || w != v {
			t.Fatalf("%q reads as %d, writes %q, which reads as %d, %v", s, int64(v), text, int64(w), err)
		}
	})
}

// accepted checks the contract of the decoder name that returned v and err: an error wraps ErrInvalid and
// comes without a value, no error comes with one. It reports whether v was accepted.
func accepted[T any](t *testing.T, name string, v *T, err error) bool {
	t.Helper()
	if err != nil {
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("%s error does not wrap ErrInvalid: %v", name, err)
		}
		if v != nil {
			t.Fatalf("%s returned a value with an error", name)
		}
		return false
	}
	if v == nil {
		t.Fatalf("%s returned neither a value nor an error", name)
	}
	return true
}
