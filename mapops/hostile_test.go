package mapops_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// hostile is the table of hostile inputs: things a caller, another map or
// the machine can hand the library that once made it write past Go's
// memory, alias another map, or panic. Each row is answered by a named
// error (or by behaviour that stays inside the library's buffers), with
// descriptors counted before and after (start). Grow it: one row per
// hostile input, named area/what.
var hostile = []struct {
	name string
	run  func(t *testing.T)
}{
	// Batch counts (issue 22 A): the count told to the kernel must never
	// exceed the buffers it writes into.
	{"batch/n=MaxInt after a small batch", func(t *testing.T) { batchAfterSmall(t, 4, math.MaxInt) }},
	{"batch/n*keySize wraps to 2 (3-byte key)", func(t *testing.T) { batchAfterSmall(t, 3, 0x5555555555555556) }},
	{"batch/n=1<<32+1 is refused, not read as 1", batchBeyondU32},
	{"batch/negative n is refused", batchNegative},
	{"batch/n beyond max_entries is clamped", batchClamped},

	// Cursors (H): a Cursor belongs to one map.
	{"cursor/reused on a map with larger keys", cursorOtherMap},

	// Memory from mmap (I): a slice held across Close never aliases
	// another map.
	{"mmap/Memory held across Close", func(t *testing.T) { staleMemory(t, false) }},
	{"mmap/MemoryOf held across Close", func(t *testing.T) { staleMemory(t, true) }},
	{"mmap/Close unmaps the map, the collector the rest", mappingsReleased},

	// Per-CPU values (J): a possible-CPU file showing fewer CPUs than
	// the kernel has is refused, naming the file.
	{"percpu/possible file shows fewer CPUs (mount namespace)", possibleBelowVisible},

	// Nil receivers (F): errors wrapping os.ErrInvalid, never a panic.
	{"nil/Map methods", nilMap},
	{"nil/SetInner with a nil inner map", nilInner},
	{"nil/BatchLookup with a nil cursor", nilCursor},
}

func TestHostile(t *testing.T) {
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("panic: %v\n%s", r, debug.Stack())
				}
			}()
			h.run(t)
		})
	}
}

// canary is the byte guarded memory is filled with.
const canary = 0xa5

// guarded returns n bytes followed, in the same allocation, by a page of
// canary bytes the slice cannot reach (its capacity is n), and a function
// that counts the canary bytes overwritten since.
func guarded(n int) ([]byte, func() int) {
	buf := make([]byte, n+4096)
	for i := n; i < len(buf); i++ {
		buf[i] = canary
	}
	return buf[:n:n], func() int {
		hit := 0
		for _, b := range buf[n:] {
			if b != canary {
				hit++
			}
		}
		return hit
	}
}

