package structcodec_test

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/bpfmaps/bpfmaps/structcodec"
)

// pointerWords returns the offsets in Go memory of the words of t that
// hold pointers the garbage collector follows.
func pointerWords(t reflect.Type, base uintptr) []uintptr {
	word := unsafe.Sizeof(uintptr(0))
	switch t.Kind() {
	case reflect.Pointer, reflect.UnsafePointer, reflect.Map, reflect.Chan, reflect.Func:
		return []uintptr{base}
	case reflect.String, reflect.Slice:
		return []uintptr{base}
	case reflect.Interface:
		return []uintptr{base, base + word}
	case reflect.Array:
		var out []uintptr
		for i := range t.Len() {
			out = append(out, pointerWords(t.Elem(), base+uintptr(i)*t.Elem().Size())...)
		}
		return out
	case reflect.Struct:
		var out []uintptr
		for i := range t.NumField() {
			out = append(out, pointerWords(t.Field(i).Type, base+t.Field(i).Offset)...)
		}
		return out
	}
	return nil
}

type hostileInner struct {
	A uint32
	_ *int   `bpf:"-"`
	B uint64 `bpf:"offset=16"`
}

// TestPointersAreNeverOverwritten holds the codec to its promise that no
// copy, from the kernel or from a decode, covers a Go field that holds a
// pointer: a map's writer must never control a Go pointer. Each type puts
// pointer-holding fields (blank or named, skipped with "-", nested, in
// arrays) in gaps of its C layout where a whole-value or merged copy would
// reach them. Types whose pointers cannot be protected must be refused.
// Add a row for every new way to hide a pointer.
func TestPointersAreNeverOverwritten(t *testing.T) {
	for _, tc := range []struct {
		name   string
		typ    reflect.Type
		refuse string // "" when the type must compile
	}{
		{"blank pointer in a gap", reflect.TypeFor[struct {
			A uint32
			_ *int   `bpf:"-"`
			B uint64 `bpf:"offset=16"`
		}](), ""},
		{"blank unsafe.Pointer", reflect.TypeFor[struct {
			A uint64
			_ unsafe.Pointer `bpf:"-"`
			B uint64         `bpf:"offset=16"`
		}](), ""},
		{"blank slice", reflect.TypeFor[struct {
			A uint64
			_ []byte `bpf:"-"`
			B uint64 `bpf:"offset=32"`
		}](), ""},
		{"blank map", reflect.TypeFor[struct {
			A uint64
			_ map[int]int `bpf:"-"`
			B uint64      `bpf:"offset=16"`
		}](), ""},
		{"blank string", reflect.TypeFor[struct {
			A uint64
			_ string `bpf:"-"`
			B uint64 `bpf:"offset=24"`
		}](), ""},
		{"blank interface", reflect.TypeFor[struct {
			A uint64
			_ any    `bpf:"-"`
			B uint64 `bpf:"offset=24"`
		}](), ""},
		{"blank chan and func", reflect.TypeFor[struct {
			A uint64
			_ chan int `bpf:"-"`
			_ func()   `bpf:"-"`
			B uint64   `bpf:"offset=24"`
		}](), ""},
		{"named pointer", reflect.TypeFor[struct {
			A uint32
			P *int   `bpf:"-"`
			B uint64 `bpf:"offset=16"`
		}](), ""},
		{"blank pointer under a merged copy", reflect.TypeFor[struct {
			A uint32
			_ *int   `bpf:"-"`
			B uint32 `bpf:"offset=16"`
			C uint8
			D uint64 `bpf:"offset=32"` // Go puts it at 24: no whole copy
		}](), ""},
		{"blank array of pointers", reflect.TypeFor[struct {
			A uint64
			_ [2]*int `bpf:"-"`
			B uint64  `bpf:"offset=24"`
		}](), ""},
		{"blank struct holding a pointer", reflect.TypeFor[struct {
			A uint64
			_ struct {
				N uint64
				P *int
			} `bpf:"-"`
			B uint64 `bpf:"offset=24"`
		}](), ""},
		{"nested", reflect.TypeFor[struct {
			X  uint64
			In hostileInner
		}](), ""},
		{"array of pointer-holding structs", reflect.TypeFor[[3]hostileInner](), ""},
		{"array field of pointer-holding structs", reflect.TypeFor[struct {
			A  uint16
			In [2]hostileInner
		}](), ""},
		{"big-endian beside a blank pointer", reflect.TypeFor[struct {
			A uint32 `bpf:"be"`
			_ *int   `bpf:"-"`
			B uint64 `bpf:"offset=16,be"`
		}](), ""},
		{"blank pointer not skipped", reflect.TypeFor[struct {
			A uint32
			_ *int
		}](), "pointers have no C layout"},
		{"blank slice not skipped", reflect.TypeFor[struct {
			A uint32
			_ []uint32
		}](), "slices have no fixed size"},
		{"blank array of pointers not skipped", reflect.TypeFor[struct {
			A uint32
			_ [2]unsafe.Pointer
		}](), "pointers have no C layout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := structcodec.Compile(tc.typ)
			if tc.refuse != "" {
				if err == nil || !strings.Contains(err.Error(), tc.refuse) {
					t.Fatalf("compiled (%v), want an error containing %q", err, tc.refuse)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ptrs := pointerWords(tc.typ, 0)
			if len(ptrs) == 0 {
				t.Fatal("the row hides no pointer")
			}
			// A plan that lets the kernel copy over Go memory must not
			// reach a pointer.
			if p := l.Plan(); p.InPlace {
				for _, off := range ptrs {
					if off < uintptr(p.Size) {
						t.Errorf("plan copies %d bytes in place over the pointer at Go offset %d", p.Size, off)
					}
				}
			}
			// Decode hostile bytes into memory the garbage collector does
			// not scan, so that a bad pointer is reported, not fatal.
			words := make([]uint64, (tc.typ.Size()+7)/8+1)
			mem := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), len(words)*8)
			for i := range mem {
				mem[i] = 0x11
			}
			src := bytes.Repeat([]byte{0xde, 0xad}, l.Size())
			if err := l.DecodeValue(src, reflect.NewAt(tc.typ, unsafe.Pointer(&words[0]))); err != nil {
				t.Fatal(err)
			}
			for _, off := range ptrs {
				if w := mem[off : off+unsafe.Sizeof(uintptr(0))]; !bytes.Equal(w, bytes.Repeat([]byte{0x11}, len(w))) {
					t.Errorf("decode wrote % x into the pointer at Go offset %d", w, off)
				}
			}
		})
	}
}

