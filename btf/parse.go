package btf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
)

// The wire format's fixed numbers, from include/uapi/linux/btf.h.
const (
	magic       = 0xeB9F
	version     = 1
	hdrLen      = 24      // sizeof(struct btf_header)
	typeHdrLen  = 12      // sizeof(struct btf_type)
	maxTypeID   = 0xfffff // BTF_MAX_TYPE
	maxNameOff  = 0xffffff
	maxVlen     = 0xffff
	infoKindBit = 24
)

// A Spec is a parsed BTF blob: its types, numbered from 1 (or, in split
// BTF, from the base's last id + 1), and their names. A Spec is immutable
// and safe for concurrent use.
type Spec struct {
	base  *Spec
	first TypeID // the id of types[0]: 0 (void) for base BTF, base.end() for split BTF
	// The type section, copied, and where each type starts in it (by id -
	// first; offs[0] is unused for void in base BTF). Parse validates every
	// type; Type decodes one on first use into cache, which is allocated
	// on first use too.
	tsec      []byte
	offs      []uint32
	cache     []atomic.Pointer[Type]
	cacheOnce sync.Once
	// decodedAll decodes the rest of the types at once for All.
	decodedAll sync.Once

	strs    string // the string section
	strBase uint32 // string offsets below this are the base's
	order   binary.ByteOrder

	names nameIndex
}

// end returns the first id after the spec's last type.
func (s *Spec) end() TypeID { return s.first + TypeID(len(s.offs)) }

// Parse parses a complete BTF blob (header, type and string sections) of
// either byte order. Its types are numbered from 1; type 0 is void.
func Parse(raw []byte) (*Spec, error) {
	return parse(raw, nil)
}

// ParseSplit parses split BTF: the BTF of a kernel module (or a program
// loaded against the kernel's types) whose type ids and string offsets
// continue those of base, usually vmlinux. Lookups through the returned
// Spec see base's types too.
func ParseSplit(raw []byte, base *Spec) (*Spec, error) {
	if base == nil {
		return nil, errors.New("btf: split BTF needs a base")
	}
	return parse(raw, base)
}

// FormatError is the error for malformed BTF: what is wrong and where.
type FormatError struct {
	Offset int // byte offset in the blob, or -1
	Reason string
}

// Error says what is wrong with the blob and, where known, at which
// byte offset.
func (e *FormatError) Error() string {
	if e.Offset < 0 {
		return "btf: " + e.Reason
	}
	return fmt.Sprintf("btf: at byte %d: %s", e.Offset, e.Reason)
}

func formatErr(off int, format string, args ...any) error {
	return &FormatError{Offset: off, Reason: fmt.Sprintf(format, args...)}
}

