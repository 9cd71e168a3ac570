package sys_test

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// The raw benchmarks are the floor: a hand-written bpf(2) call with a
// preallocated attribute, nothing else. The Sys benchmarks run the same
// command through the wrapper; the ratio between the two is the wrapper's
// cost.

type rawElemAttr struct {
	mapFD uint32
	_     uint32
	key   uint64
	value uint64
	flags uint64
}

func benchMap(b *testing.B) (*sys.FD, *uint32, *uint64) {
	testutil.RequireBPF(b)
	m := newMap(b, unix.BPF_MAP_TYPE_HASH, 4, 8, 16, 0)
	key, val := new(uint32), new(uint64)
	*key, *val = 1, 2
	if err := sys.MapUpdateElem(m, unsafe.Pointer(key), unsafe.Pointer(val), unix.BPF_ANY); err != nil {
		b.Fatal(err)
	}
	return m, key, val
}

func benchRaw(b *testing.B, cmd uintptr) {
	m, key, val := benchMap(b)
	attr := &rawElemAttr{mapFD: uint32(m.Int()), key: uint64(uintptr(unsafe.Pointer(key))),
		value: uint64(uintptr(unsafe.Pointer(val)))}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, _, errno := unix.Syscall(unix.SYS_BPF, cmd, uintptr(unsafe.Pointer(attr)), unsafe.Sizeof(*attr)); errno != 0 {
			b.Fatal(errno)
		}
	}
}

func BenchmarkRawLookup(b *testing.B) { benchRaw(b, unix.BPF_MAP_LOOKUP_ELEM) }
func BenchmarkRawUpdate(b *testing.B) { benchRaw(b, unix.BPF_MAP_UPDATE_ELEM) }

func BenchmarkSysLookup(b *testing.B) {
	m, key, val := benchMap(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := sys.MapLookupElem(m, unsafe.Pointer(key), unsafe.Pointer(val), 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSysUpdate(b *testing.B) {
	m, key, val := benchMap(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := sys.MapUpdateElem(m, unsafe.Pointer(key), unsafe.Pointer(val), unix.BPF_ANY); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSysLookupMiss shows that a missed lookup, the common case of a
// watcher polling for a key, allocates nothing either.
func BenchmarkSysLookupMiss(b *testing.B) {
	m, _, val := benchMap(b)
	missing := uint32(99)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := sys.MapLookupElem(m, unsafe.Pointer(&missing), unsafe.Pointer(val), 0); err == nil {
			b.Fatal("found")
		}
	}
}
