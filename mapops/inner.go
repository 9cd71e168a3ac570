package mapops

import (
	"cmp"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

// Maps of maps.

// SetInner stores inner under key in an array or hash of maps. The outer
// map holds its own reference: inner may be closed afterwards.
func (m *Map) SetInner(key []byte, inner *Map, flags Flags) error {
	if err := m.checkOuter("set inner map", key); err != nil {
		return err
	}
	if inner == nil {
		return &sys.OpError{Object: m.String(), Op: "set inner map", Err: fmt.Errorf("inner map is nil: %w", os.ErrInvalid)}
	}
	raw, err := inner.fd.Acquire()
	if err != nil {
		return &sys.OpError{Object: m.String(), Op: "set inner map", Err: err}
	}
	defer inner.fd.Release()
	v := uint32(raw)
	err = sys.MapUpdateElem(m.fd, ptr(key), unsafe.Pointer(&v), uint64(flags))
	if errno(err) == unix.EINVAL && flags&^(NoExist|Exist) == 0 {
		// The kernel compares inner with the outer map's template and
		// says only EINVAL when they differ.
		return fmt.Errorf("%s: set inner map: %s does not match the template the outer map was created with "+
			"(type, key size, value size and flags must be the template's; max_entries too unless the template has BPF_F_INNER_MAP): %w",
			m, inner, err)
	}
	return m.elemErr(opUpdate, err, ptr(key), flags)
}

// InnerID returns the id of the map stored under key in an array or hash
// of maps; OpenID opens it.
func (m *Map) InnerID(key []byte) (uint32, error) {
	if err := m.checkOuter("inner map id", key); err != nil {
		return 0, err
	}
	var id uint32
	if err := sys.MapLookupElem(m.fd, ptr(key), unsafe.Pointer(&id), 0); err != nil {
		return 0, m.elemErr(opLookup, err, ptr(key), 0)
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

func (m *Map) checkOuter(op string, key []byte) error {
	return cmp.Or(m.checkType(op, "an array or hash of maps", unix.BPF_MAP_TYPE_ARRAY_OF_MAPS, unix.BPF_MAP_TYPE_HASH_OF_MAPS),
		m.checkKey(op, key))
}
