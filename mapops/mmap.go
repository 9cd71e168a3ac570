package mapops

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/structcodec"
	"github.com/bpfmaps/bpfmaps/sys"
)

// Memory returns the values of an array created with unix.BPF_F_MMAPABLE,
// mapped into this process: element i is the ValueSize bytes at
// i*sys.ValueStride(ValueSize()). Reads and writes go straight to the
// kernel's memory, without system calls, and see BPF programs' writes at
// once (use sync/atomic on aligned words where that matters).
//
// The mapping is made once and lives until Close; do not use the slice
// after Close. It is writable unless the map was frozen before the first
// call, in which case it is read-only and writing to it faults
// (MemoryWritable reports which). While a writable mapping exists, Freeze
// fails with EBUSY.
func (m *Map) Memory() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("%s: memory: %w", m, os.ErrClosed)
	}
	if m.mem != nil {
		return m.mem[:m.memLen()], nil
	}
	if m.typ != unix.BPF_MAP_TYPE_ARRAY || m.flags&unix.BPF_F_MMAPABLE == 0 {
		return nil, fmt.Errorf("%s: memory: only arrays created with BPF_F_MMAPABLE can be mapped", m)
	}
	page := os.Getpagesize()
	size := (m.memLen() + page - 1) / page * page
	raw, err := m.fd.Acquire()
	if err != nil {
		return nil, fmt.Errorf("%s: memory: %w", m, err)
	}
	defer m.fd.Release()
	mem, err := unix.Mmap(raw, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	rw := true
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) { // frozen
		mem, err = unix.Mmap(raw, 0, size, unix.PROT_READ, unix.MAP_SHARED)
		rw = false
	}
	if err != nil {
		return nil, fmt.Errorf("%s: memory: mmap: %w", m, err)
	}
	m.mem, m.memRW = mem, rw
	return mem[:m.memLen()], nil
}

func (m *Map) memLen() int { return sys.ValueStride(m.valueSize) * int(m.maxEntries) }

// MemoryWritable reports whether the slice Memory returned may be written.
func (m *Map) MemoryWritable() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mem != nil && m.memRW
}

// MemoryOf returns Memory as a slice of MaxEntries values of V, for a V
// whose Go memory is its C layout and whose size is the array's element
// stride (ValueSize rounded up to 8): uint64, [2]uint32, a struct of
// uint64 counters, …
func MemoryOf[V any](m *Map) ([]V, error) {
	vc, err := structcodec.For[V]()
	if err != nil {
		return nil, fmt.Errorf("%s: memory: %w", m, err)
	}
	p := vc.Layout().Plan()
	size := unsafe.Sizeof(*new(V))
	if err := vc.Layout().RawError(); err != nil {
		return nil, fmt.Errorf("%s: memory: %v cannot overlay the map's values: %w", m, vc.Layout().Type(), err)
	}
	if p.Size != m.valueSize || int(size) != sys.ValueStride(m.valueSize) {
		return nil, fmt.Errorf("%s: memory: %v (%d bytes) cannot overlay values of %d bytes in %d-byte slots",
			m, vc.Layout().Type(), size, m.valueSize, sys.ValueStride(m.valueSize))
	}
	mem, err := m.Memory()
	if err != nil {
		return nil, err
	}
	return unsafe.Slice((*V)(unsafe.Pointer(unsafe.SliceData(mem))), m.maxEntries), nil
}