func parse(raw []byte, base *Spec) (*Spec, error) {
	if len(raw) < hdrLen {
		return nil, formatErr(0, "%d bytes, shorter than the %d-byte header", len(raw), hdrLen)
	}
	var order binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint16(raw) == magic:
		order = binary.LittleEndian
	case binary.BigEndian.Uint16(raw) == magic:
		order = binary.BigEndian
	default:
		return nil, formatErr(0, "bad magic %#04x, want %#04x in either byte order", binary.LittleEndian.Uint16(raw), magic)
	}
	if raw[2] != version {
		return nil, formatErr(2, "version %d, only %d is known", raw[2], version)
	}
	hl := order.Uint32(raw[4:])
	typeOff, typeLen := order.Uint32(raw[8:]), order.Uint32(raw[12:])
	strOff, strLen := order.Uint32(raw[16:]), order.Uint32(raw[20:])
	if hl < hdrLen || uint64(hl) > uint64(len(raw)) {
		return nil, formatErr(4, "header length %d outside [%d, %d]", hl, hdrLen, len(raw))
	}
	body := raw[hl:]
	end := func(off, n uint32) uint64 { return uint64(off) + uint64(n) }
	if end(typeOff, typeLen) > uint64(len(body)) {
		return nil, formatErr(8, "type section [%d, +%d) runs past the %d bytes after the header", typeOff, typeLen, len(body))
	}
	if end(strOff, strLen) > uint64(len(body)) {
		return nil, formatErr(16, "string section [%d, +%d) runs past the %d bytes after the header", strOff, strLen, len(body))
	}
	if typeOff%4 != 0 {
		return nil, formatErr(8, "type section offset %d is not 4-byte aligned", typeOff)
	}
	if typeLen%4 != 0 {
		return nil, formatErr(12, "type section length %d is not a multiple of 4", typeLen)
	}
	if typeLen > 0 && strLen > 0 && typeOff < strOff+strLen && strOff < typeOff+typeLen {
		return nil, formatErr(8, "type section [%d, +%d) and string section [%d, +%d) overlap", typeOff, typeLen, strOff, strLen)
	}
	strs := body[strOff : strOff+strLen]
	if base == nil {
		if len(strs) == 0 || strs[0] != 0 {
			return nil, formatErr(int(hl+strOff), "the string section does not start with the empty string")
		}
	}
	if len(strs) > 0 && strs[len(strs)-1] != 0 {
		return nil, formatErr(int(hl+strOff+strLen)-1, "the string section does not end with a NUL")
	}

	s := &Spec{base: base, order: order}
	// One Go string holds the whole section; names are substrings of it.
	s.strs = string(strs)
	if base != nil {
		s.first = base.end()
		s.strBase = base.strBase + uint32(len(base.strs))
		if uint64(s.strBase)+uint64(len(s.strs)) > maxNameOff+1 {
			return nil, formatErr(20, "string sections of base and split BTF hold %d bytes, more than %d", uint64(s.strBase)+uint64(len(s.strs)), maxNameOff+1)
		}
	}
	s.tsec = append([]byte(nil), body[typeOff:typeOff+typeLen]...)
	if err := s.index(int(hl + typeOff)); err != nil {
		return nil, err
	}
	if err := s.validate(int(hl + typeOff)); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Spec) u32(off uint32) uint32 { return s.order.Uint32(s.tsec[off:]) }

// checkName fails unless off is a valid string offset; where is the blob
// offset of the word holding it, for the error.
func (s *Spec) checkName(off uint32, where int) error {
	if off < s.strBase || uint64(off-s.strBase) < uint64(len(s.strs)) || off == 0 {
		return nil // the base checked its own offsets; 0 is "" in split BTF without strings
	}
	return formatErr(where, "name offset %d is past the string section (%d bytes)", off, uint64(s.strBase)+uint64(len(s.strs)))
}

// stringAt returns the string at offset off, which is known to be valid.
func (s *Spec) stringAt(off uint32) string {
	for off < s.strBase {
		s = s.base
	}
	rel := off - s.strBase
	if uint64(rel) >= uint64(len(s.strs)) {
		return "" // offset 0 of split BTF without strings of its own
	}
	return cstr(s.strs, rel)
}

func cstr(strs string, off uint32) string {
	rest := strs[off:]
	if i := strings.IndexByte(rest, 0); i >= 0 {
		return rest[:i]
	}
	return rest // unreachable: the section ends with a NUL
}

// extraSize returns the bytes that follow a btf_type of kind k with vlen
// entries, or -1 for an unknown kind.
func extraSize(k Kind, vlen uint32) int {
	switch k {
	case KindInt, KindVar, KindDeclTag:
		return 4
	case KindArray:
		return 12
	case KindStruct, KindUnion, KindEnum64, KindDatasec:
		return 12 * int(vlen)
	case KindEnum, KindFuncProto:
		return 8 * int(vlen)
	case KindPtr, KindFwd, KindTypedef, KindVolatile, KindConst, KindRestrict, KindFunc, KindFloat, KindTypeTag:
		return 0
	}
	return -1
}

