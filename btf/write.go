package btf

import (
	"encoding/binary"
	"fmt"

	"github.com/bpfmaps/bpfmaps/structcodec"
)

// Builder writes BTF: types added one by one get ids 1, 2, …; Bytes
// returns the blob for BPF_BTF_LOAD or a file. The zero value writes in
// the host's byte order.
type Builder struct {
	// Order is the byte order of the blob; nil means the host's.
	Order binary.AppendByteOrder

	// Base, when set, makes the blob split BTF on top of it (as module
	// BTF is on vmlinux): ids continue after the base's last, string
	// offsets after its strings, and types may refer to the base's.
	// Set it before the first Add.
	Base *Spec

	types []byte
	strs  []byte
	index map[string]uint32
	n     TypeID
	err   error

	// AddLayout's types, reused.
	scalars map[scalarKey]TypeID
	structs map[*structcodec.Layout]TypeID
}

// FuncInfo is struct bpf_func_info: the instruction where a (sub)program
// starts and its FUNC type, as BPF_PROG_LOAD takes them.
type FuncInfo struct {
	InsnOff uint32
	TypeID  TypeID
}

// FuncInfoSize is the record size the kernel expects for FuncInfo.
const FuncInfoSize = 8

func (b *Builder) order() binary.AppendByteOrder {
	if b.Order == nil {
		return binary.NativeEndian
	}
	return b.Order
}

// name adds s to the string section once and returns its offset.
func (b *Builder) name(s string) uint32 {
	if b.index == nil {
		// Offset 0 is the empty name (the base's in split BTF, whose own
		// string section starts with one too, as module BTF's does).
		b.index = map[string]uint32{"": 0}
		b.strs = append(b.strs, 0)
	}
	if off, ok := b.index[s]; ok {
		return off
	}
	off := b.strBase() + uint32(len(b.strs))
	b.strs = append(append(b.strs, s...), 0)
	b.index[s] = off
	return off
}

// strBase is where the blob's string offsets start: after the base's.
func (b *Builder) strBase() uint32 {
	if b.Base == nil {
		return 0
	}
	return b.Base.strBase + uint32(len(b.Base.strs))
}

// lastID returns the id of the type added last (or the base's last).
func (b *Builder) lastID() TypeID {
	if b.Base == nil {
		return b.n
	}
	return b.Base.MaxID() + b.n
}

func (b *Builder) fail(format string, args ...any) TypeID {
	if b.err == nil {
		b.err = fmt.Errorf("btf: write type %d: %s", b.lastID()+1, fmt.Sprintf(format, args...))
	}
	b.n++ // keep the ids of later types what the caller expects
	return b.lastID()
}

