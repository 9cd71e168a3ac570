// Package structcodec turns Go values into the bytes of the equivalent C
// struct and back, for BPF map keys and values and ring buffer records. A
// codec is compiled once per Go type from its `bpf:"..."` struct tags and
// cached; encoding and decoding then use neither reflection nor allocation,
// and where Go already lays a struct out as C does, encoding is one copy.
//
// The layout is the one gcc and clang give the same struct: every field at
// its natural alignment, padding between fields and at the end up to the
// struct's alignment, nested structs and fixed arrays laid out in place.
// Integers are in host byte order, as the kernel and BPF programs see them.
// The tag options are:
//
//	bpf:"-"                  leave the field out: encoding and decoding never touch it
//	bpf:"be"                 big-endian (network order) integer or array of integers
//	bpf:"offset=N"           place the field at byte N of its struct; it may only move
//	                         forward and must be aligned unless the struct is packed
//	bpf:"cstring"            NUL-padded text in a [N]byte (char[N] in C): both ways
//	                         a copy; text may fill all N bytes, as C allows
//	bpf:"cstring,size=N"     NUL-padded text in a string field, char[N] in C: text of
//	                         more than N bytes, or holding a NUL, is an error; decoding
//	                         reads up to the first NUL (all N bytes if there is none)
//	bpf:"cstring,nul"        with either form: the text must leave room for a NUL
//	                         terminator (N-1 bytes at most), for C code that relies on it
//
// Options combine with commas, in any order, each at most once:
// bpf:"offset=8,be". A bpf tag
// has no name, but the form encoding/json users write, with an empty name
// before the options, means the same: bpf:",be" and bpf:",offset=8,be" are
// bpf:"be" and bpf:"offset=8,be". Empty options are ignored. cstring needs
// at least one byte. A value decoded from any C bytes encodes back to
// them (up to padding, bools and what follows a NUL in a string field),
// except where nul refuses unterminated text. Offsets and sizes, and so every layout,
// are bounded by math.MaxInt32 bytes; a BPF map value is at most a few MiB.
//
// Encoding checks every text field before it writes anything, so on error
// dst is untouched. Decoding accepts any bytes.
//
// A blank field of type Packed asks for __attribute__((packed)) layout. A
// bool is one byte: true encodes as 1, and any nonzero byte decodes as true.
// Blank (_) fields are padding: they encode as zeros, and what decoding
// leaves in them is unspecified (Go's == ignores them). Fields of kind int,
// uint, uintptr, pointer, slice, map, interface, channel, func, complex and
// strings without a size have no C layout and are refused with an error
// naming the field; skipped with "-" they may be any type, and no copy
// from C bytes ever reaches them, so whoever writes a map cannot write a
// Go pointer.
//
// For example, a TCP flow key:
//
//	type Flow struct {
//		SrcAddr [4]byte `bpf:"be"`
//		DstAddr [4]byte `bpf:"be"`
//		SrcPort uint16  `bpf:"be"`
//		DstPort uint16  `bpf:"be"`
//		Proto   uint8
//		Comm    [16]byte `bpf:"cstring"`
//	}
//
// is the C struct { __u8 saddr[4], daddr[4]; __be16 sport, dport; __u8
// proto; char comm[16]; } of 29 bytes and, padded to its 2-byte alignment,
// sizeof 30.
//
// The bpfcodegen command (go run github.com/bpfmaps/bpfmaps/cmd/bpfcodegen
// -type Name, usually from a //go:generate line) writes reflection-free
// MarshalBPF, UnmarshalBPF and SizeBPF methods for a type; For uses them
// when they exist, and they produce the same bytes as the runtime codec.
package structcodec
