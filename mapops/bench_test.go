package mapops_test

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// Each Typed benchmark sits next to its floor, Raw: the same command as a
// hand-written bpf(2) call with a preallocated attribute and the key and
// value already in C layout. The ratio Typed/Raw is what mapops costs:
//
//	go test -run '^$' -bench . -benchmem -count 6 ./mapops/

// rawElemAttr is the element part of union bpf_attr.
type rawElemAttr struct {
	mapFD uint32
	_     uint32
	key   uint64
	value uint64
	flags uint64
}

// rawElem runs cmd on m with key and value b.N times.
func rawElem(b *testing.B, m *mapops.Map, cmd uintptr, key, value unsafe.Pointer, flags uint64) {
	attr := &rawElemAttr{mapFD: uint32(m.FD().Int()), key: uint64(uintptr(key)), value: uint64(uintptr(value)), flags: flags}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, _, errno := unix.Syscall(unix.SYS_BPF, cmd, uintptr(unsafe.Pointer(attr)), unsafe.Sizeof(*attr)); errno != 0 {
			b.Fatal(errno)
		}
	}
}

func benchU32Map(b *testing.B) *mapops.Typed[uint32, uint64] {
	start(b)
	tm := typed[uint32, uint64](b, create(b, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 16}))
	if err := tm.Update(1, 2, mapops.Any); err != nil {
		b.Fatal(err)
	}
	return tm
}

func BenchmarkLookupU32(b *testing.B) {
	b.Run("Raw", func(b *testing.B) {
		tm := benchU32Map(b)
		key, val := uint32(1), uint64(0)
		rawElem(b, tm.Map(), unix.BPF_MAP_LOOKUP_ELEM, unsafe.Pointer(&key), unsafe.Pointer(&val), 0)
	})
	b.Run("Typed", func(b *testing.B) {
		tm := benchU32Map(b)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if _, err := tm.Lookup(1); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkUpdateU32(b *testing.B) {
	b.Run("Raw", func(b *testing.B) {
		tm := benchU32Map(b)
		key, val := uint32(1), uint64(3)
		rawElem(b, tm.Map(), unix.BPF_MAP_UPDATE_ELEM, unsafe.Pointer(&key), unsafe.Pointer(&val), unix.BPF_ANY)
	})
	b.Run("Typed", func(b *testing.B) {
		tm := benchU32Map(b)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := tm.Update(1, 3, mapops.Any); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLookupStruct looks up flowKey (40 bytes, two big-endian
// fields) to flowStats (32 bytes, inner padding and a bool), the structs of
// TestTypedStructs.
func BenchmarkLookupStruct(b *testing.B) {
	setup := func(b *testing.B) (*mapops.Typed[flowKey, flowStats], flowKey) {
		start(b)
		m := create(b, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 40, ValueSize: 32, MaxEntries: 16})
		tm := typed[flowKey, flowStats](b, m)
		k := flowKey{SrcPort: 443, DstPort: 50000, Proto: 6}
		k.Src[15], k.Dst[15] = 1, 2
		if err := tm.Update(k, flowStats{Packets: 1, Bytes: 1500}, mapops.Any); err != nil {
			b.Fatal(err)
		}
		return tm, k
	}
	b.Run("Raw", func(b *testing.B) {
		tm, _ := setup(b)
		// The floor has the key in C layout already (the swaps done once).
		var key [40]byte
		if err := tm.Map().NextKey(nil, key[:]); err != nil {
			b.Fatal(err)
		}
		var val [32]byte
		rawElem(b, tm.Map(), unix.BPF_MAP_LOOKUP_ELEM, unsafe.Pointer(&key), unsafe.Pointer(&val), 0)
	})
	b.Run("Typed", func(b *testing.B) {
		tm, k := setup(b)
		var v flowStats
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := tm.LookupInto(k, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkLookupPerCPU(b *testing.B) {
	setup := func(b *testing.B) *mapops.Typed[uint32, uint64] {
		start(b)
		m := create(b, mapops.Spec{Type: unix.BPF_MAP_TYPE_PERCPU_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 16})
		tm := typed[uint32, uint64](b, m)
		if err := tm.UpdatePerCPU(1, []uint64{7}, mapops.Any); err != nil {
			b.Fatal(err)
		}
		return tm
	}
	b.Run("Raw", func(b *testing.B) {
		tm := setup(b)
		key := uint32(1)
		size, err := sys.PerCPUValueSize(8)
		if err != nil {
			b.Fatal(err)
		}
		vals := make([]byte, size)
		rawElem(b, tm.Map(), unix.BPF_MAP_LOOKUP_ELEM, unsafe.Pointer(&key), unsafe.Pointer(&vals[0]), 0)
	})
	b.Run("Typed", func(b *testing.B) {
		tm := setup(b)
		vals := make([]uint64, tm.PossibleCPUs())
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := tm.LookupPerCPU(1, vals); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkIterate walks a hash map of 100,000 entries. NextKeyLoop is
// what a program without batch commands does: get_next_key and a lookup
// per key, through sys with reused buffers. All is mapops' default walk.
// Times are per walk; the ratio NextKeyLoop/All is the speed-up.
func BenchmarkIterate(b *testing.B) {
	const n = 100_000
	setup := func(b *testing.B) *mapops.Typed[uint32, uint64] {
		start(b)
		m := create(b, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: n})
		tm := typed[uint32, uint64](b, m)
		keys, vals := make([]uint32, n), make([]uint64, n)
		for i := range keys {
			keys[i], vals[i] = uint32(i), uint64(i)
		}
		if _, err := tm.BatchUpdate(keys, vals, mapops.Any); err != nil {
			b.Fatal(err)
		}
		return tm
	}
	b.Run("NextKeyLoop", func(b *testing.B) {
		tm := setup(b)
		fd := tm.Map().FD()
		var key, next uint32
		var val uint64
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			count := 0
			prev := unsafe.Pointer(nil)
			for {
				err := sys.MapGetNextKey(fd, prev, unsafe.Pointer(&next))
				if err != nil {
					break
				}
				key = next
				prev = unsafe.Pointer(&key)
				if err := sys.MapLookupElem(fd, unsafe.Pointer(&key), unsafe.Pointer(&val), 0); err != nil {
					b.Fatal(err)
				}
				count++
			}
			if count != n {
				b.Fatalf("walked %d entries", count)
			}
		}
	})
	b.Run("All", func(b *testing.B) {
		tm := setup(b)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			count := 0
			all, errf := tm.All()
			for range all {
				count++
			}
			if err := errf(); err != nil || count != n {
				b.Fatalf("walked %d entries: %v", count, err)
			}
		}
	})
}
