package mapops

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/bpfmaps/bpfmaps/sys"
)

// Per-CPU maps: Map's byte-level access and Typed's.

// LookupPerCPU copies the value under key from every possible CPU into
// values, one 8-byte aligned slot of sys.ValueStride(ValueSize()) bytes per
// CPU: values must be ValueBufferSize bytes.
func (m *Map) LookupPerCPU(key, values []byte) error {
	if m == nil {
		return nilMap("lookup per CPU")
	}
	if m.ncpu == 0 {
		return &sys.OpError{Object: m.String(), Op: "lookup per CPU", Err: errors.New("not a per-CPU map")}
	}
	return m.Lookup(key, values)
}

// UpdatePerCPU stores values under key: either ValueSize bytes, copied to
// every CPU, or ValueBufferSize bytes, one slot per CPU.
func (m *Map) UpdatePerCPU(key, values []byte, flags Flags) error {
	if m == nil {
		return nilMap("update per CPU")
	}
	if m.ncpu == 0 {
		return &sys.OpError{Object: m.String(), Op: "update per CPU", Err: errors.New("not a per-CPU map")}
	}
	if len(values) == m.valueSize && len(values) != m.valueBuf {
		stride := sys.ValueStride(m.valueSize)
		all := make([]byte, m.valueBuf)
		for i := range m.ncpu {
			copy(all[i*stride:], values)
		}
		values = all
	}
	return m.Update(key, values, flags)
}

// PossibleCPUs is the number of values a per-CPU lookup fills.
func (t *Typed[K, V]) PossibleCPUs() int { return t.m.ncpu }

// LookupPerCPU fills values[i] with CPU i's value under key. values must
// hold at least PossibleCPUs elements; it is not reallocated.
func (t *Typed[K, V]) LookupPerCPU(key K, values []V) error {
	if t.m.ncpu == 0 {
		return &sys.OpError{Object: t.m.String(), Op: "LookupPerCPU", Err: errors.New("not a per-CPU map")}
	}
	if len(values) < t.m.ncpu {
		return &sys.OpError{Object: t.m.String(), Op: "LookupPerCPU", Err: fmt.Errorf("%d values given, the map has one per possible CPU: %d", len(values), t.m.ncpu)}
	}
	// Where the kernel's per-CPU slots are laid out like the slice's
	// elements, it writes straight into values.
	direct := t.v.overlay && uintptr(t.stride) == unsafe.Sizeof(values[0])
	var kb [keyStack]byte
	if kp := t.k.keyPtr(unsafe.Pointer(&key), &kb); kp != nil && direct {
		return t.lookupOver(kp, unsafe.Pointer(&values[0]), t.m.ncpu)
	}
	s := t.get()
	defer t.put(s)
	kp, err := t.keyBytes(s, &key, &kb)
	if err != nil {
		return err
	}
	if direct {
		return t.lookupOver(kp, unsafe.Pointer(&values[0]), t.m.ncpu)
	}
	if err := sys.MapLookupElem(t.m.fd, kp, ptr(s.val), 0); err != nil {
		return t.m.elemErr(opLookup, err, kp, 0)
	}
	return t.decodePerCPU(s.val, values)
}

func (t *Typed[K, V]) decodePerCPU(b []byte, values []V) error {
	for i := range t.m.ncpu {
		if err := t.decodeValue(b[i*t.stride:], &values[i]); err != nil {
			return err
		}
	}
	return nil
}

// UpdatePerCPU stores values under key: one value for every CPU, or
// exactly PossibleCPUs values, CPU i getting values[i].
func (t *Typed[K, V]) UpdatePerCPU(key K, values []V, flags Flags) error {
	if t.m.ncpu == 0 {
		return &sys.OpError{Object: t.m.String(), Op: "UpdatePerCPU", Err: errors.New("not a per-CPU map")}
	}
	if len(values) != 1 && len(values) != t.m.ncpu {
		return &sys.OpError{Object: t.m.String(), Op: "UpdatePerCPU", Err: fmt.Errorf("%d values given, want 1 (for all CPUs) or %d (one per possible CPU)", len(values), t.m.ncpu)}
	}
	s := t.get()
	defer t.put(s)
	var kb [keyStack]byte
	kp, err := t.keyBytes(s, &key, &kb)
	if err != nil {
		return err
	}
	for i := range t.m.ncpu {
		s.v = values[min(i, len(values)-1)]
		if err := t.encodeValue(s.val[i*t.stride:], &s.v); err != nil {
			return err
		}
	}
	return t.m.elemErr(opUpdate, sys.MapUpdateElem(t.m.fd, kp, ptr(s.val), uint64(flags)), kp, flags)
}
