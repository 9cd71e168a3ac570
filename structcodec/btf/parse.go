package btf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
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
	base    *Spec
	first   TypeID // the id of types[0]: 0 (void) for base BTF, base.end() for split BTF
	types   []Type
	strs    string // the string section
	strBase uint32 // string offsets below this are the base's
	order   binary.ByteOrder

	names nameIndex
}

// end returns the first id after the spec's last type.
func (s *Spec) end() TypeID { return s.first + TypeID(len(s.types)) }

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
	p := parser{s: s, order: order, b: body[typeOff : typeOff+typeLen], at: int(hl + typeOff)}
	if err := p.types(); err != nil {
		return nil, err
	}
	if err := s.validate(); err != nil {
		return nil, err
	}
	return s, nil
}

type parser struct {
	s     *Spec
	order binary.ByteOrder
	b     []byte
	at    int // blob offset of b[0], for errors
	pos   int
}

func (p *parser) u32(off int) uint32 { return p.order.Uint32(p.b[off:]) }

// need fails unless n more bytes of the type section follow pos.
func (p *parser) need(n uint64, what string) error {
	if uint64(p.pos)+n > uint64(len(p.b)) {
		return formatErr(p.at+p.pos, "%s needs %d bytes, the type section has %d left", what, n, len(p.b)-p.pos)
	}
	return nil
}

// name resolves a string offset.
func (p *parser) name(off uint32, where int) (string, error) {
	s := p.s
	if off < s.strBase {
		return s.base.stringAt(off), nil // the base checked its own offsets
	}
	rel := off - s.strBase
	if uint64(rel) >= uint64(len(s.strs)) {
		if off == 0 {
			return "", nil // split BTF with an empty string section of its own
		}
		return "", formatErr(where, "name offset %d is past the string section (%d bytes)", off, uint64(s.strBase)+uint64(len(s.strs)))
	}
	return cstr(s.strs, rel), nil
}

