package alignedbuf

import (
	"errors"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func aligned(b []byte) bool { return uintptr(unsafe.Pointer(&b[0]))%uintptr(os.Getpagesize()) == 0 }

func TestMap(t *testing.T) {
	page := os.Getpagesize()
	for _, populate := range []bool{false, true} {
		mem, err := Map(page+1, populate)
		if err != nil {
			t.Fatal(err)
		}
		if len(mem) != 2*page || !aligned(mem) {
			t.Errorf("populate=%v: %d bytes at %p, want %d page aligned", populate, len(mem), &mem[0], 2*page)
		}
		mem[len(mem)-1] = 1
		if err := Unmap(&mem); err != nil || mem != nil {
			t.Errorf("Unmap: %v, mem %v", err, mem)
		}
		if err := Unmap(&mem); err != nil {
			t.Errorf("second Unmap: %v", err)
		}
	}
	if _, err := Map(0, false); !errors.Is(err, unix.EINVAL) {
		t.Errorf("Map(0): %v, want EINVAL", err)
	}
}

func TestBuffers(t *testing.T) {
	page := os.Getpagesize()
	b, err := New(3, 100)
	if err != nil {
		t.Fatal(err)
	}
	if b.Len() != 3 {
		t.Errorf("Len %d", b.Len())
	}
	for i := range b.Len() {
		s := b.Slot(i)
		if len(s) != page || cap(s) != page || !aligned(s) {
			t.Errorf("slot %d: len %d cap %d at %p", i, len(s), cap(s), &s[0])
		}
		s[page-1] = byte(i) // each slot is its own: writing to its end leaves the next alone
	}
	if got := b.Slot(1)[0]; got != 0 {
		t.Errorf("slot 1 starts with %d, want 0", got)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := New(0, 4096); err == nil {
		t.Error("New(0, 4096) succeeded")
	}
}
