package main

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// valueBuf returns a buffer for one lookup: the value size, or one 8-byte
// aligned slot per possible CPU for per-CPU maps.
func (m *bpfMap) valueBuf() ([]byte, error) {
	if !m.perCPU() {
		return make([]byte, m.info.ValueSize), nil
	}
	n, err := sys.PerCPUValueSize(int(m.info.ValueSize))
	if err != nil {
		return nil, err
	}
	return make([]byte, n), nil
}

// cpuValues splits a per-CPU lookup buffer into one value per CPU; for
// other maps it returns the buffer alone.
func (m *bpfMap) cpuValues(buf []byte) [][]byte {
	if !m.perCPU() {
		return [][]byte{buf}
	}
	size, stride := int(m.info.ValueSize), sys.PerCPUStride(int(m.info.ValueSize))
	var out [][]byte
	for off := 0; off+size <= len(buf); off += stride {
		out = append(out, buf[off:off+size])
	}
	return out
}

// lookup returns the value under key, one slice per CPU for per-CPU maps.
func (m *bpfMap) lookup(key []byte) ([][]byte, error) {
	buf, err := m.valueBuf()
	if err != nil {
		return nil, err
	}
	if err := sys.MapLookupElem(m.fd, ptr(key), ptr(buf), 0); err != nil {
		return nil, err
	}
	return m.cpuValues(buf), nil
}

// update stores value under key; per-CPU maps get value on every CPU.
func (m *bpfMap) update(key, value []byte, flags uint64) error {
	if m.perCPU() {
		buf, err := m.valueBuf()
		if err != nil {
			return err
		}
		for _, slot := range m.cpuValues(buf) {
			copy(slot, value)
		}
		value = buf
	}
	return sys.MapUpdateElem(m.fd, ptr(key), ptr(value), flags)
}

// nextKey returns the key after key (the first one for nil); nil at the end.
func (m *bpfMap) nextKey(key []byte) ([]byte, error) {
	next := make([]byte, m.info.KeySize)
	err := sys.MapGetNextKey(m.fd, ptr(key), ptr(next))
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	return next, err
}

// entry is one key and its value (one per CPU for per-CPU maps).
type entry struct {
	key    []byte
	values [][]byte
}

// entries reads every entry with get_next_key and lookup. A key deleted
// between the two calls is left out.
func (m *bpfMap) entries() ([]entry, error) {
	var out []entry
	var key []byte
	for {
		next, err := m.nextKey(key)
		if err != nil {
			return nil, m.wrap("dump", err)
		}
		if next == nil {
			return out, nil
		}
		values, err := m.lookup(next)
		if errors.Is(err, unix.ENOENT) {
			key = next
			continue
		}
		if err != nil {
			return nil, m.wrap("dump", err)
		}
		out = append(out, entry{next, values})
		key = next
		if len(out) > int(m.info.MaxEntries)+1 && m.info.MaxEntries > 0 {
			return nil, m.wrap("dump", fmt.Errorf("more keys than max_entries (%d): the map changed under the walk", m.info.MaxEntries))
		}
	}
}