// Add appends t, encoded as the kernel reads it, and returns its id. The
// fields of t that its Kind does not use are ignored. An error (a type
// that cannot be encoded) is kept and returned by Bytes.
func (b *Builder) Add(t *Type) TypeID {
	vlen := 0
	switch t.Kind {
	case KindStruct, KindUnion, KindFuncProto:
		vlen = len(t.Members)
	case KindEnum, KindEnum64:
		vlen = len(t.Values)
	case KindDatasec:
		vlen = len(t.Vars)
	case KindFunc:
		vlen = int(t.Linkage)
	}
	if vlen > maxVlen {
		return b.fail("%s %q has %d entries, at most %d fit", t.Kind, t.Name, vlen, maxVlen)
	}
	if t.Kind == KindUnknown || t.Kind > maxKind {
		return b.fail("kind %d cannot be written", t.Kind)
	}
	if b.lastID()+1 > maxTypeID {
		return b.fail("more than %d types", maxTypeID)
	}
	o := b.order()
	info := uint32(t.Kind)<<infoKindBit | uint32(vlen)
	if t.KindFlag {
		info |= 1 << 31
	}
	sizeType := uint32(t.Ref)
	switch t.Kind {
	case KindInt, KindStruct, KindUnion, KindEnum, KindEnum64, KindDatasec, KindFloat:
		sizeType = t.Size
	case KindFwd, KindArray:
		sizeType = 0
	}
	w := o.AppendUint32
	b.types = w(b.types, b.name(t.Name))
	b.types = w(b.types, info)
	b.types = w(b.types, sizeType)
	switch t.Kind {
	case KindInt:
		b.types = w(b.types, uint32(t.Encoding)<<24|uint32(t.IntOffset)<<16|uint32(t.IntBits))
	case KindArray:
		b.types = w(w(w(b.types, uint32(t.Ref)), uint32(t.Index)), t.Len)
	case KindStruct, KindUnion:
		for _, m := range t.Members {
			off := m.BitOffset
			if t.KindFlag {
				if off > 0xffffff {
					return b.fail("member %q at bit %d: with bitfields, offsets stop at 2^24", m.Name, off)
				}
				off |= uint32(m.BitfieldSize) << 24
			}
			b.types = w(w(w(b.types, b.name(m.Name)), uint32(m.Type)), off)
		}
	case KindFuncProto:
		for _, m := range t.Members {
			b.types = w(w(b.types, b.name(m.Name)), uint32(m.Type))
		}
	case KindEnum:
		for _, v := range t.Values {
			b.types = w(w(b.types, b.name(v.Name)), uint32(v.Value))
		}
	case KindEnum64:
		for _, v := range t.Values {
			b.types = w(w(w(b.types, b.name(v.Name)), uint32(v.Value)), uint32(v.Value>>32))
		}
	case KindVar:
		b.types = w(b.types, uint32(t.Linkage))
	case KindDeclTag:
		b.types = w(b.types, uint32(t.ComponentIdx))
	case KindDatasec:
		for _, v := range t.Vars {
			b.types = w(w(w(b.types, uint32(v.Type)), v.Offset), v.Size)
		}
	}
	b.n++
	return b.lastID()
}

// Int adds an integer type of size bytes.
func (b *Builder) Int(name string, size uint32, signed bool) TypeID {
	var enc IntEncoding
	if signed {
		enc = Signed
	}
	return b.Add(&Type{Kind: KindInt, Name: name, Size: size, Encoding: enc, IntBits: uint8(size * 8)})
}

// Ptr adds a pointer to target (0 for void *).
func (b *Builder) Ptr(target TypeID) TypeID { return b.Add(&Type{Kind: KindPtr, Ref: target}) }

// Struct adds a struct of size bytes; member offsets are in bits. A map
// value whose BTF holds a "bpf_spin_lock" member is what the BPF_F_LOCK
// flag needs.
func (b *Builder) Struct(name string, size uint32, members ...Member) TypeID {
	return b.Add(&Type{Kind: KindStruct, Name: name, Size: size, Members: members})
}

// FuncProto adds a function prototype; params have a Name and a Type.
func (b *Builder) FuncProto(ret TypeID, params ...Member) TypeID {
	return b.Add(&Type{Kind: KindFuncProto, Ref: ret, Members: params})
}

// Func adds a function of the given prototype.
func (b *Builder) Func(name string, proto TypeID, linkage Linkage) TypeID {
	return b.Add(&Type{Kind: KindFunc, Name: name, Ref: proto, Linkage: linkage})
}

// Bytes returns the blob: header, types, strings. It fails if a type
// could not be written.
func (b *Builder) Bytes() ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	b.name("") // make sure the string section exists
	o := b.order()
	out := make([]byte, 0, hdrLen+len(b.types)+len(b.strs))
	out = o.AppendUint16(out, magic)
	out = append(out, version, 0) // version, flags
	out = o.AppendUint32(out, hdrLen)
	out = o.AppendUint32(out, 0)                    // type_off
	out = o.AppendUint32(out, uint32(len(b.types))) // type_len
	out = o.AppendUint32(out, uint32(len(b.types))) // str_off
	out = o.AppendUint32(out, uint32(len(b.strs)))  // str_len
	out = append(out, b.types...)
	return append(out, b.strs...), nil
}