// hashOf returns a hash of n entries with keySize-byte keys (key i holds
// i little-endian) and 8-byte values i.
func hashOf(t testing.TB, keySize, n int) *mapops.Map {
	t.Helper()
	testutil.RequireFeature(t, sys.HaveBatchOps)
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: uint32(keySize), ValueSize: 8,
		MaxEntries: uint32(n), Name: fmt.Sprintf("hostile_%d", os.Getpid()%100000)})
	key, val := make([]byte, keySize), make([]byte, 8)
	for i := range n {
		// Keys of 4 bytes and values are integers i in host order, as a
		// typed map decodes them; narrower keys only need to differ.
		if keySize >= 4 {
			binary.NativeEndian.PutUint32(key, uint32(i))
		} else {
			key[0], key[1] = byte(i), byte(i>>8)
		}
		binary.NativeEndian.PutUint64(val, uint64(i))
		if err := m.Update(key, val, mapops.Any); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// checkRoom fails the test when c would tell the kernel a count larger
// than its buffers hold.
func checkRoom(t testing.TB, c *mapops.Cursor, m *mapops.Map) {
	t.Helper()
	count, kr, vr := mapops.CursorState(c, m)
	if count > kr || count > vr {
		t.Errorf("the cursor tells the kernel %d entries, its buffers hold %d keys and %d values", count, kr, vr)
	}
}

// batchAfterSmall reads a small batch of a 64-entry hash into guarded
// buffers of 8 entries (room for the fullest bucket, so they are kept),
// then asks for n: the overflowing n must be refused, the canaries
// intact.
func batchAfterSmall(t *testing.T, keySize, n int) {
	start(t)
	m := hashOf(t, keySize, 64)
	var c mapops.Cursor
	in, inHit := guarded(max(keySize, 8))
	out, outHit := guarded(max(keySize, 8))
	keys, keysHit := guarded(8 * keySize)
	vals, valsHit := guarded(8 * 8)
	mapops.SeedCursor(&c, in, out, keys, vals)
	got, err := rawBatch(t, m, &c, 8)
	if err != nil || got < 1 || got > 8 { // whole hash buckets
		t.Fatalf("first batch of 8: %d entries, %v", got, err)
	}
	got, err = rawBatch(t, m, &c, n)
	if err == nil {
		t.Errorf("batch of %#x entries after one of 8: %d entries, no error", n, got)
	} else if !strings.Contains(err.Error(), "entries asked") {
		t.Errorf("batch of %#x entries: %v, want an error naming the count", n, err)
	}
	checkRoom(t, &c, m)
	for name, hit := range map[string]func() int{"in token": inHit, "out token": outHit, "keys": keysHit, "values": valsHit} {
		if h := hit(); h > 0 {
			t.Errorf("the kernel wrote %d bytes past the cursor's %s", h, name)
		}
	}
}

// rawBatch reads up to n entries of m, whatever its key size, through a
// Typed view of byte arrays of that size.
func rawBatch(t *testing.T, m *mapops.Map, c *mapops.Cursor, n int) (int, error) {
	t.Helper()
	switch m.KeySize() {
	case 3:
		return batchN[[3]byte](t, m, c, n)
	case 4:
		return batchN[[4]byte](t, m, c, n)
	case 32:
		return batchN[[32]byte](t, m, c, n)
	}
	t.Fatalf("no key type of %d bytes", m.KeySize())
	return 0, nil
}

func batchN[K any](t *testing.T, m *mapops.Map, c *mapops.Cursor, n int) (int, error) {
	tm, err := mapops.NewTyped[K, uint64](m, mapops.SkipBTFCheck())
	if err != nil {
		t.Fatal(err)
	}
	keys, _, err := tm.BatchLookup(c, nil, nil, n)
	return len(keys), err
}

func batchBeyondU32(t *testing.T) {
	start(t)
	m := hashOf(t, 4, 4)
	var c mapops.Cursor
	got, err := rawBatch(t, m, &c, 1<<32+1)
	if err == nil || !strings.Contains(err.Error(), "entries asked") {
		t.Errorf("batch of 1<<32+1 entries: %d entries, %v; want an error naming the count", got, err)
	}
	if _, kr, vr := mapops.CursorState(&c, m); kr > 4 || vr > 4 {
		t.Errorf("the cursor reserved %d keys and %d values for a 4-entry map", kr, vr)
	}
}

func batchNegative(t *testing.T) {
	start(t)
	m := hashOf(t, 4, 4)
	var c mapops.Cursor
	if got, err := rawBatch(t, m, &c, -1); err == nil || !strings.Contains(err.Error(), "entries asked") {
		t.Errorf("batch of -1 entries: %d entries, %v; want an error naming the count", got, err)
	}
}

func batchClamped(t *testing.T) {
	start(t)
	m := hashOf(t, 4, 64)
	var c mapops.Cursor
	total := 0
	for !c.Done() {
		got, err := rawBatch(t, m, &c, 64*1000)
		if err != nil {
			t.Fatal(err)
		}
		total += got
		checkRoom(t, &c, m)
		if count, kr, vr := mapops.CursorState(&c, m); count > 64 || kr > 64 || vr > 64 {
			t.Fatalf("batch of 64000 on a 64-entry map: count %d, room for %d keys and %d values; want at most 64", count, kr, vr)
		}
	}
	if total != 64 {
		t.Errorf("read %d entries, want 64", total)
	}
}

// cursorOtherMap uses a Cursor on a hash with 4-byte keys, then on an LPM
// trie with 32-byte keys, whose batch position token is a key: the kernel
// must never get the first map's 8-byte token.
func cursorOtherMap(t *testing.T) {
	start(t)
	small := hashOf(t, 4, 4)
	trie := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_LPM_TRIE, KeySize: 32, ValueSize: 8, MaxEntries: 4,
		Flags: unix.BPF_F_NO_PREALLOC, Name: "hostile_lpm"})
	key := binary.NativeEndian.AppendUint32(make([]byte, 0, 32), 8) // prefix length, host order
	key = key[:32]
	if err := trie.Update(key, make([]byte, 8), mapops.Any); err != nil {
		t.Fatal(err)
	}
	var c mapops.Cursor
	in, inHit := guarded(8)
	out, outHit := guarded(8)
	mapops.SeedCursor(&c, in, out, nil, nil)
	if _, err := rawBatch(t, small, &c, 2); err != nil {
		t.Fatal(err)
	}
	_, err := rawBatch(t, trie, &c, 4)
	if err == nil || !strings.Contains(err.Error(), "cursor belongs to") {
		t.Errorf("cursor of a 4-byte-key hash used on a 32-byte-key trie: %v; want an error naming the cursor's map", err)
	}
	if h := inHit() + outHit(); h > 0 {
		t.Errorf("the kernel wrote %d bytes past the cursor's 8-byte tokens", h)
	}
	// A reset cursor reads the other map.
	c = mapops.Cursor{}
	if got, err := rawBatch(t, trie, &c, 4); err != nil && !errors.Is(err, sys.ENOTSUPP) && !errors.Is(err, unix.EINVAL) || err == nil && got != 1 {
		t.Errorf("reset cursor on the trie: %d entries, %v; want 1", got, err)
	}
}