// TestRawErrorNamesTheCause holds RawError to naming the field that keeps
// a type's Go memory from being its C bytes, and to nil for raw types.
func TestRawErrorNamesTheCause(t *testing.T) {
	type Inner struct {
		X uint16
		Y uint8
	}
	for _, tc := range []struct {
		typ  reflect.Type
		want string // "" when raw
	}{
		{reflect.TypeFor[uint64](), ""},
		{reflect.TypeFor[[4]uint32](), ""},
		{reflect.TypeFor[struct{ A, B uint64 }](), ""},
		{reflect.TypeFor[struct {
			A [4]byte `bpf:"be"`
			B uint32
		}](), ""},
		{reflect.TypeFor[struct {
			A uint64
			_ uint64
			B uint64
		}](), "blank field struct._ (C offset 8, 8 bytes) is not encoded"},
		{reflect.TypeFor[struct {
			A uint32
			B uint64
		}](), "4 bytes of padding before struct.B"},
		{reflect.TypeFor[struct {
			A uint32
			B uint16 `bpf:"be"`
			C uint16
		}](), bigEndianCause},
		{reflect.TypeFor[struct {
			A  uint64
			In [2]struct{ On bool }
		}](), "struct.In[0].On is a bool"},
		{reflect.TypeFor[struct {
			Comm [8]byte `bpf:"cstring"`
		}](), ""},
		{reflect.TypeFor[struct {
			Comm [8]byte `bpf:"cstring,nul"`
		}](), "struct.Comm is a cstring with nul"},
		{reflect.TypeFor[struct {
			A uint32
			B uint32 `bpf:"-"`
		}](), "struct.B is skipped"},
		{reflect.TypeFor[struct {
			A  uint32
			In Inner
		}](), "1 bytes of padding at the end of struct.In"},
		{reflect.TypeFor[struct {
			_ structcodec.Packed
			A uint8
			B uint32
		}](), "struct.B is at offset 1 in C but 4 in Go"},
	} {
		l, err := structcodec.Compile(tc.typ)
		if err != nil {
			t.Fatal(err)
		}
		err = l.RawError()
		if p := l.Plan(); (err == nil) != p.Raw() {
			t.Errorf("%v: RawError %v with Plan.Raw %v", tc.typ, err, p.Raw())
		}
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v: RawError %v, want %q", tc.typ, err, tc.want)
		}
	}
}

// bigEndianCause is why a big-endian field keeps a type from overlaying C
// memory: only on a little-endian host, where its bytes must be swapped.
var bigEndianCause = func() string {
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return "struct.B is big-endian"
	}
	return ""
}()