// index records where each type starts, checking that the type section
// splits into whole types of known kinds; at is the blob offset of the
// type section, for errors.
func (s *Spec) index(at int) error {
	b := s.tsec
	n := len(b) / (typeHdrLen + 4) // a guess: most types have one word or more after the header
	first := 1
	if s.base != nil {
		first = 0
	}
	s.offs = make([]uint32, first, n+first)
	nextID := func() TypeID { return s.first + TypeID(len(s.offs)) } // the id of the type at pos, for errors
	for pos := 0; pos < len(b); {
		if pos+typeHdrLen > len(b) {
			return formatErr(at+pos, "a type needs %d bytes, the type section has %d left", typeHdrLen, len(b)-pos)
		}
		info := s.order.Uint32(b[pos+4:])
		k, vlen := Kind(info>>infoKindBit&0x1f), info&maxVlen
		extra := extraSize(k, vlen)
		if extra < 0 {
			return formatErr(at+pos+4, "type %d: unknown kind %d", nextID(), k)
		}
		if info&0x60ff0000 != 0 {
			return formatErr(at+pos+4, "type %d: unused info bits set (%#x)", nextID(), info)
		}
		if pos+typeHdrLen+extra > len(b) {
			return formatErr(at+pos+typeHdrLen, "type %d (%s, vlen %d) needs %d bytes, the type section has %d left", nextID(), k, vlen, extra, len(b)-pos-typeHdrLen)
		}
		s.offs = append(s.offs, uint32(pos))
		pos += typeHdrLen + extra
	}
	if uint64(s.end()) > maxTypeID+1 {
		return formatErr(-1, "%d types, more than BTF_MAX_TYPE (%d) ids", len(s.offs)-first, maxTypeID)
	}
	return nil
}

// kindRef returns the kind and the referenced type (for the kinds that
// have one) of a valid id without decoding the type.
func (s *Spec) kindRef(id TypeID) (Kind, TypeID) {
	for id < s.first {
		s = s.base
	}
	i := id - s.first
	if s.base == nil && i == 0 {
		return KindUnknown, 0
	}
	o := s.offs[i]
	info := s.u32(o + 4)
	return Kind(info >> infoKindBit & 0x1f), TypeID(s.u32(o + 8))
}

// at returns the own type at index i (id - first), decoding it on first use.
func (s *Spec) at(i uint32) *Type {
	c := &s.decoded()[i]
	if t := c.Load(); t != nil {
		return t
	}
	c.CompareAndSwap(nil, s.decode(i))
	return c.Load()
}

// decoded returns the cache of decoded types, allocating it on first use.
func (s *Spec) decoded() []atomic.Pointer[Type] {
	s.cacheOnce.Do(func() { s.cache = make([]atomic.Pointer[Type], len(s.offs)) })
	return s.cache
}

// decodeAll decodes every type not decoded yet at once, into one slice of
// Types and one backing slice each of members, values and variables:
// cheaper than a decode per type for a walk over all of them.
func (s *Spec) decodeAll() {
	s.decodedAll.Do(func() {
		cache := s.decoded()
		var b backing
		var members, values, vars int
		for i, o := range s.offs {
			if cache[i].Load() != nil || s.base == nil && i == 0 {
				continue
			}
			info := s.u32(o + 4)
			switch vlen := int(info & maxVlen); Kind(info >> infoKindBit & 0x1f) {
			case KindStruct, KindUnion, KindFuncProto:
				members += vlen
			case KindEnum, KindEnum64:
				values += vlen
			case KindDatasec:
				vars += vlen
			}
		}
		b.members = make([]Member, members)
		b.values = make([]EnumValue, values)
		b.vars = make([]VarSecinfo, vars)
		types := make([]Type, len(s.offs))
		for i := range s.offs {
			if cache[i].Load() == nil {
				cache[i].CompareAndSwap(nil, s.decodeInto(uint32(i), &types[i], &b))
			}
		}
	})
}

// backing holds entries for decodeInto to slice instead of allocating.
type backing struct {
	members []Member
	values  []EnumValue
	vars    []VarSecinfo
}

// carve returns the first n elements of *from with capacity n, and drops
// them from *from; a new slice if *from holds fewer.
func carve[E any](from *[]E, n uint32) []E {
	if uint32(len(*from)) < n {
		return make([]E, n)
	}
	s := (*from)[:n:n]
	*from = (*from)[n:]
	return s
}

// decode builds the Type at index i, which validate has checked.
func (s *Spec) decode(i uint32) *Type {
	return s.decodeInto(i, new(Type), &backing{})
}

