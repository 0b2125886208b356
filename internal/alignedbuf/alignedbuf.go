// Package alignedbuf provides page-aligned I/O buffers outside the Go heap: usable for O_DIRECT, never
// moved or freed by the garbage collector while the kernel writes into them.
package alignedbuf

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Buffers is a set of equal, page-aligned slots in one anonymous mapping.
type Buffers struct {
	mem      []byte
	slotSize int
	slots    int
}

// Map maps size bytes, rounded up to a whole page, of zeroed anonymous memory: page aligned, outside the Go
// heap. populate faults the pages in now (MAP_POPULATE), so that the first I/O into them does not.
func Map(size int, populate bool) ([]byte, error) {
	if size < 1 {
		return nil, fmt.Errorf("alignedbuf: map %d bytes: %w", size, unix.EINVAL)
	}
	flags := unix.MAP_PRIVATE | unix.MAP_ANONYMOUS
	if populate {
		flags |= unix.MAP_POPULATE
	}
	page := os.Getpagesize()
	mem, err := unix.Mmap(-1, 0, (size+page-1)/page*page, unix.PROT_READ|unix.PROT_WRITE, flags)
	if err != nil {
		return nil, fmt.Errorf("alignedbuf: map %d bytes: %w", size, err)
	}
	return mem, nil
}

// Unmap unmaps *mem, a mapping from Map, and sets it to nil. With *mem nil it does nothing, so a Close built
// on it may be called twice.
func Unmap(mem *[]byte) error {
	if *mem == nil {
		return nil
	}
	err := unix.Munmap(*mem)
	*mem = nil
	return err
}

// New maps slots buffers of at least size bytes each, each rounded up to a whole page.
func New(slots, size int) (*Buffers, error) {
	if slots < 1 || size < 1 {
		return nil, fmt.Errorf("alignedbuf: %d slots of %d bytes", slots, size)
	}
	page := os.Getpagesize()
	slotSize := (size + page - 1) / page * page
	mem, err := Map(slots*slotSize, false)
	if err != nil {
		return nil, err
	}
	return &Buffers{mem: mem, slotSize: slotSize, slots: slots}, nil
}

// Slot returns buffer i, with the length asked for at New rounded up to a page.
func (b *Buffers) Slot(i int) []byte {
	off := i * b.slotSize
	return b.mem[off : off+b.slotSize : off+b.slotSize]
}

// Len is the number of slots.
func (b *Buffers) Len() int { return b.slots }

// Close unmaps the buffers; slices returned by Slot must not be used afterwards.
func (b *Buffers) Close() error { return Unmap(&b.mem) }
