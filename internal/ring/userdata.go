package ring

// User data layout shared by ringbench's engines, so completions can be
// routed without a lookup: the request kind in the top 8 bits, a generation
// in the next 24 (tells a late completion for a reused slot from one for the
// slot's current owner), and a slot or connection id in the low 32.
const (
	udKindShift = 56
	udGenShift  = 32
	udGenMask   = 1<<24 - 1
)

// PackUD packs kind, gen (low 24 bits kept) and id into a user data value.
func PackUD(kind uint8, gen, id uint32) uint64 {
	return uint64(kind)<<udKindShift | uint64(gen&udGenMask)<<udGenShift | uint64(id)
}

// UnpackUD splits a user data value packed by PackUD.
func UnpackUD(u uint64) (kind uint8, gen, id uint32) {
	return uint8(u >> udKindShift), uint32(u>>udGenShift) & udGenMask, uint32(u)
}