// decodeInto fills t with the type at index i, taking its entries from b
// (or new slices when b runs short), and returns t.
func (s *Spec) decodeInto(i uint32, t *Type, b *backing) *Type {
	if s.base == nil && i == 0 {
		return t // void
	}
	o := s.offs[i]
	nameOff, info, sizeType := s.u32(o), s.u32(o+4), s.u32(o+8)
	o += typeHdrLen
	t.Name = s.stringAt(nameOff)
	t.Kind = Kind(info >> infoKindBit & 0x1f)
	t.KindFlag = info>>31 != 0
	vlen := info & maxVlen
	switch t.Kind {
	case KindInt, KindStruct, KindUnion, KindEnum, KindEnum64, KindDatasec, KindFloat:
		t.Size = sizeType
	case KindFwd:
	default:
		t.Ref = TypeID(sizeType)
	}
	switch t.Kind {
	case KindInt:
		w := s.u32(o)
		t.Encoding, t.IntOffset, t.IntBits = IntEncoding(w>>24&0xf), uint8(w>>16), uint8(w)
	case KindArray:
		t.Ref, t.Index, t.Len = TypeID(s.u32(o)), TypeID(s.u32(o+4)), s.u32(o+8)
	case KindStruct, KindUnion, KindFuncProto:
		if vlen == 0 {
			break
		}
		t.Members = carve(&b.members, vlen)
		entry := uint32(12)
		if t.Kind == KindFuncProto {
			entry = 8
		}
		for j := range t.Members {
			m := &t.Members[j]
			m.Name = s.stringAt(s.u32(o))
			m.Type = TypeID(s.u32(o + 4))
			if t.Kind != KindFuncProto {
				off := s.u32(o + 8)
				if t.KindFlag {
					m.BitOffset, m.BitfieldSize = off&0xffffff, uint8(off>>24)
				} else {
					m.BitOffset = off
				}
			}
			o += entry
		}
	case KindEnum, KindEnum64:
		if vlen == 0 {
			break
		}
		t.Values = carve(&b.values, vlen)
		for j := range t.Values {
			v := &t.Values[j]
			v.Name = s.stringAt(s.u32(o))
			if t.Kind == KindEnum {
				w := s.u32(o + 4)
				if t.KindFlag {
					v.Value = uint64(int64(int32(w)))
				} else {
					v.Value = uint64(w)
				}
				o += 8
			} else {
				v.Value = uint64(s.u32(o+4)) | uint64(s.u32(o+8))<<32
				o += 12
			}
		}
	case KindVar:
		t.Linkage = Linkage(s.u32(o))
	case KindDeclTag:
		t.ComponentIdx = int32(s.u32(o))
	case KindDatasec:
		if vlen == 0 {
			break
		}
		t.Vars = carve(&b.vars, vlen)
		for j := range t.Vars {
			t.Vars[j] = VarSecinfo{Type: TypeID(s.u32(o)), Offset: s.u32(o + 4), Size: s.u32(o + 8)}
			o += 12
		}
	case KindFunc:
		t.Linkage = Linkage(vlen)
	}
	return t
}