// staleMemory takes Memory (or MemoryOf) of an mmapable array, closes the
// map, maps a second one and writes through the first slice: the second
// map must not change, and the write must not fault.
func staleMemory(t *testing.T, typed bool) {
	start(t)
	testutil.RequireFeature(t, sys.HaveMmapableArray)
	spec := mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 512,
		Flags: unix.BPF_F_MMAPABLE, Name: "hostile_mmap"}
	first := create(t, spec)
	var stale []uint64
	if typed {
		var err error
		if stale, err = mapops.MemoryOf[uint64](first); err != nil {
			t.Fatal(err)
		}
	} else {
		mem, err := first.Memory()
		if err != nil {
			t.Fatal(err)
		}
		stale = bytesAsU64(mem)
	}
	stale[3] = 7
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if stale[3] != 0 {
		t.Errorf("after Close the held slice reads %d, want 0 (private memory)", stale[3])
	}
	// Map several more arrays: one of them is likely to land where the
	// first one was, if its address was given back.
	for range 8 {
		second := create(t, spec)
		if _, err := second.Memory(); err != nil {
			t.Fatal(err)
		}
		if err := writeNoFault(func() { stale[3] = 42 }); err != nil {
			t.Fatalf("write through a Memory slice held across Close: %v", err)
		}
		if v, err := second.LookupInt(3); err != nil || v != 0 {
			t.Fatalf("writing through the closed map's slice changed another map: element 3 is %d (%v), want 0", v, err)
		}
	}
}

// mappingsReleased checks in /proc/self/maps that Close takes the map's
// pages out of the process at once while a slice is still held, and that
// a Map dropped without Close is unmapped once nothing refers to its
// memory, so that mapped maps do not pile up.
func mappingsReleased(t *testing.T) {
	start(t)
	testutil.RequireFeature(t, sys.HaveMmapableArray)
	spec := mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 4096,
		Flags: unix.BPF_F_MMAPABLE, Name: "hostile_mmap"}
	before := bpfMappings(t)
	m := create(t, spec)
	mem, err := m.Memory()
	if err != nil {
		t.Fatal(err)
	}
	if got := bpfMappings(t); got != before+1 {
		t.Fatalf("%d bpf-map mappings after Memory, want %d", got, before+1)
	}
	m.Close()
	if got := bpfMappings(t); got != before {
		t.Errorf("%d bpf-map mappings after Close with the slice still held, want %d", got, before)
	}
	mem[0] = 1 // held: private memory now
	func() {
		dropped, err := mapops.Create(spec)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dropped.Memory(); err != nil {
			t.Fatal(err)
		}
		dropped.FD().Close() // the descriptor, not the Map: the mapping lives on
	}()
	if got := bpfMappings(t); got != before+1 {
		t.Fatalf("%d bpf-map mappings with a dropped Map's memory, want %d", got, before+1)
	}
	for i := 0; i < 50 && bpfMappings(t) != before; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if got := bpfMappings(t); got != before {
		t.Errorf("%d bpf-map mappings after the dropped Map was collected, want %d", got, before)
	}
	// The collector reuses the memory it got back as ordinary memory.
	for range 100 {
		b := make([]byte, 64<<10)
		b[len(b)-1] = 1
	}
	runtime.GC()
	runtime.KeepAlive(mem)
}

// bpfMappings counts the mappings of BPF maps in this process.
func bpfMappings(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "bpf-map")
}

func bytesAsU64(b []byte) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/8)
}

// writeNoFault runs f, turning a memory fault into an error.
func writeNoFault(f func()) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("fault: %v", r)
		}
	}()
	f()
	return nil
}