// stringAt returns the string at offset off, which is known to be valid.
func (s *Spec) stringAt(off uint32) string {
	for off < s.strBase {
		s = s.base
	}
	return cstr(s.strs, off-s.strBase)
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

func (p *parser) types() error {
	// First pass: count types and entries, so that every slice is
	// allocated once at its final size.
	var n, members, values, vars int
	nextID := func() TypeID { // the id of the type at pos, for errors
		if p.s.base == nil {
			return TypeID(n + 1)
		}
		return p.s.first + TypeID(n)
	}
	for p.pos = 0; p.pos < len(p.b); {
		if err := p.need(typeHdrLen, "a type"); err != nil {
			return err
		}
		info := p.u32(p.pos + 4)
		k, vlen := Kind(info>>infoKindBit&0x1f), info&maxVlen
		extra := extraSize(k, vlen)
		if extra < 0 {
			return formatErr(p.at+p.pos+4, "type %d: unknown kind %d", nextID(), k)
		}
		p.pos += typeHdrLen
		if uint64(p.pos)+uint64(extra) > uint64(len(p.b)) {
			return formatErr(p.at+p.pos, "type %d (%s, vlen %d) needs %d bytes, the type section has %d left", nextID(), k, vlen, extra, len(p.b)-p.pos)
		}
		p.pos += extra
		switch k {
		case KindStruct, KindUnion, KindFuncProto:
			members += int(vlen)
		case KindEnum, KindEnum64:
			values += int(vlen)
		case KindDatasec:
			vars += int(vlen)
		}
		n++
	}
	s := p.s
	first := 1
	if s.base != nil {
		first = 0
	}
	if uint64(s.first)+uint64(n)+uint64(first) > maxTypeID+1 {
		return formatErr(-1, "%d types, more than BTF_MAX_TYPE (%d) ids", n, maxTypeID)
	}
	s.types = make([]Type, n+first) // types[0] is void in base BTF
	allMembers := make([]Member, members)
	allValues := make([]EnumValue, values)
	allVars := make([]VarSecinfo, vars)

	i := first
	for p.pos = 0; p.pos < len(p.b); i++ {
		t := &s.types[i]
		at := p.at + p.pos
		nameOff, info, sizeType := p.u32(p.pos), p.u32(p.pos+4), p.u32(p.pos+8)
		p.pos += typeHdrLen
		if info&0x60ff0000 != 0 {
			return formatErr(at+4, "type %d: unused info bits set (%#x)", s.first+TypeID(i), info)
		}
		name, err := p.name(nameOff, at)
		if err != nil {
			return err
		}
		t.Name = name
		t.Kind = Kind(info >> infoKindBit & 0x1f)
		t.KindFlag = info>>31 != 0
		vlen := int(info & maxVlen)
		switch t.Kind {
		case KindInt, KindStruct, KindUnion, KindEnum, KindEnum64, KindDatasec, KindFloat:
			t.Size = sizeType
		case KindFwd:
		default:
			t.Ref = TypeID(sizeType)
		}
		switch t.Kind {
		case KindInt:
			w := p.u32(p.pos)
			t.Encoding, t.IntOffset, t.IntBits = IntEncoding(w>>24&0xf), uint8(w>>16), uint8(w)
			if w&0xf0000000 != 0 || w&0xff00 != 0 {
				return formatErr(at+typeHdrLen, "type %d (int %q): unused bits set in %#x", s.first+TypeID(i), name, w)
			}
			p.pos += 4
		case KindArray:
			t.Ref, t.Index, t.Len = TypeID(p.u32(p.pos)), TypeID(p.u32(p.pos+4)), p.u32(p.pos+8)
			p.pos += 12
		case KindStruct, KindUnion, KindFuncProto:
			ms := allMembers[:vlen:vlen]
			allMembers = allMembers[vlen:]
			entry := 12
			if t.Kind == KindFuncProto {
				entry = 8
			}
			for j := range ms {
				m := &ms[j]
				if m.Name, err = p.name(p.u32(p.pos), p.at+p.pos); err != nil {
					return err
				}
				m.Type = TypeID(p.u32(p.pos + 4))
				if t.Kind != KindFuncProto {
					off := p.u32(p.pos + 8)
					if t.KindFlag {
						m.BitOffset, m.BitfieldSize = off&0xffffff, uint8(off>>24)
					} else {
						m.BitOffset = off
					}
				}
				p.pos += entry
			}
			if vlen > 0 {
				t.Members = ms
			}
		case KindEnum, KindEnum64:
			vs := allValues[:vlen:vlen]
			allValues = allValues[vlen:]
			for j := range vs {
				if vs[j].Name, err = p.name(p.u32(p.pos), p.at+p.pos); err != nil {
					return err
				}
				if t.Kind == KindEnum {
					v := p.u32(p.pos + 4)
					if t.KindFlag {
						vs[j].Value = uint64(int64(int32(v)))
					} else {
						vs[j].Value = uint64(v)
					}
					p.pos += 8
				} else {
					vs[j].Value = uint64(p.u32(p.pos+4)) | uint64(p.u32(p.pos+8))<<32
					p.pos += 12
				}
			}
			if vlen > 0 {
				t.Values = vs
			}
		case KindVar:
			t.Linkage = Linkage(p.u32(p.pos))
			p.pos += 4
		case KindDeclTag:
			t.ComponentIdx = int32(p.u32(p.pos))
			p.pos += 4
		case KindDatasec:
			vs := allVars[:vlen:vlen]
			allVars = allVars[vlen:]
			for j := range vs {
				vs[j] = VarSecinfo{Type: TypeID(p.u32(p.pos)), Offset: p.u32(p.pos + 4), Size: p.u32(p.pos + 8)}
				p.pos += 12
			}
			if vlen > 0 {
				t.Vars = vs
			}
		case KindFunc:
			t.Linkage = Linkage(vlen)
		}
	}
	return nil
}

// validate checks what parsing alone cannot: every type id a type refers
// to exists, sizes are sane, and chains of references end.
func (s *Spec) validate() error {
	end := s.end()
	ref := func(id TypeID, owner TypeID, what string) error {
		if id >= end {
			return formatErr(-1, "type %d: %s is type %d, past the last type %d", owner, what, id, end-1)
		}
		return nil
	}
	member := func(id TypeID, owner TypeID, name string) error {
		if id >= end {
			return formatErr(-1, "type %d: member %q is type %d, past the last type %d", owner, name, id, end-1)
		}
		return nil
	}
	for i := range s.types {
		id := s.first + TypeID(i)
		if id == 0 {
			continue
		}
		t := &s.types[i]
		switch t.Kind {
		case KindInt:
			if t.Size != 1 && t.Size != 2 && t.Size != 4 && t.Size != 8 && t.Size != 16 {
				return formatErr(-1, "type %d (int %q): size %d, not 1, 2, 4, 8 or 16", id, t.Name, t.Size)
			}
			if uint32(t.IntOffset)+uint32(t.IntBits) > t.Size*8 {
				return formatErr(-1, "type %d (int %q): %d bits at bit %d do not fit %d bytes", id, t.Name, t.IntBits, t.IntOffset, t.Size)
			}
		case KindPtr, KindTypedef, KindVolatile, KindConst, KindRestrict, KindTypeTag, KindFunc, KindFuncProto, KindVar, KindDeclTag:
			if err := ref(t.Ref, id, "its referenced type"); err != nil {
				return err
			}
			if t.Kind == KindDeclTag && t.Ref == 0 {
				return formatErr(-1, "type %d (decl_tag): tags void", id)
			}
		case KindArray:
			if err := ref(t.Ref, id, "its element type"); err != nil {
				return err
			}
			if err := ref(t.Index, id, "its index type"); err != nil {
				return err
			}
		case KindStruct, KindUnion:
			for j := range t.Members {
				m := &t.Members[j]
				if err := member(m.Type, id, m.Name); err != nil {
					return err
				}
				if m.Type == 0 {
					return formatErr(-1, "type %d (%s): member %q is void", id, t.Describe(), m.Name)
				}
				endBit := uint64(m.BitOffset) + uint64(m.BitfieldSize)
				if endBit > uint64(t.Size)*8 {
					return formatErr(-1, "type %d (%s): member %q at bit %d lies past the %d-byte size", id, t.Describe(), m.Name, m.BitOffset, t.Size)
				}
			}
		case KindDatasec:
			for _, v := range t.Vars {
				if err := ref(v.Type, id, "a variable"); err != nil {
					return err
				}
			}
		case KindEnum:
			if t.Size != 1 && t.Size != 2 && t.Size != 4 && t.Size != 8 {
				return formatErr(-1, "type %d (%s): size %d, not 1, 2, 4 or 8", id, t.Describe(), t.Size)
			}
		case KindEnum64:
			if t.Size != 1 && t.Size != 2 && t.Size != 4 && t.Size != 8 {
				return formatErr(-1, "type %d (%s): size %d, not 1, 2, 4 or 8", id, t.Describe(), t.Size)
			}
		case KindFloat:
			if t.Size != 2 && t.Size != 4 && t.Size != 8 && t.Size != 12 && t.Size != 16 {
				return formatErr(-1, "type %d (float %q): size %d, not 2, 4, 8, 12 or 16", id, t.Name, t.Size)
			}
		case KindUnknown:
			return formatErr(-1, "type %d: kind 0 (void) is reserved for type 0", id)
		}
	}
	// Chains of references without a size (typedef -> const -> typedef …)
	// must end; a struct may contain itself only through a pointer, which
	// sizeOf handles, so only these chains can loop.
	for i := range s.types {
		id := s.first + TypeID(i)
		if _, err := s.Resolve(id); err != nil {
			return err
		}
	}
	return nil
}
