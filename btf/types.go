// Package btf reads and writes BTF, the BPF Type Format: the kernel's
// description of C types that map keys and values, programs and the
// kernel itself carry. It is the module's one owner of BTF:
//
//   - parsing raw BTF (of either byte order, split on top of a base such
//     as vmlinux), the .BTF section of ELF objects and the files under
//     /sys/kernel/btf (LoadFile, LoadELFFile, LoadKernel, LoadModule, each
//     bounded to regular files of at most MaxFileSize bytes);
//   - loading a kernel BTF object by id and a map's BTF (LoadID, LoadMap),
//     through package sys, the only way this package reaches the kernel;
//   - looking types up by name and id (Lookup, TypeByName), resolving
//     typedefs and qualifiers (Resolve, ResolveFunc), walking members as C
//     reaches them (Fields), sizes and alignments; every walk stops at
//     MaxDepth;
//   - formatting values as bpftool does (Formatter), holding a structcodec
//     layout against a C type (Check), mapping C scalars to Go (GoScalar)
//     and writing BTF, for example for a Go type's layout (Builder,
//     AddLayout).
//
// btf imports structcodec (Check and AddLayout take its layouts);
// structcodec never imports btf.
//
// The wire format is include/uapi/linux/btf.h; Documentation/bpf/btf.rst
// explains it.
package btf

import "fmt"

// TypeID numbers a type. 0 is void; in split BTF the ids continue after
// the base's.
type TypeID uint32

// Kind is a BTF_KIND_* value: what sort of type a Type is.
type Kind uint8

// The kinds the kernel defines.
const (
	KindUnknown   Kind = 0 // void (type 0) only
	KindInt       Kind = 1
	KindPtr       Kind = 2
	KindArray     Kind = 3
	KindStruct    Kind = 4
	KindUnion     Kind = 5
	KindEnum      Kind = 6
	KindFwd       Kind = 7
	KindTypedef   Kind = 8
	KindVolatile  Kind = 9
	KindConst     Kind = 10
	KindRestrict  Kind = 11
	KindFunc      Kind = 12
	KindFuncProto Kind = 13
	KindVar       Kind = 14
	KindDatasec   Kind = 15
	KindFloat     Kind = 16
	KindDeclTag   Kind = 17
	KindTypeTag   Kind = 18
	KindEnum64    Kind = 19
	maxKind            = KindEnum64
)

var kindNames = [...]string{
	"void", "int", "ptr", "array", "struct", "union", "enum", "fwd", "typedef", "volatile",
	"const", "restrict", "func", "func_proto", "var", "datasec", "float", "decl_tag", "type_tag", "enum64",
}

// String returns the kind's name as bpftool prints it in upper case
// ("struct", "typedef", …).
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// IntEncoding is the encoding of an INT: BTF_INT_SIGNED, BTF_INT_CHAR,
// BTF_INT_BOOL, or none of them (unsigned).
type IntEncoding uint8

// The INT encodings.
const (
	Signed IntEncoding = 1 << 0
	Char   IntEncoding = 1 << 1
	Bool   IntEncoding = 1 << 2
)

// Linkage is the linkage of a FUNC or VAR.
type Linkage uint32

// The linkages: functions use Static, Global and Extern; variables Static,
// Global (allocated) and Extern.
const (
	Static Linkage = 0
	Global Linkage = 1
	Extern Linkage = 2
)

// A Type is one BTF type. Which fields mean something depends on Kind;
// the others are zero.
type Type struct {
	Name string
	Kind Kind

	// KindFlag is the info word's kind_flag: for STRUCT and UNION, members
	// carry bitfield sizes; for FWD, a union; for ENUM and ENUM64, signed
	// values; for DECL_TAG, an attribute.
	KindFlag bool

	// Size is the size in bytes of an INT, STRUCT, UNION, ENUM, ENUM64,
	// DATASEC or FLOAT.
	Size uint32

	// Ref is the type referred to: the target of a PTR, TYPEDEF, VOLATILE,
	// CONST, RESTRICT or TYPE_TAG; a FUNC's FUNC_PROTO; a FUNC_PROTO's
	// return type; a VAR's type; the type or member a DECL_TAG tags; an
	// ARRAY's element type.
	Ref TypeID

	// INT: encoding, offset and number of bits (BTF_INT_*).
	Encoding  IntEncoding
	IntOffset uint8
	IntBits   uint8

	// ARRAY: the index type and the number of elements (Ref is the element).
	Index TypeID
	Len   uint32

	// FUNC and VAR: linkage.
	Linkage Linkage

	// DECL_TAG: the index of the tagged member or parameter, -1 for the
	// type itself.
	ComponentIdx int32

	// STRUCT and UNION: members. FUNC_PROTO: parameters (Name and Type
	// only; a last parameter of type 0 means "...").
	Members []Member

	// ENUM and ENUM64: enumerators.
	Values []EnumValue

	// DATASEC: variables.
	Vars []VarSecinfo
}

// A Member is a struct or union member, or a function parameter.
type Member struct {
	Name string
	Type TypeID
	// BitOffset is the member's offset from the start of the struct in
	// bits; BitfieldSize is its width for a bitfield member, else 0.
	BitOffset    uint32
	BitfieldSize uint8
}

// Bitfield reports whether the member is a bitfield: it has a width of its
// own or does not start on a byte.
func (m *Member) Bitfield() bool { return m.BitfieldSize != 0 || m.BitOffset%8 != 0 }

// An EnumValue is one enumerator. Value holds the bits; for a signed enum
// (KindFlag) read it as int64(Value).
type EnumValue struct {
	Name  string
	Value uint64
}

// A VarSecinfo places a VAR in a DATASEC.
type VarSecinfo struct {
	Type   TypeID
	Offset uint32
	Size   uint32
}

// Signed reports whether an INT is signed or an ENUM holds signed values.
func (t *Type) Signed() bool {
	if t.Kind == KindInt {
		return t.Encoding&Signed != 0
	}
	return (t.Kind == KindEnum || t.Kind == KindEnum64) && t.KindFlag
}

// Describe names the type by itself, without looking at the types it
// refers to: "struct flow", "anonymous union", "__u32", "ptr" (Spec.Name
// spells out arrays, pointers and qualifiers).
func (t *Type) Describe() string {
	switch t.Kind {
	case KindStruct, KindUnion, KindEnum, KindEnum64:
		k := t.Kind.String()
		if t.Kind == KindEnum64 {
			k = "enum"
		}
		if t.Name == "" {
			return "anonymous " + k
		}
		return k + " " + t.Name
	case KindInt, KindFloat, KindTypedef:
		return t.Name
	}
	if t.Name != "" {
		return t.Kind.String() + " " + t.Name
	}
	return t.Kind.String()
}