// possibleBelowVisible runs TestHostileChild in a mount namespace where
// /sys/devices/system/cpu/possible shows one CPU fewer than this process
// sees, as a container's virtualised sysfs can: a per-CPU map must be
// refused there, not sized for too few CPUs.
func possibleBelowVisible(t *testing.T) {
	start(t)
	n := runtime.NumCPU()
	if n < 2 {
		t.Log("one CPU: no possible list shows fewer")
		return
	}
	fake := filepath.Join(t.TempDir(), "possible")
	if err := os.WriteFile(fake, fmt.Appendf(nil, "0-%d\n", n-2), 0o644); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestHostileChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "BPFMAPS_HOSTILE_CHILD=possible:"+fake)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	switch {
	case err != nil && strings.Contains(string(out), "operation not permitted"):
		testutil.Skip(t, testutil.NoPrivilege, fmt.Sprintf("cannot make a mount namespace: %v", err))
	case err != nil:
		t.Errorf("per-CPU map under a possible file showing fewer CPUs: %v\n%s", err, out)
	case strings.Contains(string(out), "--- SKIP"):
		testutil.Skip(t, testutil.NoPrivilege, fmt.Sprintf("the child skipped:\n%s", out))
	case !strings.Contains(string(out), "--- PASS: TestHostileChild"):
		t.Errorf("the child did not run:\n%s", out)
	}
}

// TestHostileChild is the part of a hostile row that needs a process of
// its own (a mount namespace); it does nothing unless a row started it.
func TestHostileChild(t *testing.T) {
	what, fake, ok := strings.Cut(os.Getenv("BPFMAPS_HOSTILE_CHILD"), ":")
	if !ok || what != "possible" {
		return
	}
	const path = "/sys/devices/system/cpu/possible"
	if err := unix.Mount(fake, path, "", unix.MS_BIND, ""); err != nil {
		testutil.Skip(t, testutil.NoPrivilege, fmt.Sprintf("cannot bind-mount over %s: %v", path, err))
	}
	m, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_PERCPU_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 1,
		Name: "hostile_percpu"})
	if err == nil {
		defer m.Close()
		val, hit := guarded(m.ValueBufferSize())
		err := m.LookupPerCPU(make([]byte, 4), val)
		t.Fatalf("per-CPU map created with %s showing fewer CPUs than visible: %d-byte values; the kernel wrote %d bytes past them (lookup: %v)",
			path, len(val), hit(), err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Fatalf("per-CPU map with %s showing fewer CPUs than visible: %v, want an error naming the file", path, err)
	}
}

func nilMap(t *testing.T) {
	var m *mapops.Map
	b := make([]byte, 8)
	calls := map[string]func() error{
		"Close":           m.Close,
		"Lookup":          func() error { return m.Lookup(b, b) },
		"LookupFlags":     func() error { return m.LookupFlags(b, b, 0) },
		"Update":          func() error { return m.Update(b, b, 0) },
		"Delete":          func() error { return m.Delete(b) },
		"LookupAndDelete": func() error { return m.LookupAndDelete(b, b) },
		"NextKey":         func() error { return m.NextKey(nil, b) },
		"LookupInt":       func() error { _, err := m.LookupInt(1); return err },
		"UpdateInt":       func() error { return m.UpdateInt(1, 1, 0) },
		"DeleteInt":       func() error { return m.DeleteInt(1) },
		"NextKeyInt":      func() error { _, err := m.NextKeyInt(nil); return err },
		"LookupPerCPU":    func() error { return m.LookupPerCPU(b, b) },
		"UpdatePerCPU":    func() error { return m.UpdatePerCPU(b, b, 0) },
		"Push":            func() error { return m.Push(b, 0) },
		"Pop":             func() error { return m.Pop(b) },
		"Peek":            func() error { return m.Peek(b) },
		"Info":            func() error { _, err := m.Info(); return err },
		"Check":           func() error { return m.Check(mapops.Spec{}) },
		"Pin":             func() error { return m.Pin("x") },
		"Unpin":           m.Unpin,
		"Freeze":          m.Freeze,
		"Memory":          func() error { _, err := m.Memory(); return err },
		"MemoryOf":        func() error { _, err := mapops.MemoryOf[uint64](m); return err },
		"SetInner":        func() error { return m.SetInner(b, nil, 0) },
		"InnerID":         func() error { _, err := m.InnerID(b); return err },
		"OpenInner":       func() error { _, err := m.OpenInner(b); return err },
		"All": func() error {
			all, errf := m.All()
			for range all {
			}
			return errf()
		},
		"Keys": func() error {
			keys, errf := m.Keys()
			for range keys {
			}
			return errf()
		},
		"NewTyped": func() error { _, err := mapops.NewTyped[uint32, uint64](m); return err },
		"NewQueue": func() error { _, err := mapops.NewQueue[uint64](m); return err },
	}
	for name, call := range calls {
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("(*Map)(nil).%s panics: %v", name, r)
				}
			}()
			if err := call(); !errors.Is(err, os.ErrInvalid) {
				t.Errorf("(*Map)(nil).%s: %v, want an error wrapping os.ErrInvalid", name, err)
			}
		}()
	}
	// The accessors answer like a map of nothing, as os.File's do.
	if m.KeySize() != 0 || m.ValueSize() != 0 || m.MaxEntries() != 0 || m.FD() != nil || m.PerCPU() ||
		m.MemoryWritable() || m.String() == "" {
		t.Error("accessors of a nil *Map")
	}
}

