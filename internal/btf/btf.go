// Package btf encodes the few BTF types that bpfmaps' hand-assembled test
// programs need: the verifier insists on BTF func_info for any program
// with a callback subprogram (bpf_user_ringbuf_drain, bpf_loop). It is a
// minimal encoder, not a BTF library: INT, PTR, STRUCT, FUNC_PROTO and FUNC only.
package btf

import (
	"encoding/binary"
)

// TypeID numbers a type; 0 is void.
type TypeID uint32

// Linkage is a FUNC's linkage. Callbacks must be Static.
type Linkage uint16

// The linkages the verifier knows.
const (
	Static Linkage = 0
	Global Linkage = 1
)

// Kinds, from include/uapi/linux/btf.h.
const (
	kindInt       = 1
	kindPtr       = 2
	kindFunc      = 12
	kindFuncProto = 13

	intSigned = 1 << 0 // BTF_INT_SIGNED
	magic     = 0xeB9F
	hdrLen    = 24
)

// Builder accumulates types and their names. The zero value is ready.
type Builder struct {
	types []byte
	strs  []byte
	n     TypeID
}

// FuncInfo is struct bpf_func_info: the instruction where a (sub)program
// starts and its FUNC type.
type FuncInfo struct {
	InsnOff uint32
	TypeID  TypeID
}

// FuncInfoSize is the record size the kernel expects for FuncInfo.
const FuncInfoSize = 8

func (b *Builder) name(s string) uint32 {
	if len(b.strs) == 0 {
		b.strs = append(b.strs, 0) // offset 0 is the empty name
	}
	if s == "" {
		return 0
	}
	off := uint32(len(b.strs))
	b.strs = append(append(b.strs, s...), 0)
	return off
}

func (b *Builder) add(name string, kind, vlen uint32, sizeOrType uint32, extra ...uint32) TypeID {
	le := binary.NativeEndian
	b.types = le.AppendUint32(b.types, b.name(name))
	b.types = le.AppendUint32(b.types, kind<<24|vlen)
	b.types = le.AppendUint32(b.types, sizeOrType)
	for _, w := range extra {
		b.types = le.AppendUint32(b.types, w)
	}
	b.n++
	return b.n
}

// Int adds an integer type of size bytes.
func (b *Builder) Int(name string, size uint32, signed bool) TypeID {
	enc := uint32(0)
	if signed {
		enc = intSigned
	}
	return b.add(name, kindInt, 0, size, enc<<24|size*8)
}

// Ptr adds a pointer to target (0 for void *).
func (b *Builder) Ptr(target TypeID) TypeID { return b.add("", kindPtr, 0, uint32(target)) }

// Param is one named parameter of a function prototype.
type Param struct {
	Name string
	Type TypeID
}

// FuncProto adds a function prototype.
func (b *Builder) FuncProto(ret TypeID, params ...Param) TypeID {
	extra := make([]uint32, 0, 2*len(params))
	for _, p := range params {
		extra = append(extra, b.name(p.Name), uint32(p.Type))
	}
	return b.add("", kindFuncProto, uint32(len(params)), uint32(ret), extra...)
}

// Func adds a function of the given prototype.
func (b *Builder) Func(name string, proto TypeID, linkage Linkage) TypeID {
	return b.add(name, kindFunc, uint32(linkage), uint32(proto))
}

// Bytes returns the raw BTF blob (header, types, strings) for BTF_LOAD.
func (b *Builder) Bytes() []byte {
	b.name("") // make sure the string section exists
	le := binary.NativeEndian
	out := make([]byte, 0, hdrLen+len(b.types)+len(b.strs))
	out = le.AppendUint16(out, magic)
	out = append(out, 1, 0) // version, flags
	out = le.AppendUint32(out, hdrLen)
	out = le.AppendUint32(out, 0)                    // type_off
	out = le.AppendUint32(out, uint32(len(b.types))) // type_len
	out = le.AppendUint32(out, uint32(len(b.types))) // str_off
	out = le.AppendUint32(out, uint32(len(b.strs)))  // str_len
	out = append(out, b.types...)
	return append(out, b.strs...)
}