// validate checks every type so that decode cannot fail later: names lie
// in the string section, every type id a type refers to exists, sizes are
// sane, and chains of references end. at is the blob offset of the type
// section, for errors.
func (s *Spec) validate(at int) error {
	end := s.end()
	ref := func(id TypeID, owner TypeID, what string) error {
		if id >= end {
			return formatErr(-1, "type %d: %s is type %d, past the last type %d", owner, what, id, end-1)
		}
		return nil
	}
	for i := range s.offs {
		id := s.first + TypeID(i)
		if id == 0 {
			continue
		}
		o := s.offs[i]
		nameOff, info, sizeType := s.u32(o), s.u32(o+4), s.u32(o+8)
		k, kflag, vlen := Kind(info>>infoKindBit&0x1f), info>>31 != 0, info&maxVlen
		if err := s.checkName(nameOff, at+int(o)); err != nil {
			return err
		}
		x := o + typeHdrLen // the first word after the header
		// Entries carry names too: check them all before anything
		// decodes the type for an error message.
		var entry uint32
		switch k {
		case KindStruct, KindUnion, KindEnum64:
			entry = 12
		case KindEnum, KindFuncProto:
			entry = 8
		}
		for j := uint32(0); entry != 0 && j < vlen; j++ {
			e := x + j*entry
			if err := s.checkName(s.u32(e), at+int(e)); err != nil {
				return err
			}
		}
		switch k {
		case KindInt:
			w := s.u32(x)
			if w&0xf0000000 != 0 || w&0xff00 != 0 {
				return formatErr(at+int(x), "type %d (int %q): unused bits set in %#x", id, s.stringAt(nameOff), w)
			}
			bitOff, bits := w>>16&0xff, w&0xff
			if sizeType != 1 && sizeType != 2 && sizeType != 4 && sizeType != 8 && sizeType != 16 {
				return formatErr(-1, "type %d (int %q): size %d, not 1, 2, 4, 8 or 16", id, s.stringAt(nameOff), sizeType)
			}
			if bitOff+bits > sizeType*8 {
				return formatErr(-1, "type %d (int %q): %d bits at bit %d do not fit %d bytes", id, s.stringAt(nameOff), bits, bitOff, sizeType)
			}
		case KindPtr, KindTypedef, KindVolatile, KindConst, KindRestrict, KindTypeTag, KindFunc, KindFuncProto, KindVar, KindDeclTag:
			if err := ref(TypeID(sizeType), id, "its referenced type"); err != nil {
				return err
			}
			if k == KindDeclTag && sizeType == 0 {
				return formatErr(-1, "type %d (decl_tag): tags void", id)
			}
		case KindArray:
			if err := ref(TypeID(s.u32(x)), id, "its element type"); err != nil {
				return err
			}
			if err := ref(TypeID(s.u32(x+4)), id, "its index type"); err != nil {
				return err
			}
		case KindStruct, KindUnion:
			for j := uint32(0); j < vlen; j++ {
				e := x + j*12
				mt, off := TypeID(s.u32(e+4)), s.u32(e+8)
				var endBit uint64
				if kflag {
					endBit = uint64(off&0xffffff) + uint64(off>>24)
				} else {
					endBit = uint64(off)
				}
				if mt >= end || mt == 0 || endBit > uint64(sizeType)*8 {
					return s.memberErr(uint32(i), j, end)
				}
			}
		case KindDatasec:
			for j := uint32(0); j < vlen; j++ {
				if err := ref(TypeID(s.u32(x+j*12)), id, "a variable"); err != nil {
					return err
				}
			}
		case KindEnum, KindEnum64:
			if sizeType != 1 && sizeType != 2 && sizeType != 4 && sizeType != 8 {
				return formatErr(-1, "type %d (%s): size %d, not 1, 2, 4 or 8", id, s.decode(uint32(i)).Describe(), sizeType)
			}
		case KindFloat:
			if sizeType != 2 && sizeType != 4 && sizeType != 8 && sizeType != 12 && sizeType != 16 {
				return formatErr(-1, "type %d (float %q): size %d, not 2, 4, 8, 12 or 16", id, s.stringAt(nameOff), sizeType)
			}
		case KindUnknown:
			return formatErr(-1, "type %d: kind 0 (void) is reserved for type 0", id)
		}
	}
	// Chains of references without a size (typedef -> const -> typedef …)
	// must end; a struct may contain itself only through a pointer, which
	// sizeOf handles, so only these chains can loop. Every id is valid by
	// now, so the chains are followed in the raw types.
	for i := range s.offs {
		id := s.first + TypeID(i)
		cur, n := id, 0
		for ; n < MaxDepth; n++ {
			k, r := s.kindRef(cur)
			if !skippable(k) {
				break
			}
			cur = r
		}
		if n == MaxDepth {
			return fmt.Errorf("btf: type %d: more than %d typedefs and qualifiers in a row (a loop?)", cur, MaxDepth)
		}
	}
	return nil
}

// memberErr describes what is wrong with member j of the struct or union
// at index i, whose names are known to be valid.
func (s *Spec) memberErr(i, j uint32, end TypeID) error {
	id := s.first + TypeID(i)
	t := s.decode(i)
	m := &t.Members[j]
	switch {
	case m.Type >= end:
		return formatErr(-1, "type %d: member %q is type %d, past the last type %d", id, m.Name, m.Type, end-1)
	case m.Type == 0:
		return formatErr(-1, "type %d (%s): member %q is void", id, t.Describe(), m.Name)
	}
	return formatErr(-1, "type %d (%s): member %q at bit %d lies past the %d-byte size", id, t.Describe(), m.Name, m.BitOffset, t.Size)
}