func nilCursor(t *testing.T) {
	start(t)
	tm := typed[uint32, uint64](t, hashOf(t, 4, 4))
	if _, _, err := tm.BatchLookup(nil, nil, nil, 4); !errors.Is(err, os.ErrInvalid) {
		t.Errorf("BatchLookup(nil cursor): %v, want an error wrapping os.ErrInvalid", err)
	}
}

func nilInner(t *testing.T) {
	start(t)
	testutil.RequireBPF(t)
	inner := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 1, Name: "hostile_inner"})
	outer := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY_OF_MAPS, KeySize: 4, ValueSize: 4, MaxEntries: 1,
		InnerMap: inner, Name: "hostile_outer"})
	err := outer.SetInner(make([]byte, 4), nil, 0)
	if !errors.Is(err, os.ErrInvalid) || !strings.Contains(err.Error(), "inner") {
		t.Errorf("SetInner(nil): %v, want an error wrapping os.ErrInvalid naming the inner map", err)
	}
}

// FuzzBatchCount reads a 64-entry hash with BatchLookup in two calls of
// fuzzed counts, into cursor buffers of fuzzed room guarded by canaries
// and caller slices of fuzzed capacity: counts outside 0..MaxUint32 are
// refused, the kernel is never told more entries than the buffers hold,
// no canary is touched, and what is read is the map's.
func FuzzBatchCount(f *testing.F) {
	start(f)
	const entries = 64
	m := hashOf(f, 4, entries)
	tm := typed[uint32, uint64](f, m)
	f.Add(int64(2), int64(math.MaxInt64), uint16(2), uint16(2), uint16(0), uint16(0))
	f.Add(int64(1), int64(1<<32+1), uint16(1), uint16(1), uint16(4), uint16(4))
	f.Add(int64(-1), int64(0x5555555555555556), uint16(0), uint16(0), uint16(64), uint16(64))
	f.Add(int64(64000), int64(0), uint16(64), uint16(1), uint16(1), uint16(100))
	f.Fuzz(func(t *testing.T, first, second int64, keyRoom, valRoom, keysCap, valsCap uint16) {
		var c mapops.Cursor
		in, inHit := guarded(8)
		out, outHit := guarded(8)
		keys, keysHit := guarded(int(keyRoom) * 4)
		vals, valsHit := guarded(int(valRoom) * 8)
		mapops.SeedCursor(&c, in, out, keys, vals)
		seen := map[uint32]bool{}
		for _, n := range []int64{first, second} {
			ks, vs, err := tm.BatchLookup(&c, make([]uint32, 0, keysCap), make([]uint64, 0, valsCap), int(n))
			if bad := n < 0 || n > math.MaxUint32; bad != (err != nil) {
				t.Fatalf("batch of %d entries: %v", n, err)
			}
			if len(ks) != len(vs) {
				t.Fatalf("batch of %d entries: %d keys, %d values", n, len(ks), len(vs))
			}
			for i, k := range ks {
				if seen[k] || k >= entries || vs[i] != uint64(k) {
					t.Fatalf("batch of %d entries: key %d value %d (seen before: %v)", n, k, vs[i], seen[k])
				}
				seen[k] = true
			}
			checkRoom(t, &c, m)
			for name, hit := range map[string]func() int{"in token": inHit, "out token": outHit, "keys": keysHit, "values": valsHit} {
				if h := hit(); h > 0 {
					t.Fatalf("batch of %d entries: the kernel wrote %d bytes past the cursor's %s", n, h, name)
				}
			}
		}
	})
}
