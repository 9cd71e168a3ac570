package mapops

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"github.com/bpfmaps/bpfmaps/sys"
)

// Integer keys and values in host byte order (as a C program sharing the
// map stores them) in 1, 2, 4 or 8 bytes.

// PutUint stores v in b as an unsigned integer of len(b) bytes in host
// byte order (binary.NativeEndian): the bytes a C program on this machine
// keeps a __u8, __u16, __u32, __u64 or wider integer of that value in, and
// what LookupInt, UpdateInt and the other integer methods use. b may have
// any length from 1 byte, for keys and values of any width; bytes past
// the eighth hold zeros (v's high bits). It fails, writing nothing, when v
// does not fit in len(b) bytes or b is empty.
func PutUint(b []byte, v uint64) error {
	n := len(b)
	switch {
	case n == 0:
		return fmt.Errorf("put uint %d: no bytes to store it in", v)
	case n < 8 && v>>(8*n) != 0:
		return fmt.Errorf("put uint %d: does not fit in %d bytes", v, n)
	}
	var w [8]byte
	binary.NativeEndian.PutUint64(w[:], v)
	clear(b)
	if bigEndian {
		// The value's low bytes end the integer.
		copy(b[max(n-8, 0):], w[max(8-n, 0):])
	} else {
		copy(b, w[:min(n, 8)])
	}
	return nil
}

// Uint decodes the unsigned integer of len(b) bytes that b holds in host
// byte order, as PutUint stores it. It fails when b is empty or holds a
// value wider than 64 bits.
func Uint(b []byte) (uint64, error) {
	n := len(b)
	if n == 0 {
		return 0, fmt.Errorf("uint: no bytes")
	}
	var w [8]byte
	high := b
	if bigEndian {
		high = b[:max(n-8, 0)]
		copy(w[max(8-n, 0):], b[max(n-8, 0):])
	} else {
		high = b[min(n, 8):]
		copy(w[:], b)
	}
	for _, c := range high {
		if c != 0 {
			return 0, fmt.Errorf("uint: the %d-byte integer % x does not fit in 64 bits", n, b)
		}
	}
	return binary.NativeEndian.Uint64(w[:]), nil
}

// bigEndian reports whether this machine stores integers most significant
// byte first.
var bigEndian = binary.NativeEndian.Uint16([]byte{0, 1}) == 1

func intSizeOK(n int) bool { return n == 1 || n == 2 || n == 4 || n == 8 }

// putInt stores v in the first n bytes of b, failing when it does not fit.
func (m *Map) putInt(op, what string, b *[8]byte, n int, v uint64) error {
	if !intSizeOK(n) {
		return &sys.OpError{Object: m.String(), Op: op, Err: fmt.Errorf("%ss are %d bytes, integer access needs 1, 2, 4 or 8", what, n)}
	}
	if n < 8 && v>>(8*n) != 0 {
		return &sys.OpError{Object: m.String(), Op: op, Err: fmt.Errorf("%s %d does not fit in %d bytes", what, v, n)}
	}
	switch n {
	case 1:
		b[0] = uint8(v)
	case 2:
		binary.NativeEndian.PutUint16(b[:], uint16(v))
	case 4:
		binary.NativeEndian.PutUint32(b[:], uint32(v))
	default:
		binary.NativeEndian.PutUint64(b[:], v)
	}
	return nil
}

// getInt reads the integer in the first n bytes of b.
func getInt(b *[8]byte, n int) uint64 {
	switch n {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.NativeEndian.Uint16(b[:]))
	case 4:
		return uint64(binary.NativeEndian.Uint32(b[:]))
	}
	return binary.NativeEndian.Uint64(b[:])
}

func (m *Map) intValue(op string) error {
	if m.ncpu > 0 {
		return &sys.OpError{Object: m.String(), Op: op, Err: errors.New("per-CPU map: use LookupPerCPU or UpdatePerCPU")}
	}
	if !intSizeOK(m.valueSize) {
		return &sys.OpError{Object: m.String(), Op: op, Err: fmt.Errorf("values are %d bytes, integer access needs 1, 2, 4 or 8", m.valueSize)}
	}
	return nil
}

// LookupInt returns the integer stored under the integer key.
func (m *Map) LookupInt(key uint64) (uint64, error) {
	if m == nil {
		return 0, nilMap("lookup")
	}
	var k, v [8]byte
	if err := m.putInt("lookup", "key", &k, m.keySize, key); err != nil {
		return 0, err
	}
	if err := m.intValue("lookup"); err != nil {
		return 0, err
	}
	if err := sys.MapLookupElem(m.fd, unsafe.Pointer(&k), unsafe.Pointer(&v), 0); err != nil {
		return 0, m.elemErr(opLookup, err, unsafe.Pointer(&k), 0)
	}
	return getInt(&v, m.valueSize), nil
}

// UpdateInt stores the integer value under the integer key.
func (m *Map) UpdateInt(key, value uint64, flags Flags) error {
	if m == nil {
		return nilMap("update")
	}
	var k, v [8]byte
	if err := m.putInt("update", "key", &k, m.keySize, key); err != nil {
		return err
	}
	if err := m.intValue("update"); err != nil {
		return err
	}
	if err := m.putInt("update", "value", &v, m.valueSize, value); err != nil {
		return err
	}
	return m.elemErr(opUpdate, sys.MapUpdateElem(m.fd, unsafe.Pointer(&k), unsafe.Pointer(&v), uint64(flags)), unsafe.Pointer(&k), flags)
}

// DeleteInt removes the integer key.
func (m *Map) DeleteInt(key uint64) error {
	if m == nil {
		return nilMap("delete")
	}
	var k [8]byte
	if err := m.putInt("delete", "key", &k, m.keySize, key); err != nil {
		return err
	}
	return m.elemErr(opDelete, sys.MapDeleteElem(m.fd, unsafe.Pointer(&k)), unsafe.Pointer(&k), 0)
}

// NextKeyInt returns the integer key after *key, or the first key when key
// is nil. After the last key it fails wrapping unix.ENOENT.
func (m *Map) NextKeyInt(key *uint64) (uint64, error) {
	if m == nil {
		return 0, nilMap("next key")
	}
	var k, next [8]byte
	var kp unsafe.Pointer
	if key != nil {
		if err := m.putInt("next key", "key", &k, m.keySize, *key); err != nil {
			return 0, err
		}
		kp = unsafe.Pointer(&k)
	} else if !intSizeOK(m.keySize) {
		return 0, m.putInt("next key", "key", &k, m.keySize, 0)
	}
	if err := sys.MapGetNextKey(m.fd, kp, unsafe.Pointer(&next)); err != nil {
		return 0, err
	}
	return getInt(&next, m.keySize), nil
}
