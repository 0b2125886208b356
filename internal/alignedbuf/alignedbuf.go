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

// New maps slots buffers of at least size bytes each, each rounded up to a whole page.
func New(slots, size int) (*Buffers, error) {
	if slots < 1 || size < 1 {
		return nil, fmt.Errorf("alignedbuf: %d slots of %d bytes", slots, size)
	}
	page := os.Getpagesize()
	slotSize := (size + page - 1) / page * page
	mem, err := unix.Mmap(-1, 0, slots*slotSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("alignedbuf: map %d x %d bytes: %w", slots, slotSize, err)
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
func (b *Buffers) Close() error {
	if b.mem == nil {
		return nil
	}
	err := unix.Munmap(b.mem)
	b.mem = nil
	return err
}
