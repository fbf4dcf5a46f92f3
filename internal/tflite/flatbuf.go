package tflite

import (
	"encoding/binary"
	"fmt"

	flatbuffers "github.com/google/flatbuffers/go"
)

// flatBuffer checks the structure of a flatbuffer before the generated
// accessors of package schema read it: those index the file without bounds
// checks and would panic on a truncated or hostile file. Each method checks one
// table, field or vector against the file's length, the way flatbuffers' C++
// Verifier does, and names the place in the model when it fails.
type flatBuffer struct {
	b []byte
}

// fbTable is a table whose vtable and inline fields lie inside the file.
type fbTable struct {
	pos   flatbuffers.UOffsetT // start of the table (its soffset to the vtable)
	vt    uint32               // start of the vtable
	vtLen uint16               // vtable length in bytes
	size  uint16               // table length in bytes (inline fields)
}

// slot is the vtable offset of the field with the given schema id.
func slot(id int) uint16 { return uint16(4 + 2*id) }

func (f *flatBuffer) u16(at uint64) uint16 { return binary.LittleEndian.Uint16(f.b[at:]) }
func (f *flatBuffer) u32(at uint64) uint32 { return binary.LittleEndian.Uint32(f.b[at:]) }

// fits reports whether n bytes starting at at lie inside the file.
func (f *flatBuffer) fits(at, n uint64) bool {
	return at <= uint64(len(f.b)) && n <= uint64(len(f.b))-at
}

// table checks the table at pos: its soffset, vtable and inline size.
func (f *flatBuffer) table(pos uint64, where string) (fbTable, error) {
	if !f.fits(pos, 4) {
		return fbTable{}, malformed(where, "table at byte %d lies outside the file (%d bytes)", pos, len(f.b))
	}
	soff := int64(int32(f.u32(pos)))
	vt := int64(pos) - soff
	if vt < 0 || !f.fits(uint64(vt), 4) {
		return fbTable{}, malformed(where, "vtable of the table at byte %d lies outside the file", pos)
	}
	vtLen := f.u16(uint64(vt))
	size := f.u16(uint64(vt) + 2)
	switch {
	case vtLen < 4 || vtLen%2 != 0:
		return fbTable{}, malformed(where, "vtable of the table at byte %d has length %d", pos, vtLen)
	case !f.fits(uint64(vt), uint64(vtLen)):
		return fbTable{}, malformed(where, "vtable of the table at byte %d runs past the end of the file", pos)
	case size < 4 || !f.fits(pos, uint64(size)):
		return fbTable{}, malformed(where, "table at byte %d with size %d runs past the end of the file", pos, size)
	}
	return fbTable{pos: flatbuffers.UOffsetT(pos), vt: uint32(vt), vtLen: vtLen, size: size}, nil
}

// field is the offset of a field inside its table, 0 when absent.
func (f *flatBuffer) field(t fbTable, slot uint16) uint16 {
	if slot+2 > t.vtLen {
		return 0
	}
	return f.u16(uint64(t.vt) + uint64(slot))
}

// scalar checks a fixed-size field (size bytes) of t.
func (f *flatBuffer) scalar(t fbTable, slot, size uint16, where string) error {
	o := f.field(t, slot)
	if o != 0 && (o < 4 || uint32(o)+uint32(size) > uint32(t.size)) {
		return malformed(where, "field at offset %d (%d bytes) lies outside its table of %d bytes", o, size, t.size)
	}
	return nil
}

// scalars checks several fixed-size fields: pairs of slot and size.
func (f *flatBuffer) scalars(t fbTable, where string, slotSize ...uint16) error {
	for i := 0; i+1 < len(slotSize); i += 2 {
		if err := f.scalar(t, slotSize[i], slotSize[i+1], where); err != nil {
			return err
		}
	}
	return nil
}

// ref checks an offset field of t and returns the position it points to.
func (f *flatBuffer) ref(t fbTable, slot uint16, where string) (target uint64, ok bool, err error) {
	if err := f.scalar(t, slot, 4, where); err != nil {
		return 0, false, err
	}
	o := f.field(t, slot)
	if o == 0 {
		return 0, false, nil
	}
	at := uint64(t.pos) + uint64(o)
	target = at + uint64(f.u32(at))
	if target >= uint64(len(f.b)) {
		return 0, false, malformed(where, "offset at byte %d points past the end of the file", at)
	}
	return target, true, nil
}

// vector checks a vector field of n elements of elemSize bytes each, with at
// most max elements, and returns n (0 when absent) and the first element's position.
func (f *flatBuffer) vector(t fbTable, slot uint16, elemSize uint64, max int, where string) (n int, start uint64, err error) {
	at, ok, err := f.ref(t, slot, where)
	if err != nil || !ok {
		return 0, 0, err
	}
	return f.vectorAt(at, elemSize, max, where)
}

func (f *flatBuffer) vectorAt(at, elemSize uint64, max int, where string) (n int, start uint64, err error) {
	if !f.fits(at, 4) {
		return 0, 0, malformed(where, "vector at byte %d lies outside the file", at)
	}
	length := uint64(f.u32(at))
	start = at + 4
	if !f.fits(start, length*elemSize) {
		return 0, 0, malformed(where, "vector of %d elements at byte %d runs past the end of the file (%d bytes)", length, at, len(f.b))
	}
	if length > uint64(max) {
		return 0, 0, tooLarge(where, "%d elements, the limit is %d", length, max)
	}
	return int(length), start, nil
}

// subTable checks a table field of t.
func (f *flatBuffer) subTable(t fbTable, slot uint16, where string) (fbTable, bool, error) {
	at, ok, err := f.ref(t, slot, where)
	if err != nil || !ok {
		return fbTable{}, false, err
	}
	sub, err := f.table(at, where)
	return sub, err == nil, err
}

// tables checks a vector of tables and returns their positions.
func (f *flatBuffer) tables(t fbTable, slot uint16, max int, where string) ([]fbTable, error) {
	n, start, err := f.vector(t, slot, 4, max, where)
	if err != nil || n == 0 {
		return nil, err
	}
	out := make([]fbTable, n)
	for i := range out {
		at := start + 4*uint64(i)
		target := at + uint64(f.u32(at))
		if out[i], err = f.table(target, where); err != nil {
			// Name the element only on failure: vectors can be long.
			_, err = f.table(target, fmt.Sprintf("%s[%d]", where, i))
			return nil, err
		}
	}
	return out, nil
}
