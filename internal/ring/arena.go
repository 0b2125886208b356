package ring

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringbench/ringbench/internal/alignedbuf"
)

// Arena is an off-heap buffer pool: one anonymous mmap cut into equal slots.
// The mapping starts page aligned, so with slotSize a multiple of the page
// size (4096) every slot is page aligned and usable for O_DIRECT. Slot
// memory is invisible to the Go GC and never moves, so it can be named in
// SQEs and registered with RegisterBuffers.
type Arena struct {
	mem      []byte
	slots    int
	slotSize int
}

// NewArena maps slots*slotSize bytes (rounded up to a page).
func NewArena(slots, slotSize int) (*Arena, error) {
	if slots <= 0 || slotSize <= 0 {
		return nil, fmt.Errorf("ring: arena %d x %d: %w", slots, slotSize, unix.EINVAL)
	}
	mem, err := alignedbuf.Map(slots*slotSize, true)
	if err != nil {
		return nil, fmt.Errorf("ring: arena: %w", err)
	}
	return &Arena{mem: mem, slots: slots, slotSize: slotSize}, nil
}

// Slots returns the number of slots.
func (a *Arena) Slots() int { return a.slots }

// SlotSize returns the size of each slot.
func (a *Arena) SlotSize() int { return a.slotSize }

// Slot returns slot i (capacity limited to the slot).
func (a *Arena) Slot(i int) []byte {
	off := i * a.slotSize
	return a.mem[off : off+a.slotSize : off+a.slotSize]
}

// Ptr returns the address of slot i, for SQE builders.
func (a *Arena) Ptr(i int) unsafe.Pointer { return unsafe.Pointer(&a.mem[i*a.slotSize]) }

// Bytes returns the whole mapping (slots*slotSize bytes, page rounded).
func (a *Arena) Bytes() []byte { return a.mem }

// Iovecs returns one slice per slot, ready for RegisterBuffers (fixed buffer
// index = slot index). Registering Bytes() as a single buffer is the
// alternative when there are more than 16384 slots.
func (a *Arena) Iovecs() [][]byte {
	out := make([][]byte, a.slots)
	for i := range out {
		out[i] = a.Slot(i)
	}
	return out
}

// Close unmaps the arena. No request may still use it.
func (a *Arena) Close() error { return alignedbuf.Unmap(&a.mem) }
