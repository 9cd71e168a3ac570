package mapops

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

// Flags modify Update (and, for Lock, Lookup).
type Flags uint64

// The update flags. Any, NoExist and Exist exclude each other; Lock may be
// or'ed to any of them.
const (
	Any     Flags = unix.BPF_ANY     // create or replace
	NoExist Flags = unix.BPF_NOEXIST // create only: ErrKeyExist if present
	Exist   Flags = unix.BPF_EXIST   // replace only: ErrKeyNotExist if absent
	Lock    Flags = unix.BPF_F_LOCK  // copy under the value's bpf_spin_lock
)

// ptr returns a pointer to b's first byte, or nil for an empty slice.
func ptr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

func (m *Map) checkKey(op string, key []byte) error {
	if len(key) != m.keySize {
		return m.sizeErr(op, "key", len(key), m.keySize)
	}
	return nil
}

func (m *Map) checkValue(op string, value []byte) error {
	if len(value) != m.valueBuf {
		return m.sizeErr(op, "value", len(value), m.valueBuf)
	}
	return nil
}

// Lookup copies the value stored under key into value, which must be
// ValueBufferSize bytes: for per-CPU maps, one 8-byte aligned slot per
// possible CPU. A missing key gives an error wrapping ErrKeyNotExist.
func (m *Map) Lookup(key, value []byte) error { return m.LookupFlags(key, value, 0) }

// LookupFlags is Lookup with flags (Lock).
func (m *Map) LookupFlags(key, value []byte, flags Flags) error {
	if err := m.checkKey("lookup", key); err != nil {
		return err
	}
	if err := m.checkValue("lookup", value); err != nil {
		return err
	}
	return lookupErr(sys.MapLookupElem(m.fd, ptr(key), ptr(value), uint64(flags)))
}

// Update stores value under key. value is ValueBufferSize bytes; for a
// per-CPU map UpdatePerCPU also accepts a single value for all CPUs.
func (m *Map) Update(key, value []byte, flags Flags) error {
	if err := m.checkKey("update", key); err != nil {
		return err
	}
	if err := m.checkValue("update", value); err != nil {
		return err
	}
	return updateErr(sys.MapUpdateElem(m.fd, ptr(key), ptr(value), uint64(flags)))
}

// Delete removes key. A missing key gives an error wrapping ErrKeyNotExist.
func (m *Map) Delete(key []byte) error {
	if err := m.checkKey("delete", key); err != nil {
		return err
	}
	return deleteErr(sys.MapDeleteElem(m.fd, ptr(key)))
}

// LookupAndDelete copies the value under key into value and removes the
// key in one step (hash maps since Linux 5.14).
func (m *Map) LookupAndDelete(key, value []byte) error {
	if err := m.checkKey("lookup and delete", key); err != nil {
		return err
	}
	if err := m.checkValue("lookup and delete", value); err != nil {
		return err
	}
	return takeErr(sys.MapLookupAndDeleteElem(m.fd, ptr(key), ptr(value), 0))
}

// NextKey writes the key that follows key into next; a nil key asks for
// the first key. After the last key it fails wrapping unix.ENOENT. A key
// that is no longer in a hash map makes the kernel start over from the
// first key: iterate with All or Keys, which handle that.
func (m *Map) NextKey(key, next []byte) error {
	if key != nil {
		if err := m.checkKey("next key", key); err != nil {
			return err
		}
	}
	if len(next) != m.keySize {
		return m.sizeErr("next key", "next key", len(next), m.keySize)
	}
	return sys.MapGetNextKey(m.fd, ptr(key), ptr(next))
}

// Integer keys and values, little-endian (the host order of every
// architecture bpfmaps runs on) in 1, 2, 4 or 8 bytes.

func intSizeOK(n int) bool { return n == 1 || n == 2 || n == 4 || n == 8 }

// putInt stores v in the first n bytes of b, failing when it does not fit.
func (m *Map) putInt(op, what string, b *[8]byte, n int, v uint64) error {
	if !intSizeOK(n) {
		return fmt.Errorf("%s: %s: %ss are %d bytes, integer access needs 1, 2, 4 or 8", m, op, what, n)
	}
	if n < 8 && v>>(8*n) != 0 {
		return fmt.Errorf("%s: %s: %s %d does not fit in %d bytes", m, op, what, v, n)
	}
	binary.LittleEndian.PutUint64(b[:], v)
	return nil
}

func getInt(b *[8]byte) uint64 { return binary.LittleEndian.Uint64(b[:]) }

func (m *Map) intValue(op string) error {
	if m.ncpu > 0 {
		return fmt.Errorf("%s: %s: per-CPU map: use LookupPerCPU or UpdatePerCPU", m, op)
	}
	if !intSizeOK(m.valueSize) {
		return fmt.Errorf("%s: %s: values are %d bytes, integer access needs 1, 2, 4 or 8", m, op, m.valueSize)
	}
	return nil
}

// LookupInt returns the integer stored under the integer key.
func (m *Map) LookupInt(key uint64) (uint64, error) {
	var k, v [8]byte
	if err := m.putInt("lookup", "key", &k, m.keySize, key); err != nil {
		return 0, err
	}
	if err := m.intValue("lookup"); err != nil {
		return 0, err
	}
	if err := sys.MapLookupElem(m.fd, unsafe.Pointer(&k), unsafe.Pointer(&v), 0); err != nil {
		return 0, lookupErr(err)
	}
	return getInt(&v), nil
}

