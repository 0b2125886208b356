package dataset

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// SectorSize is the unit of the data set's content: every 512-byte sector of every file starts with a
// header and carries a PRNG stream of its own, so any read of any aligned block can be checked on its own.
const SectorSize = 512

// ContentVersion is the version of the content format below. It is part of every data set's identity
// (directory name and marker), so a format change never reuses data written in an older format.
const ContentVersion = 1

// headerSize is the sector header: magic, file index, sector offset, each a little-endian uint64.
const headerSize = 24

// sectorMagic is "rbdata01" read as a little-endian uint64.
var sectorMagic = binary.LittleEndian.Uint64([]byte("rbdata01"))

// mix64 is the splitmix64 finaliser.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// genSector writes the full content of the sector of file at byte offset sector (a multiple of
// SectorSize): the header {magic, file, offset}, then a splitmix64 stream seeded by (seed, file, offset).
func genSector(dst *[SectorSize]byte, file uint64, sector uint64, seed uint64) {
	le := binary.LittleEndian
	le.PutUint64(dst[0:], sectorMagic)
	le.PutUint64(dst[8:], file)
	le.PutUint64(dst[16:], sector)
	s := mix64(mix64(seed^0x6a09e667f3bcc909) ^ file*0x9e3779b97f4a7c15 ^ mix64(sector+0x3c6ef372fe94f82b))
	for i := headerSize; i < SectorSize; i += 8 {
		s += 0x9e3779b97f4a7c15
		le.PutUint64(dst[i:], mix64(s))
	}
}

// Fill writes into dst the content of file fileIndex from byte offset on, exactly as Open writes it. Any
// offset and length work; aligned whole sectors are generated in place.
func Fill(dst []byte, fileIndex int, offset int64, seed uint64) {
	if fileIndex < 0 || offset < 0 {
		panic(fmt.Sprintf("dataset.Fill: negative file %d or offset %d", fileIndex, offset))
	}
	var tmp [SectorSize]byte
	for len(dst) > 0 {
		sector := offset &^ (SectorSize - 1)
		in := int(offset - sector)
		var n int
		if in == 0 && len(dst) >= SectorSize {
			genSector((*[SectorSize]byte)(dst[:SectorSize]), uint64(fileIndex), uint64(sector), seed)
			n = SectorSize
		} else {
			genSector(&tmp, uint64(fileIndex), uint64(sector), seed)
			n = copy(dst, tmp[in:])
		}
		dst = dst[n:]
		offset += int64(n)
	}
}

// Block returns n bytes of the content of file fileIndex from byte offset on.
func Block(fileIndex int, offset int64, n int, seed uint64) []byte {
	b := make([]byte, n)
	Fill(b, fileIndex, offset, seed)
	return b
}

// Verify checks that buf is the content of file fileIndex at byte offset offset (any offset and length;
// reads are usually aligned blocks). The error names the file, the offset of the block, the offset of the
// first byte that differs, what it holds and what it should hold, and, when the sector read carries a valid
// header of another place, which file and offset it really came from.
func Verify(buf []byte, fileIndex int, offset int64, seed uint64) error {
	if fileIndex < 0 || offset < 0 {
		return fmt.Errorf("verify: negative file %d or offset %d", fileIndex, offset)
	}
	var want [SectorSize]byte
	pos := offset
	for i := 0; i < len(buf); {
		sector := pos &^ (SectorSize - 1)
		in := int(pos - sector)
		n := min(SectorSize-in, len(buf)-i)
		genSector(&want, uint64(fileIndex), uint64(sector), seed)
		got := buf[i : i+n]
		if !bytes.Equal(got, want[in:in+n]) {
			j := 0
			for got[j] == want[in+j] {
				j++
			}
			return fmt.Errorf("verify: file %d, block at offset %d (%d bytes): first mismatch at file offset %d: "+
				"byte is 0x%02x, want 0x%02x%s",
				fileIndex, offset, len(buf), pos+int64(j), got[j], want[in+j], sectorHint(got, in, fileIndex, sector))
		}
		i += n
		pos += int64(n)
	}
	return nil
}

// sectorHint explains a bad sector when its header is readable: a valid header of another file or offset
// means a misdirected read; all zeros means a hole or a read that never landed.
func sectorHint(got []byte, in int, fileIndex int, sector int64) string {
	if bytes.Count(got, []byte{0}) == len(got) {
		return " (the sector read is all zeros)"
	}
	if in != 0 || len(got) < headerSize {
		return ""
	}
	le := binary.LittleEndian
	if le.Uint64(got) != sectorMagic {
		return " (the sector has no data set header)"
	}
	f, o := le.Uint64(got[8:]), le.Uint64(got[16:])
	if f != uint64(fileIndex) || o != uint64(sector) {
		return fmt.Sprintf(" (the sector read holds file %d offset %d)", f, o)
	}
	return ""
}
