package mapops

import (
	"slices"
	"testing"
	"unsafe"

	"github.com/bpfmaps/bpfmaps/structcodec"
)

// ForceNextKey makes iteration use get_next_key until the test ends.
func ForceNextKey(t testing.TB) {
	forceNextKey = true
	t.Cleanup(func() { forceNextKey = false })
}

// Restarts returns how many get_next_key restarts walks have detected.
func Restarts() int64 { return restarts.Load() }

func formFor[T any]() (form, *structcodec.Codec[T]) {
	c, err := structcodec.For[T]()
	if err != nil {
		panic(err)
	}
	return formOf(c.Layout().Plan()), c
}

// Overlay reports whether Typed reads values of V by letting the kernel
// write over them, and the offsets of the bools it then fixes.
func Overlay[V any]() (bool, []uintptr) {
	f, _ := formFor[V]()
	if !f.overlay {
		return false, nil
	}
	var offs []uintptr
	for _, s := range f.Bools {
		for i := range s.Len {
			offs = append(offs, uintptr(s.Off+i))
		}
	}
	slices.Sort(offs)
	return true, offs
}

// PlanKey returns the C bytes Typed builds on the stack for key, and
// whether it builds them that way for K at all.
func PlanKey[K any](key K) ([]byte, bool) {
	f, _ := formFor[K]()
	if !f.stack {
		return nil, false
	}
	var b [keyStack]byte
	f.buildKey(&b, unsafe.Pointer(&key))
	return b[:f.Size], true
}

// OverlayRead reads a V from its C bytes b the way Typed reads values the
// kernel wrote (see form); ok is false when Typed decodes V with the
// codec instead.
func OverlayRead[V any](b []byte) (v V, ok bool) {
	f, c := formFor[V]()
	if !f.overlay {
		return v, false
	}
	t := &Typed[uint32, V]{vc: c, v: f}
	if err := t.decodeValue(b, &v); err != nil {
		panic(err)
	}
	return v, true
}
