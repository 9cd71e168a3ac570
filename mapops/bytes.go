package mapops

import (
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
	NoExist Flags = unix.BPF_NOEXIST // create only: sys.ErrKeyExist if present
	Exist   Flags = unix.BPF_EXIST   // replace only: sys.ErrKeyNotExist if absent
	Lock    Flags = unix.BPF_F_LOCK  // copy under the value's bpf_spin_lock
)

// ptr returns a pointer to b's first byte, or nil for an empty slice.
func ptr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

func (m *Map) checkKey(op string, key []byte) error {
	if m == nil {
		return nilMap(op)
	}
	if len(key) != m.keySize {
		return m.sizeErr(op, "key", len(key), m.keySize)
	}
	return nil
}

// checkBoth checks key and value.
func (m *Map) checkBoth(op string, key, value []byte) error {
	if err := m.checkKey(op, key); err != nil {
		return err
	}
	return m.checkValue(op, value)
}

func (m *Map) checkValue(op string, value []byte) error {
	if m == nil {
		return nilMap(op)
	}
	if len(value) != m.valueBuf {
		return m.sizeErr(op, "value", len(value), m.valueBuf)
	}
	return nil
}

// Lookup copies the value stored under key into value, which must be
// ValueBufferSize bytes: for per-CPU maps, one 8-byte aligned slot per
// possible CPU. A missing key gives an error wrapping sys.ErrKeyNotExist.
func (m *Map) Lookup(key, value []byte) error { return m.LookupFlags(key, value, 0) }

// LookupFlags is Lookup with flags (Lock).
func (m *Map) LookupFlags(key, value []byte, flags Flags) error {
	if err := m.checkBoth("lookup", key, value); err != nil {
		return err
	}
	return m.elemErr(opLookup, sys.MapLookupElem(m.fd, ptr(key), ptr(value), uint64(flags)), ptr(key), flags)
}

// Update stores value under key. value is ValueBufferSize bytes; for a
// per-CPU map UpdatePerCPU also accepts a single value for all CPUs.
func (m *Map) Update(key, value []byte, flags Flags) error {
	if err := m.checkBoth("update", key, value); err != nil {
		return err
	}
	return m.elemErr(opUpdate, sys.MapUpdateElem(m.fd, ptr(key), ptr(value), uint64(flags)), ptr(key), flags)
}

// Delete removes key. A missing key gives an error wrapping sys.ErrKeyNotExist.
func (m *Map) Delete(key []byte) error {
	if err := m.checkKey("delete", key); err != nil {
		return err
	}
	return m.elemErr(opDelete, sys.MapDeleteElem(m.fd, ptr(key)), ptr(key), 0)
}

// LookupAndDelete copies the value under key into value and removes the
// key in one step (hash maps since Linux 5.14).
func (m *Map) LookupAndDelete(key, value []byte) error {
	if err := m.checkBoth("lookup and delete", key, value); err != nil {
		return err
	}
	return m.elemErr(opLookupAndDelete, sys.MapLookupAndDeleteElem(m.fd, ptr(key), ptr(value), 0), ptr(key), 0)
}

// NextKey writes the key that follows key into next; a nil key asks for
// the first key. After the last key it fails wrapping unix.ENOENT. A key
// that is no longer in a hash map makes the kernel start over from the
// first key: iterate with All or Keys, which handle that.
func (m *Map) NextKey(key, next []byte) error {
	if m == nil {
		return nilMap("next key")
	}
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
