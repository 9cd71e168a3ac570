package main

import (
	"errors"
	"fmt"

	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// cpuValues splits a value buffer into one value per CPU for per-CPU maps;
// for other maps it returns the buffer alone.
func (m *bpfMap) cpuValues(buf []byte) [][]byte {
	if !m.PerCPU() {
		return [][]byte{buf}
	}
	size, stride := m.ValueSize(), sys.ValueStride(m.ValueSize())
	var out [][]byte
	for off := 0; off+size <= len(buf); off += stride {
		out = append(out, buf[off:off+size])
	}
	return out
}

// lookup returns the value under key, one slice per CPU for per-CPU maps.
func (m *bpfMap) lookup(key []byte) ([][]byte, error) {
	buf := make([]byte, m.ValueBufferSize())
	if err := m.Lookup(key, buf); err != nil {
		return nil, err
	}
	return m.cpuValues(buf), nil
}

// update stores value under key; per-CPU maps get value on every CPU.
func (m *bpfMap) update(key, value []byte, flags mapops.Flags) error {
	if m.PerCPU() {
		return m.UpdatePerCPU(key, value, flags)
	}
	return m.Update(key, value, flags)
}

// entry is one key and its value (one per CPU for per-CPU maps).
type entry struct {
	key    []byte
	values [][]byte
}

// entries reads every entry through mapops' iterator, which uses the batch
// commands where the kernel has them and copes with keys deleted under it.
func (m *bpfMap) entries() ([]entry, error) {
	var out []entry
	all, errf := m.All()
	for k, v := range all {
		out = append(out, entry{append([]byte(nil), k...), m.cpuValues(append([]byte(nil), v...))})
	}
	if err := errf(); err != nil {
		return nil, m.wrap("dump", err)
	}
	return out, nil
}

// isEmpty reports whether err says a queue or stack is empty.
func isEmpty(err error) bool { return errors.Is(err, sys.ErrEmpty) }

// readable fails for the map types whose elements cannot be read one by
// one, saying what to use instead; op is the command ("dump", "get").
func (m *bpfMap) readable(op string) error {
	if f, _ := m.info.Type.Facts(); f.Instead != "" {
		return fmt.Errorf("%s: %s: %s cannot be read element by element: %s", m, op, m.aType(), f.Instead)
	}
	return nil
}

// writable fails for the map types whose values are descriptors.
func (m *bpfMap) writable(op string) error {
	if f, _ := m.info.Type.Facts(); f.Value == sys.ValueFD {
		return fmt.Errorf("%s: %s: the values of %s are %s descriptors of the process that stores them, "+
			"which bpfmaps does not have: store them from the program that opened them", m, op, m.aType(), f.FDKind)
	}
	return nil
}