// UpdateInt stores the integer value under the integer key.
func (m *Map) UpdateInt(key, value uint64, flags Flags) error {
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
	return updateErr(sys.MapUpdateElem(m.fd, unsafe.Pointer(&k), unsafe.Pointer(&v), uint64(flags)))
}

// DeleteInt removes the integer key.
func (m *Map) DeleteInt(key uint64) error {
	var k [8]byte
	if err := m.putInt("delete", "key", &k, m.keySize, key); err != nil {
		return err
	}
	return deleteErr(sys.MapDeleteElem(m.fd, unsafe.Pointer(&k)))
}

// NextKeyInt returns the integer key after *key, or the first key when key
// is nil. After the last key it fails wrapping unix.ENOENT.
func (m *Map) NextKeyInt(key *uint64) (uint64, error) {
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
	return getInt(&next), nil
}

// Per-CPU maps.

// LookupPerCPU copies the value under key from every possible CPU into
// values, one 8-byte aligned slot of sys.PerCPUStride(ValueSize()) bytes per
// CPU: values must be ValueBufferSize bytes.
func (m *Map) LookupPerCPU(key, values []byte) error {
	if m.ncpu == 0 {
		return fmt.Errorf("%s: lookup per CPU: not a per-CPU map", m)
	}
	return m.Lookup(key, values)
}

// UpdatePerCPU stores values under key: either ValueSize bytes, copied to
// every CPU, or ValueBufferSize bytes, one slot per CPU.
func (m *Map) UpdatePerCPU(key, values []byte, flags Flags) error {
	if m.ncpu == 0 {
		return fmt.Errorf("%s: update per CPU: not a per-CPU map", m)
	}
	if len(values) == m.valueSize && len(values) != m.valueBuf {
		stride := sys.PerCPUStride(m.valueSize)
		all := make([]byte, m.valueBuf)
		for i := range m.ncpu {
			copy(all[i*stride:], values)
		}
		values = all
	}
	return m.Update(key, values, flags)
}

// Queues and stacks.

func (m *Map) checkQueue(op string, value []byte) error {
	if m.typ != unix.BPF_MAP_TYPE_QUEUE && m.typ != unix.BPF_MAP_TYPE_STACK {
		return fmt.Errorf("%s: %s: not a queue or stack", m, op)
	}
	return m.checkValue(op, value)
}

// Push appends value to a queue or stack. A full one gives an error
// wrapping ErrFull (unix.E2BIG), unless flags is Exist, which makes room by
// dropping the oldest element.
func (m *Map) Push(value []byte, flags Flags) error {
	if err := m.checkQueue("push", value); err != nil {
		return err
	}
	err := sys.MapUpdateElem(m.fd, nil, ptr(value), uint64(flags))
	if errno(err) == unix.E2BIG {
		return errPushFull
	}
	return err
}

// Pop removes the next element (the oldest of a queue, the newest of a
// stack) into value. An empty one gives an error wrapping ErrEmpty and
// unix.ENOENT.
func (m *Map) Pop(value []byte) error {
	if err := m.checkQueue("pop", value); err != nil {
		return err
	}
	err := sys.MapLookupAndDeleteElem(m.fd, nil, ptr(value), 0)
	if errno(err) == unix.ENOENT {
		return errPopEmpty
	}
	return err
}

// Peek copies the element Pop would remove into value, leaving it there.
func (m *Map) Peek(value []byte) error {
	if err := m.checkQueue("peek", value); err != nil {
		return err
	}
	err := sys.MapLookupElem(m.fd, nil, ptr(value), 0)
	if errno(err) == unix.ENOENT {
		return errPeekEmpty
	}
	return err
}

// Maps of maps.

func (m *Map) checkOuter(op string, key []byte) error {
	if m.typ != unix.BPF_MAP_TYPE_ARRAY_OF_MAPS && m.typ != unix.BPF_MAP_TYPE_HASH_OF_MAPS {
		return fmt.Errorf("%s: %s: not an array or hash of maps", m, op)
	}
	return m.checkKey(op, key)
}

// SetInner stores inner under key in an array or hash of maps. The outer
// map holds its own reference: inner may be closed afterwards.
func (m *Map) SetInner(key []byte, inner *Map, flags Flags) error {
	if err := m.checkOuter("set inner map", key); err != nil {
		return err
	}
	raw, err := inner.fd.Acquire()
	if err != nil {
		return fmt.Errorf("%s: set inner map: %w", m, err)
	}
	defer inner.fd.Release()
	v := uint32(raw)
	return updateErr(sys.MapUpdateElem(m.fd, ptr(key), unsafe.Pointer(&v), uint64(flags)))
}

// InnerID returns the id of the map stored under key in an array or hash
// of maps; OpenID opens it.
func (m *Map) InnerID(key []byte) (uint32, error) {
	if err := m.checkOuter("inner map id", key); err != nil {
		return 0, err
	}
	var id uint32
	if err := sys.MapLookupElem(m.fd, ptr(key), unsafe.Pointer(&id), 0); err != nil {
		return 0, lookupErr(err)
	}
	return id, nil
}

// OpenInner opens the map stored under key in an array or hash of maps.
func (m *Map) OpenInner(key []byte) (*Map, error) {
	id, err := m.InnerID(key)
	if err != nil {
		return nil, err
	}
	return OpenID(id)
}
