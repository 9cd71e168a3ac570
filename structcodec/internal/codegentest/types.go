// Package codegentest holds one type of each shape family with code that
// bpfcodegen generated for it, so that tests can hold the generated codecs
// against the runtime codec. A test fails when the generated code is stale.
package codegentest

import "github.com/bpfmaps/bpfmaps/structcodec"

//go:generate go run ./writeshapes
//go:generate go run github.com/bpfmaps/bpfmaps/cmd/bpfcodegen -type Mixed,Nested,Arrays,Packed,Pinned,Text,Floats,Named,Addrs,Port,Matrix,Empty,NoPad -output types_bpf.go

// Mixed is the 40-byte struct of the benchmarks: mixed widths, padding,
// big-endian fields and text.
type Mixed struct {
	Pid   uint32
	Port  uint16 `bpf:"be"`
	Proto uint8
	Flags uint8
	Addr  [4]byte `bpf:"be"`
	Time  uint64
	Comm  [16]byte `bpf:"cstring"`
}

// Inner is nested in other types.
type Inner struct {
	A uint8
	B uint32 `bpf:"be"`
	C int16
}

// Nested nests structs in structs and arrays.
type Nested struct {
	Tag   int8
	In    Inner
	Ins   [3]Inner
	Tail  uint8
	Deep  struct{ X, Y Inner }
	Inner // embedded
}

// Arrays has arrays of every element kind.
type Arrays struct {
	Bytes  [5]byte
	Int8s  [3]int8
	Be16   [3]uint16 `bpf:"be"`
	U64s   [2]uint64
	Grid   [2][3]int32
	BeGrid [2][2]uint32 `bpf:"be"`
	Bools  [3]bool
	Raw    [2][3]byte
}

// Packed has the packed layout.
type Packed struct {
	_    structcodec.Packed
	Kind uint8
	Len  uint32
	Id   uint64 `bpf:"be"`
	In   Inner
	Last uint16
}

// Pinned places fields with offset=N, skips fields and has blank padding.
type Pinned struct {
	A    uint16
	Skip uint64 `bpf:"-"`
	B    uint32 `bpf:"offset=8"`
	_    [4]byte
	C    uint8 `bpf:"offset=20"`
	D    uint64
	hid  uint32 // unexported fields are part of the layout
}

// Text has NUL-padded text in arrays and strings, some of it with room
// for a NUL terminator (nul).
type Text struct {
	Name  string   `bpf:"cstring,size=12"`
	Comm  [16]byte `bpf:"cstring"`
	Short string   `bpf:"cstring,size=3,nul"`
	Sign  [4]int8  `bpf:"cstring"`
	Term  [6]byte  `bpf:"cstring,nul"`
	After uint32
}

// Floats has floats and bools.
type Floats struct {
	F32 float32
	Ok  bool
	F64 float64
	No  bool
}

// Proto, Label and Octet are named basic types.
type (
	Proto uint8
	Label string
	Octet byte
	Flag  bool
)

// Named has fields of named types.
type Named struct {
	P     Proto
	L     Label    `bpf:"cstring,size=8"`
	Addr  [4]Octet `bpf:"be"`
	F     Flag
	Port  Port    `bpf:"be"`
	Ports [2]Port `bpf:"be"`
}

// Addrs is a named array type.
type Addrs [4]uint32

// Port is a named integer type.
type Port uint16

// Matrix is an array of structs of arrays.
type Matrix [2]struct {
	Row  [3]uint16 `bpf:"be"`
	Mark bool
}

// Empty has no fields.
type Empty struct{}

// NoPad has no padding, no bools and no text: every byte string is the
// encoding of exactly one value.
type NoPad struct {
	A uint32
	B uint16 `bpf:"be"`
	C [2]int8
	D uint64 `bpf:"be"`
	E [3]int16
	F int16 `bpf:"be"`
	G float64
	H struct {
		_ structcodec.Packed
		X uint8
		Y uint32 `bpf:"be"`
		Z uint16
	}
	I [9]uint8
}
