package mapops

import (
	"slices"
	"unsafe"

	"github.com/bpfmaps/bpfmaps/structcodec"
)

// form is how mapops moves the values of one Go type to and from the
// kernel without calling its codec, following the type's
// structcodec.Plan: structcodec owns the layout, mapops only reads the
// plan. Skipping the codec matters because its Encode and Decode take the
// value as an interface, which moves it to the heap: following the plan
// here keeps keys and values on the stack, so operations allocate nothing.
type form struct {
	structcodec.Plan
	raw     bool // the Go memory is the C bytes: the kernel reads and writes it as is
	overlay bool // the kernel may write a lookup into the Go memory; fixBools then
	stack   bool // the C bytes can be built on the stack with buildKey
}

// keyStack is the size of the stack buffer buildKey writes keys into.
const keyStack = 64

func formOf(p structcodec.Plan) form {
	return form{Plan: p, raw: p.Raw(), overlay: p.Overlay(),
		stack: p.InPlace && !p.Checked && p.Size <= keyStack}
}

// fixBools makes the bools of the value at p, just overlaid with C bytes,
// 0 or 1.
func (f *form) fixBools(p unsafe.Pointer) {
	for _, s := range f.Bools {
		for i := range s.Len {
			if b := (*byte)(unsafe.Add(p, s.Off+i)); *b > 1 {
				*b = 1
			}
		}
	}
}

// buildKey writes the C bytes of the value at src, whose form is stack,
// into the zeroed dst.
func (f *form) buildKey(dst *[keyStack]byte, src unsafe.Pointer) {
	copy(dst[:f.Size], unsafe.Slice((*byte)(src), f.Size))
	for _, z := range f.Zeros {
		clear(dst[z.Off : z.Off+z.Len])
	}
	for _, s := range f.Swaps {
		slices.Reverse(dst[s.Off : s.Off+s.Len])
	}
}

// keyPtr returns where the kernel finds the C bytes of *key without the
// codec: key itself when they are its memory, or kb after building them
// there; nil when only the codec can encode the key.
func (f *form) keyPtr(key unsafe.Pointer, kb *[keyStack]byte) unsafe.Pointer {
	switch {
	case f.raw:
		return key
	case f.stack:
		f.buildKey(kb, key)
		return unsafe.Pointer(kb)
	}
	return nil
}

// decode sets *v from the C bytes in b: by copying them over it where the
// form allows (then fixing bools), else with the codec.
func decode[T any](f *form, c *structcodec.Codec[T], b []byte, v *T) error {
	if f.overlay {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(v)), f.Size), b)
		f.fixBools(unsafe.Pointer(v))
		return nil
	}
	return c.Decode(b, v)
}

// encode writes the C bytes of *v to b: a copy where they are its Go
// memory, else with the codec.
func encode[T any](f *form, c *structcodec.Codec[T], b []byte, v *T) error {
	if f.raw {
		copy(b, unsafe.Slice((*byte)(unsafe.Pointer(v)), f.Size))
		return nil
	}
	return c.Encode(b, v)
}
