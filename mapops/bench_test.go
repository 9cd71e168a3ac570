package mapops_test

import (
	"slices"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// Each Typed benchmark sits next to its floor, Raw: the same command as a
// hand-written bpf(2) call with a preallocated attribute and the key and
// value already in C layout. The ratio Typed/Raw is what mapops costs.
// Paired runs both in alternating rounds and reports that ratio directly,
// which stays steady on a shared machine where separate runs drift:
//
//	go test -run '^$' -bench . -benchmem -count 6 ./mapops/

// rawElemAttr is the element part of union bpf_attr. The pointers are
// unsafe.Pointer so that the garbage collector keeps key and value alive.
type rawElemAttr struct {
	mapFD uint32
	_     uint32
	key   unsafe.Pointer
	value unsafe.Pointer
	flags uint64
}

// rawOp returns one hand-written bpf(2) call of cmd on m with key and
// value, through a preallocated attribute.
func rawOp(b *testing.B, m *mapops.Map, cmd uintptr, key, value unsafe.Pointer, flags uint64) func() {
	attr := &rawElemAttr{mapFD: uint32(m.FD().Int()), key: key, value: value, flags: flags}
	return func() {
		if _, _, errno := unix.Syscall(unix.SYS_BPF, cmd, uintptr(unsafe.Pointer(attr)), unsafe.Sizeof(*attr)); errno != 0 {
			b.Fatal(errno)
		}
	}
}

// loop runs op b.N times.
func loop(b *testing.B, op func()) {
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		op()
	}
}

// paired runs the floor and mapops in alternating rounds of 100 calls, so
// that both see the same machine (shared CI machines drift by tens of
// percent between runs, and within a run in bursts), and reports each
// one's time per call and their ratio: the median of the rounds' ratios,
// which a burst that hits a few rounds does not move; b.N counts pairs of
// calls.
func paired(b *testing.B, raw, lib func()) {
	const round = 100
	var rawTime, libTime time.Duration
	ratios := make([]float64, 0, b.N/round+1)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += round {
		n := min(round, b.N-done)
		t0 := time.Now()
		for range n {
			raw()
		}
		t1 := time.Now()
		for range n {
			lib()
		}
		t2 := time.Now()
		rawTime += t1.Sub(t0)
		libTime += t2.Sub(t1)
		ratios = append(ratios, float64(t2.Sub(t1))/float64(t1.Sub(t0)))
	}
	b.StopTimer()
	slices.Sort(ratios)
	b.ReportMetric(float64(rawTime.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(libTime.Nanoseconds())/float64(b.N), "mapops-ns/op")
	b.ReportMetric(ratios[len(ratios)/2], "ratio")
}

// floorAndTyped runs the three sub-benchmarks of one operation: Raw (the
// floor), Typed (mapops) and Paired (both alternating, with their ratio).
// setup creates a fresh map for each and returns the two operations.
func floorAndTyped(b *testing.B, setup func(b *testing.B) (raw, typed func())) {
	b.Run("Raw", func(b *testing.B) {
		raw, _ := setup(b)
		loop(b, raw)
	})
	b.Run("Typed", func(b *testing.B) {
		_, typed := setup(b)
		loop(b, typed)
	})
	b.Run("Paired", func(b *testing.B) {
		raw, typed := setup(b)
		paired(b, raw, typed)
	})
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
	floorAndTyped(b, func(b *testing.B) (func(), func()) {
		tm := benchU32Map(b)
		key, val := new(uint32), new(uint64)
		*key = 1
		raw := rawOp(b, tm.Map(), unix.BPF_MAP_LOOKUP_ELEM, unsafe.Pointer(key), unsafe.Pointer(val), 0)
		return raw, func() {
			if _, err := tm.Lookup(1); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkUpdateU32(b *testing.B) {
	floorAndTyped(b, func(b *testing.B) (func(), func()) {
		tm := benchU32Map(b)
		key, val := new(uint32), new(uint64)
		*key, *val = 1, 3
		raw := rawOp(b, tm.Map(), unix.BPF_MAP_UPDATE_ELEM, unsafe.Pointer(key), unsafe.Pointer(val), unix.BPF_ANY)
		return raw, func() {
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
	floorAndTyped(b, func(b *testing.B) (func(), func()) {
		start(b)
		m := create(b, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 40, ValueSize: 32, MaxEntries: 16})
		tm := typed[flowKey, flowStats](b, m)
		k := flowKey{SrcPort: 443, DstPort: 50000, Proto: 6}
		k.Src[15], k.Dst[15] = 1, 2
		if err := tm.Update(k, flowStats{Packets: 1, Bytes: 1500}, mapops.Any); err != nil {
			b.Fatal(err)
		}
		// The floor has the key in C layout already (the swaps done once).
		key, val := new([40]byte), new([32]byte)
		if err := m.NextKey(nil, key[:]); err != nil {
			b.Fatal(err)
		}
		raw := rawOp(b, m, unix.BPF_MAP_LOOKUP_ELEM, unsafe.Pointer(key), unsafe.Pointer(val), 0)
		v := new(flowStats)
		return raw, func() {
			if err := tm.LookupInto(k, v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkLookupPerCPU(b *testing.B) {
	floorAndTyped(b, func(b *testing.B) (func(), func()) {
		start(b)
		m := create(b, mapops.Spec{Type: unix.BPF_MAP_TYPE_PERCPU_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 16})
		tm := typed[uint32, uint64](b, m)
		if err := tm.UpdatePerCPU(1, []uint64{7}, mapops.Any); err != nil {
			b.Fatal(err)
		}
		size, err := sys.PerCPUValueSize(8)
		if err != nil {
			b.Fatal(err)
		}
		key, raws := new(uint32), make([]byte, size)
		*key = 1
		raw := rawOp(b, m, unix.BPF_MAP_LOOKUP_ELEM, unsafe.Pointer(key), unsafe.Pointer(&raws[0]), 0)
		vals := make([]uint64, tm.PossibleCPUs())
		return raw, func() {
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

// BenchmarkBatchLookup dumps a 100,000-entry hash with BatchLookup into
// slices of capacity 4096; times and allocations are per dump.
func BenchmarkBatchLookup(b *testing.B) {
	tm := dumpMap(b)
	keys, vals := make([]uint32, 0, 4096), make([]uint64, 0, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if n, _, err := dump(tm, keys, vals); err != nil || n != dumpEntries {
			b.Fatalf("dump: %d, %v", n, err)
		}
	}
}

// BenchmarkDeleteUpdateU32 deletes a key and stores it again: Typed.Delete
// + Typed.Update against the raw delete + update pair.
func BenchmarkDeleteUpdateU32(b *testing.B) {
	floorAndTyped(b, func(b *testing.B) (func(), func()) {
		tm := benchU32Map(b)
		key, val := new(uint32), new(uint64)
		*key, *val = 1, 3
		del := rawOp(b, tm.Map(), unix.BPF_MAP_DELETE_ELEM, unsafe.Pointer(key), nil, 0)
		upd := rawOp(b, tm.Map(), unix.BPF_MAP_UPDATE_ELEM, unsafe.Pointer(key), unsafe.Pointer(val), unix.BPF_ANY)
		return func() { del(); upd() }, func() {
			if err := tm.Delete(1); err != nil {
				b.Fatal(err)
			}
			if err := tm.Update(1, 3, mapops.Any); err != nil {
				b.Fatal(err)
			}
		}
	})
}
