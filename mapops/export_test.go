package mapops

import (
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

// Overlay reports whether Typed reads values of V by letting the kernel
// write over them, and the offsets of the bools it then fixes.
func Overlay[V any]() (bool, []uintptr) {
	c, err := structcodec.For[V]()
	if err != nil {
		panic(err)
	}
	var bools []uintptr
	ok := overlay(c.Layout(), 0, &bools)
	return ok, bools
}

// PlanKey returns the C bytes Typed builds on the stack for key, and
// whether it builds them that way for K at all.
func PlanKey[K any](key K) ([]byte, bool) {
	c, err := structcodec.For[K]()
	if err != nil {
		panic(err)
	}
	var p keyPlan
	if c.Size() > keyStack || !p.add(c.Layout(), 0, false) {
		return nil, false
	}
	var b [keyStack]byte
	p.build(&b, unsafe.Pointer(&key))
	return b[:c.Size()], true
}

// OverlayRead reads a V from its C bytes b the way Typed reads values the
// kernel wrote (see overlay); ok is false when Typed decodes V with the
// codec instead.
func OverlayRead[V any](b []byte) (v V, ok bool) {
	c, err := structcodec.For[V]()
	if err != nil {
		panic(err)
	}
	t := &Typed[uint32, V]{vc: c, vSize: c.Size()}
	if t.vOverlay = overlay(c.Layout(), 0, &t.vBools); !t.vOverlay {
		return v, false
	}
	if err := t.decodeValue(b, &v); err != nil {
		panic(err)
	}
	return v, true
}
