package ring

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ringbench/ringbench/internal/alignedbuf"
)

// BufRing is a provided-buffer ring (IORING_REGISTER_PBUF_RING, 5.19+): a
// group of equally sized buffers the kernel picks from for requests with
// buffer select (Recv{BufferSelect: true, BufGroup: ...}). Both the ring and
// the buffers are anonymous mmaps, off the Go heap. Like the Ring, it is not
// safe for concurrent use.
//
// Life of a buffer: the kernel takes it from the ring and reports its id in
// the CQE (CQE.BufferID); the application reads Buf(id)[:cqe.Res], then
// gives it back with Recycle(id) and, once per batch, Advance() to publish.
type BufRing struct {
	r        *Ring
	group    uint16
	entries  uint32
	mask     uint32
	bufSize  int
	ringMem  []byte
	bufMem   []byte
	bufs     []bufEntry
	tailWord *uint32 // the 32-bit word at byte offset 12: bufs[0].bid and the ring tail
	tail     uint16  // local tail: entries added by Recycle
	closed   bool
}

// NewBufRing registers buffer group `group` with `entries` buffers (a power
// of two, at most 32768) of bufSize bytes each, all initially available to
// the kernel.
func (r *Ring) NewBufRing(group uint16, entries uint32, bufSize int) (*BufRing, error) {
	if entries == 0 || entries > 1<<15 || entries&(entries-1) != 0 {
		return nil, fmt.Errorf("io_uring: buffer ring entries %d: not a power of two in [1, 32768]: %w", entries, unix.EINVAL)
	}
	if bufSize <= 0 || bufSize > 1<<31-1 {
		return nil, fmt.Errorf("io_uring: buffer size %d: %w", bufSize, unix.EINVAL)
	}
	b := &BufRing{r: r, group: group, entries: entries, mask: entries - 1, bufSize: bufSize}
	var err error
	// The ring must be page aligned (the kernel pins it); Map's mappings are.
	b.ringMem, err = alignedbuf.Map(int(entries)*int(unsafe.Sizeof(bufEntry{})), true)
	if err != nil {
		return nil, fmt.Errorf("io_uring: buffer ring: %w", err)
	}
	b.bufMem, err = alignedbuf.Map(int(entries)*bufSize, true)
	if err != nil {
		_ = alignedbuf.Unmap(&b.ringMem)
		return nil, fmt.Errorf("io_uring: buffers: %w", err)
	}
	base := unsafe.Pointer(&b.ringMem[0])
	b.bufs = unsafe.Slice((*bufEntry)(base), entries)
	b.tailWord = (*uint32)(unsafe.Add(base, 12))

	reg := bufReg{RingAddr: uint64(uintptr(base)), RingEntries: entries, Bgid: group}
	if _, err := r.register(regPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		b.unmap()
		return nil, regError("PBUF_RING", err)
	}
	for i := uint32(0); i < entries; i++ {
		b.Recycle(uint16(i))
	}
	b.Advance()
	r.bufRings = append(r.bufRings, b)
	return b, nil
}

// Group returns the buffer group id.
func (b *BufRing) Group() uint16 { return b.group }

// Entries returns the number of buffers.
func (b *BufRing) Entries() uint32 { return b.entries }

// BufSize returns the size of each buffer.
func (b *BufRing) BufSize() int { return b.bufSize }

// Buf returns buffer id's memory (full size; slice it to the CQE's Res).
func (b *BufRing) Buf(id uint16) []byte {
	off := int(id) * b.bufSize
	return b.bufMem[off : off+b.bufSize : off+b.bufSize]
}

// Data returns the bytes a buffer-select completion delivered (Buf(id)[:Res])
// and the buffer id; ok is false when c carries no buffer.
func (b *BufRing) Data(c CQE) (data []byte, id uint16, ok bool) {
	id, ok = c.BufferID()
	if !ok || c.Res < 0 {
		return nil, id, ok
	}
	return b.Buf(id)[:c.Res], id, true
}

// Recycle queues buffer id to be handed back to the kernel; it becomes
// available at the next Advance. Hand back each id at most once per use.
func (b *BufRing) Recycle(id uint16) {
	e := &b.bufs[uint32(b.tail)&b.mask]
	// Write the fields one by one, never the whole entry: bufs[0].resv
	// (bytes 14-15) IS the ring tail, and must only change in Advance.
	e.Addr = uint64(uintptr(unsafe.Pointer(&b.bufMem[int(id)*b.bufSize])))
	e.Len = uint32(b.bufSize)
	e.Bid = id
	b.tail++
}

// Advance publishes the buffers queued by Recycle to the kernel.
func (b *BufRing) Advance() {
	// The ring tail is a 16-bit field at byte offset 14 that shares its
	// aligned 32-bit word with bufs[0].bid (offset 12), and Go has no 16-bit
	// atomic store. So we store-release the whole word: the tail in its half
	// and, in the other half, bufs[0].bid exactly as we last wrote it. Only
	// we ever write that word (the kernel only reads it), so rewriting bid
	// with its current value changes nothing the kernel could observe, and
	// the single 32-bit store is atomic for the kernel's 16-bit acquire load
	// of the tail. The release orders the entry writes in Recycle before the
	// new tail becomes visible.
	bid0 := uint32(b.bufs[0].Bid)
	var w uint32
	if littleEndian {
		w = bid0 | uint32(b.tail)<<16
	} else {
		w = bid0<<16 | uint32(b.tail)
	}
	storeRelease32(b.tailWord, w)
}

// Close unregisters the group and unmaps the ring and buffers. Requests
// still using the group must have completed or been cancelled. (Ring.Close
// releases BufRings still open, and keeps their buffers mapped when
// requests may still be in flight.)
func (b *BufRing) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	for i, x := range b.r.bufRings {
		if x == b {
			b.r.bufRings = append(b.r.bufRings[:i], b.r.bufRings[i+1:]...)
			break
		}
	}
	var err error
	reg := bufReg{Bgid: b.group}
	if _, e := b.r.register(unregPbufRing, unsafe.Pointer(&reg), 1); e != nil {
		err = fmt.Errorf("io_uring_register(UNREGISTER_PBUF_RING %d): %w", b.group, e)
	}
	b.unmap()
	return err
}

// leak drops the BufRing's references to its memory without unmapping it:
// the kernel may still write into the buffers. The ring itself is pinned by
// the kernel while registered, but it is tiny and goes the same way.
func (b *BufRing) leak() {
	b.ringMem, b.bufMem, b.bufs, b.tailWord = nil, nil, nil, nil
}

func (b *BufRing) unmap() {
	_ = alignedbuf.Unmap(&b.ringMem)
	_ = alignedbuf.Unmap(&b.bufMem)
	b.bufs = nil
	b.tailWord = nil
}
