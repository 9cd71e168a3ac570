package mapops_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/structcodec"
	"github.com/bpfmaps/bpfmaps/sys"
)

// flowKey is a 40-byte C struct with network-order ports.
type flowKey struct {
	Src, Dst [16]byte
	SrcPort  uint16 `bpf:"be"`
	DstPort  uint16 `bpf:"be"`
	Proto    uint8
	Flags    uint8
	Zone     uint16
}

// flowStats is a 32-byte C struct with a bool and inner padding.
type flowStats struct {
	Packets, Bytes uint64
	FirstSeen      uint32
	Active         bool
	LastSeen       uint64
}

func TestTypedStructs(t *testing.T) {
	start(t)
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 40, ValueSize: 32, MaxEntries: 8})
	flows := typed[flowKey, flowStats](t, m)
	k := flowKey{Src: [16]byte{10, 0, 0, 1}, Dst: [16]byte{10, 0, 0, 2}, SrcPort: 0x1234, DstPort: 443, Proto: 6, Zone: 7}
	v := flowStats{Packets: 3, Bytes: 4500, FirstSeen: 99, Active: true, LastSeen: 1 << 40}

	if _, err := flows.Lookup(k); !errors.Is(err, sys.ErrKeyNotExist) {
		t.Errorf("lookup of a missing key: %v", err)
	}
	if err := flows.Update(k, v, mapops.NoExist); err != nil {
		t.Fatal(err)
	}
	got, err := flows.Lookup(k)
	if err != nil || got != v {
		t.Errorf("lookup: %+v, %v; want %+v", got, err, v)
	}

	// The kernel holds the C bytes: ports big-endian at 32 and 34, the bool
	// at 20, LastSeen at 24.
	key := make([]byte, 40)
	kc, _ := structcodec.For[flowKey]()
	if err := kc.Encode(key, &k); err != nil {
		t.Fatal(err)
	}
	if key[32] != 0x12 || key[33] != 0x34 || binary.BigEndian.Uint16(key[34:]) != 443 || key[36] != 6 {
		t.Errorf("key bytes %x", key)
	}
	val := make([]byte, 32)
	if err := m.Lookup(key, val); err != nil {
		t.Fatal(err)
	}
	if binary.NativeEndian.Uint64(val[8:]) != 4500 || val[20] != 1 || binary.NativeEndian.Uint64(val[24:]) != 1<<40 {
		t.Errorf("value bytes %x", val)
	}

	var into flowStats
	if err := flows.LookupInto(k, &into); err != nil || into != v {
		t.Errorf("LookupInto: %+v, %v", into, err)
	}
	taken, err := flows.LookupAndDelete(k)
	if noHashLookupAndDelete(t, err) {
		if err := flows.Delete(k); err != nil {
			t.Error(err)
		}
	} else if err != nil || taken != v {
		t.Errorf("LookupAndDelete: %+v, %v", taken, err)
	}
	if err := flows.Delete(k); !errors.Is(err, sys.ErrKeyNotExist) {
		t.Errorf("delete after LookupAndDelete: %v", err)
	}
}

func TestTypedInts(t *testing.T) {
	start(t)
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	counts := typed[uint32, uint64](t, m)
	if err := counts.Update(7, 1<<50, mapops.Any); err != nil {
		t.Fatal(err)
	}
	if v, err := m.LookupInt(7); err != nil || v != 1<<50 {
		t.Errorf("integer view of a typed update: %d, %v", v, err)
	}
	if v, err := counts.Lookup(7); err != nil || v != 1<<50 {
		t.Errorf("typed lookup: %d, %v", v, err)
	}
	if err := counts.Delete(7); err != nil {
		t.Error(err)
	}
	if _, err := counts.Lookup(7); !errors.Is(err, unix.ENOENT) {
		t.Errorf("lookup after delete: %v", err)
	}
	// Types the codec refuses, and sizes that do not match.
	if _, err := mapops.NewTyped[int, uint64](m); err == nil {
		t.Error("NewTyped accepted int keys")
	}
	if _, err := mapops.NewTyped[uint32, uint32](m); err == nil || !strings.Contains(err.Error(), "value type uint32 is 4 bytes, the map's values are 8") {
		t.Errorf("NewTyped with the wrong value size: %v", err)
	}
}

func TestBatchOps(t *testing.T) {
	start(t)
	testutil.RequireFeature(t, sys.HaveBatchOps)
	const n = 1000
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: n})
	tm := typed[uint32, uint64](t, m)
	keys, vals := make([]uint32, n), make([]uint64, n)
	for i := range keys {
		keys[i], vals[i] = uint32(i), uint64(i)*3
	}
	if got, err := tm.BatchUpdate(keys, vals, mapops.Any); err != nil || got != n {
		t.Fatalf("batch update: %d, %v", got, err)
	}
	if _, err := tm.BatchUpdate(keys[:1], vals[:1], mapops.NoExist); err == nil || !strings.Contains(err.Error(), "only Any or Lock") {
		t.Errorf("batch update with NoExist: %v", err)
	}

	// One entry per call: every hash bucket with two entries makes the
	// kernel answer ENOSPC, and the batch must grow instead of failing.
	var c mapops.Cursor
	var ks []uint32
	var vs []uint64
	calls := 0
	for !c.Done() {
		var err error
		if ks, vs, err = tm.BatchLookup(&c, ks, vs, 1); err != nil {
			t.Fatal(err)
		}
		if calls++; calls > 2*n {
			t.Fatal("batch lookup does not end")
		}
	}
	got := map[uint32]uint64{}
	for i, k := range ks {
		if _, dup := got[k]; dup {
			t.Errorf("key %d read twice", k)
		}
		got[k] = vs[i]
	}
	if len(got) != n || got[999] != 2997 {
		t.Errorf("batch lookup read %d entries (999 -> %d), want %d", len(got), got[999], n)
	}

	if d, err := tm.BatchDelete(keys[:100]); err != nil || d != 100 {
		t.Errorf("batch delete: %d, %v", d, err)
	}
	if d, err := tm.BatchDelete(keys[:1]); !errors.Is(err, unix.ENOENT) || d != 0 {
		t.Errorf("batch delete of a deleted key: %d, %v", d, err)
	}
	var c2 mapops.Cursor
	ks, vs = ks[:0], vs[:0]
	for !c2.Done() {
		var err error
		if ks, vs, err = tm.BatchLookupAndDelete(&c2, ks, vs, 64); err != nil {
			t.Fatal(err)
		}
	}
	if len(ks) != n-100 {
		t.Errorf("batch lookup and delete read %d, want %d", len(ks), n-100)
	}
	all, errf := m.Keys()
	for k := range all {
		t.Errorf("key %x left after batch lookup and delete", k)
	}
	if err := errf(); err != nil {
		t.Error(err)
	}
	if _, err := tm.BatchUpdate(keys[:2], vals[:1], mapops.Any); err == nil {
		t.Error("batch update with 2 keys and 1 value succeeded")
	}
}

func TestIterate(t *testing.T) {
	for _, mode := range []string{"default", "get_next_key"} {
		t.Run(mode, func(t *testing.T) {
			start(t)
			if mode != "default" {
				mapops.ForceNextKey(t)
			}
			for _, typ := range []sys.MapType{unix.BPF_MAP_TYPE_HASH, unix.BPF_MAP_TYPE_ARRAY, unix.BPF_MAP_TYPE_LRU_HASH} {
				const n = 300
				size := uint32(n)
				if typ == unix.BPF_MAP_TYPE_LRU_HASH {
					// LRU maps can evict before they are full: free nodes
					// sit in per-CPU lists (Debian's 5.10 and 6.1 evicted 84
					// of 300 keys in a map of 300 here). Room to spare.
					size = 4 * n
				}
				m := create(t, mapops.Spec{Type: typ, KeySize: 4, ValueSize: 8, MaxEntries: size})
				tm := typed[uint32, uint64](t, m)
				want := map[uint32]uint64{}
				for i := range uint32(n) {
					want[i] = uint64(i) << 33
					if err := tm.Update(i, want[i], mapops.Any); err != nil {
						t.Fatal(err)
					}
				}
				got := map[uint32]uint64{}
				all, errf := tm.All()
				for k, v := range all {
					if _, dup := got[k]; dup {
						t.Errorf("%s: key %d yielded twice", typ.String(), k)
					}
					got[k] = v
				}
				if err := errf(); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s: All (-want +got):\n%s", typ.String(), diff)
				}
				keys, kerrf := tm.Keys()
				count := 0
				for k := range keys {
					if _, ok := want[k]; !ok {
						t.Errorf("Keys yielded %d", k)
					}
					count++
				}
				if err := kerrf(); err != nil || count != n {
					t.Errorf("%s: Keys yielded %d keys, %v", typ.String(), count, err)
				}
				// Breaking out early is not an error.
				all, errf = tm.All()
				for range all {
					break
				}
				if err := errf(); err != nil {
					t.Errorf("error after break: %v", err)
				}
				// Bytes level: the same entries.
				ball, berrf := m.All()
				count = 0
				for k, v := range ball {
					if binary.NativeEndian.Uint64(v) != want[binary.NativeEndian.Uint32(k)] {
						t.Errorf("bytes All: %x -> %x", k, v)
					}
					count++
				}
				if err := berrf(); err != nil || count != n {
					t.Errorf("bytes All: %d entries, %v", count, err)
				}
			}
		})
	}
}

// TestIterateLPMTrie walks a map type without batch support.
func TestIterateLPMTrie(t *testing.T) {
	start(t)
	type prefix struct {
		Len  uint32
		Addr [4]byte
	}
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_LPM_TRIE, KeySize: 8, ValueSize: 4, MaxEntries: 16, Flags: unix.BPF_F_NO_PREALLOC})
	tm := typed[prefix, uint32](t, m)
	want := map[prefix]uint32{{8, [4]byte{10}}: 1, {16, [4]byte{10, 1}}: 2, {24, [4]byte{192, 168, 1}}: 3}
	for k, v := range want {
		if err := tm.Update(k, v, mapops.Any); err != nil {
			t.Fatal(err)
		}
	}
	got := map[prefix]uint32{}
	all, errf := tm.All()
	for k, v := range all {
		got[k] = v
	}
	if err := errf(); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("All (-want +got):\n%s", diff)
	}
}

// TestIterateDeletingInLoop deletes every key as it is yielded and inserts
// a new one: a plain get_next_key walk starts over from the first key each
// time its position disappears, so it would yield keys again.
func TestIterateDeletingInLoop(t *testing.T) {
	for _, mode := range []string{"default", "get_next_key"} {
		t.Run(mode, func(t *testing.T) {
			start(t)
			if mode != "default" {
				mapops.ForceNextKey(t)
			}
			// The loop body deletes every odd original key and inserts a new
			// key for every original one. A get_next_key walk whose current
			// key is deleted is sent back to the first key by the kernel; the
			// even keys left in place let the walk notice.
			const n = 1000
			m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 2 * n})
			tm := typed[uint32, uint64](t, m)
			for i := range uint32(n) {
				if err := tm.Update(i, uint64(i), mapops.Any); err != nil {
					t.Fatal(err)
				}
			}
			restartsBefore := mapops.Restarts()
			seen := map[uint32]bool{}
			all, errf := tm.All()
			for k := range all {
				if seen[k] {
					t.Fatalf("key %d yielded twice", k)
				}
				seen[k] = true
				if k >= n {
					continue // inserted by this loop
				}
				if k%2 == 1 {
					if err := tm.Delete(k); err != nil {
						t.Fatal(err)
					}
				}
				if err := tm.Update(k+n, 0, mapops.Any); err != nil { // may or may not be yielded
					t.Fatal(err)
				}
			}
			if err := errf(); err != nil {
				t.Fatal(err)
			}
			for i := range uint32(n) {
				if !seen[i] {
					t.Errorf("original key %d never yielded", i)
				}
			}
			if mode != "default" && mapops.Restarts() == restartsBefore {
				t.Error("the get_next_key walk saw no restart: the test did not exercise restart detection")
			}
			// The default walk of a hash map uses the batch commands, whose
			// position is a bucket: deletes cannot send it back.
			if mode == "default" && sys.HaveBatchOps() == nil && mapops.Restarts() != restartsBefore {
				t.Error("the default walk restarted: it did not use the batch commands")
			}
		})
	}
}

// TestIterateWhileAnotherGoroutineWrites walks a map while a goroutine
// deletes and re-inserts other keys as fast as it can: every key that
// stays put is yielded exactly once, whichever way the map is walked.
func TestIterateWhileAnotherGoroutineWrites(t *testing.T) {
	for _, mode := range []string{"default", "get_next_key"} {
		t.Run(mode, func(t *testing.T) {
			start(t)
			if mode != "default" {
				mapops.ForceNextKey(t)
			}
			const stable, churn = 2000, 2000
			m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: stable + churn})
			tm := typed[uint32, uint64](t, m)
			for i := range uint32(stable + churn) {
				if err := tm.Update(i, uint64(i), mapops.Any); err != nil {
					t.Fatal(err)
				}
			}
			stop := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				for i := uint32(0); ; i = (i + 1) % churn {
					select {
					case <-stop:
						done <- nil
						return
					default:
					}
					k := stable + i
					if err := tm.Delete(k); err != nil {
						done <- err
						return
					}
					if err := tm.Update(k, uint64(k), mapops.Any); err != nil {
						done <- err
						return
					}
				}
			}()
			// Walk until three walks have run to the end and had their
			// keys checked. A get_next_key walk may give up under this
			// churn, as documented, but the test must not pass without
			// checking anything: within the bound, some walks finish.
			complete, gaveUp := 0, 0
			for deadline := time.Now().Add(20 * time.Second); complete < 3; {
				if time.Now().After(deadline) {
					t.Fatalf("%d walks ran to the end in 20 s (%d gave up): the stable keys were not checked 3 times", complete, gaveUp)
				}
				seen := map[uint32]bool{}
				all, errf := tm.All()
				for k, v := range all {
					if seen[k] {
						t.Fatalf("key %d yielded twice", k)
					}
					seen[k] = true
					if uint64(k) != v {
						t.Fatalf("key %d has value %d", k, v)
					}
				}
				if err := errf(); err != nil && !errors.Is(err, mapops.ErrIterationRestarted) {
					t.Fatal(err)
				} else if err != nil {
					gaveUp++ // as documented
					continue
				}
				for i := range uint32(stable) {
					if !seen[i] {
						t.Fatalf("stable key %d never yielded", i)
					}
				}
				complete++
			}
			t.Logf("%d walks complete, %d gave up", complete, gaveUp)
			close(stop)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestIterateErrorMidWalk closes the map in the middle of a walk of
// several chunks: the walk ends and its error says why, it does not end as
// if the map were exhausted.
func TestIterateErrorMidWalk(t *testing.T) {
	for _, mode := range []string{"default", "get_next_key"} {
		t.Run(mode, func(t *testing.T) {
			start(t)
			if mode != "default" {
				mapops.ForceNextKey(t)
			}
			// 4 KiB values keep chunks small (64 entries), so 200 entries
			// take several system calls.
			const n = 200
			m, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4096, MaxEntries: n})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			tm := typed[uint32, [4096]byte](t, m)
			for i := range uint32(n) {
				if err := tm.Update(i, [4096]byte{}, mapops.Any); err != nil {
					t.Fatal(err)
				}
			}
			yielded := 0
			all, errf := tm.All()
			for range all {
				if yielded++; yielded == 1 {
					m.Close()
				}
			}
			if err := errf(); !errors.Is(err, os.ErrClosed) || yielded >= n {
				t.Errorf("walk of a map closed after the first entry: %d entries, error %v; want os.ErrClosed", yielded, err)
			}
		})
	}
}

// TestHotPathsDoNotAllocate holds the promise of the package doc: lookups
// (found or missing), updates and deletes of every level, and queue
// pushes and pops allocate nothing.
func TestHotPathsDoNotAllocate(t *testing.T) {
	start(t)
	ints := typed[uint32, uint64](t, create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 4}))
	flows := typed[flowKey, flowStats](t, create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 40, ValueSize: 32, MaxEntries: 4}))
	queue, err := mapops.NewQueue[sample](create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_QUEUE, ValueSize: 8, MaxEntries: 4}))
	if err != nil {
		t.Fatal(err)
	}
	stack, err := mapops.NewQueue[uint64](create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_STACK, ValueSize: 8, MaxEntries: 4}))
	if err != nil {
		t.Fatal(err)
	}
	m := ints.Map()
	key, val := []byte{9, 0, 0, 0}, make([]byte, 8)
	fk := flowKey{SrcPort: 443, Proto: 6}
	var fv flowStats
	for _, c := range []struct {
		name string
		f    func() error
	}{
		{"Typed.Update", func() error { return ints.Update(1, 2, mapops.Any) }},
		{"Typed.Lookup", func() error { _, err := ints.Lookup(1); return err }},
		{"Typed.Lookup missing", func() error { _, err := ints.Lookup(2); return ignore(err, sys.ErrKeyNotExist) }},
		{"Typed.Delete missing", func() error { return ignore(ints.Delete(2), sys.ErrKeyNotExist) }},
		{"Map.Update", func() error { return m.Update(key, val, mapops.Any) }},
		{"Map.Lookup", func() error { return m.Lookup(key, val) }},
		{"Map.UpdateInt", func() error { return m.UpdateInt(3, 4, mapops.Any) }},
		{"Map.LookupInt", func() error { _, err := m.LookupInt(3); return err }},
		{"Map.LookupInt missing", func() error { _, err := m.LookupInt(5); return ignore(err, sys.ErrKeyNotExist) }},
		{"struct Update", func() error { return flows.Update(fk, flowStats{Packets: 1}, mapops.Any) }},
		{"struct LookupInto", func() error { return flows.LookupInto(fk, &fv) }},
		{"Queue.Push and Pop", func() error {
			if err := queue.Push(sample{Seq: 1, Port: 80}, mapops.Any); err != nil {
				return err
			}
			_, err := queue.Pop()
			return err
		}},
		{"Queue.Pop empty", func() error { _, err := queue.Pop(); return ignore(err, sys.ErrEmpty) }},
		{"Queue[uint64] Push, Peek and Pop", func() error {
			if err := stack.Push(7, mapops.Any); err != nil {
				return err
			}
			if _, err := stack.Peek(); err != nil {
				return err
			}
			_, err := stack.Pop()
			return err
		}},
	} {
		if err := c.f(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		checkNoAllocs(t, c.name, func() { c.f() })
	}
}

// ignore returns nil when err is target, else err.
func ignore(err, target error) error {
	if errors.Is(err, target) {
		return nil
	}
	return err
}

// TestOverlay: which value types the kernel may write straight into, and
// where their bools are.
func TestOverlay(t *testing.T) {
	type flag struct {
		On  bool
		Val uint8
	}
	type packed struct {
		_ structcodec.Packed
		A uint8
		B uint32
	}
	type named struct {
		Name [8]byte `bpf:"cstring"`
	}
	type port struct {
		Port uint16 `bpf:"be"`
	}
	type nested struct {
		A     uint32
		Flags [3]flag
		S     flowStats
	}
	check := func(name string, ok bool, bools []uintptr, wantOK bool, wantBools []uintptr) {
		t.Helper()
		if ok != wantOK || (wantOK && !cmp.Equal(bools, wantBools)) {
			t.Errorf("%s: overlay %v, bools %v; want %v, %v", name, ok, bools, wantOK, wantBools)
		}
	}
	ok, bools := mapops.Overlay[uint64]()
	check("uint64", ok, bools, true, nil)
	ok, bools = mapops.Overlay[flowStats]()
	check("flowStats", ok, bools, true, []uintptr{20})
	ok, bools = mapops.Overlay[[3]flag]()
	check("[3]flag", ok, bools, true, []uintptr{0, 2, 4})
	ok, bools = mapops.Overlay[nested]()
	check("nested", ok, bools, true, []uintptr{4, 6, 8, 16 + 20})
	ok, _ = mapops.Overlay[packed]()
	check("packed", ok, nil, false, nil)
	ok, bools = mapops.Overlay[named]()
	check("cstring", ok, bools, true, nil) // decoding a cstring array is a copy
	// A "be" field is stored as it is in memory on a big-endian host
	// (s390x in the kernel matrix), so only there does it overlay.
	ok, bools = mapops.Overlay[port]()
	check("big-endian", ok, bools, bigEndianHost, nil)
	ok, bools = mapops.Overlay[[3]bool]()
	check("[3]bool", ok, bools, true, []uintptr{0, 1, 2})
	ok, _ = mapops.Overlay[struct {
		A uint8
		B uint32 `bpf:"offset=8"`
	}]()
	check("moved field", ok, nil, false, nil)
}

// TestTypedReadsKernelBytes reads values whose bool bytes and padding the
// kernel holds as any byte (a BPF program may store 2 in a bool, and
// padding is whatever was written): every read path gives true for the
// bool and the same Go value.
func TestTypedReadsKernelBytes(t *testing.T) {
	start(t)
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 32, MaxEntries: 4})
	tm := typed[uint32, flowStats](t, m)
	raw := make([]byte, 32)
	binary.NativeEndian.PutUint64(raw[0:], 5)
	raw[20], raw[21], raw[22], raw[23] = 2, 0xff, 0xff, 0xff // Active = 2, padding
	binary.NativeEndian.PutUint64(raw[24:], 9)
	if err := m.Update(nativeBytes(1, 4), raw, mapops.Any); err != nil {
		t.Fatal(err)
	}
	want := flowStats{Packets: 5, Active: true, LastSeen: 9}
	got, err := tm.Lookup(1)
	if err != nil || got != want || !got.Active || got.Active != true {
		t.Errorf("Lookup: %+v, %v; want %+v", got, err, want)
	}
	all, errf := tm.All()
	for k, v := range all {
		if k != 1 || v != want || v.Active != true {
			t.Errorf("All: %d -> %+v", k, v)
		}
	}
	if err := errf(); err != nil {
		t.Error(err)
	}

	// Per-CPU values of 8 bytes are read straight into the caller's slice.
	type counter struct {
		N  uint32
		On bool
	}
	pm := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_PERCPU_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	ptm := typed[uint32, counter](t, pm)
	slots := make([]byte, pm.ValueBufferSize())
	for cpu := range ptm.PossibleCPUs() {
		binary.NativeEndian.PutUint32(slots[cpu*8:], uint32(cpu)) // N
		copy(slots[cpu*8+4:], []byte{3, 0xee, 0xee, 0xee})        // On = 3, padding
	}
	if err := pm.UpdatePerCPU([]byte{0, 0, 0, 0}, slots, mapops.Any); err != nil {
		t.Fatal(err)
	}
	vals := make([]counter, ptm.PossibleCPUs())
	if err := ptm.LookupPerCPU(0, vals); err != nil {
		t.Fatal(err)
	}
	for cpu, v := range vals {
		if v != (counter{N: uint32(cpu), On: true}) || v.On != true {
			t.Errorf("CPU %d: %+v", cpu, v)
		}
	}
}

// padded is a key with big-endian fields, a blank field and padding.
type padded struct {
	A uint8
	B uint32 `bpf:"be"`
	_ uint16
	C [3]struct {
		X uint16 `bpf:"be"`
		Y uint8
	}
	D uint64
}

// TestKeyPlan holds the keys Typed builds on the stack against the codec,
// over Go values whose padding holds garbage.
func TestKeyPlan(t *testing.T) {
	checkPlan(t, "flowKey", flowKey{})
	checkPlan(t, "padded", padded{})
	if _, ok := mapops.PlanKey(struct {
		Name [8]byte `bpf:"cstring,nul"`
	}{}); ok {
		t.Error("a cstring,nul key is planned")
	}
	if _, ok := mapops.PlanKey([65]byte{}); ok {
		t.Error("a key larger than the stack buffer is planned")
	}
}

func checkPlan[K any](t *testing.T, name string, _ K) {
	t.Helper()
	c, err := structcodec.For[K]()
	if err != nil {
		t.Fatal(err)
	}
	var k K
	raw := make([]byte, unsafe.Sizeof(k))
	for seed := range 50 {
		for i := range raw {
			raw[i] = byte(seed*131 + i*7 + 1) // every byte, padding too
		}
		t.Run(name, func(t *testing.T) { checkPlanned(t, c, raw) })
	}
}

// FuzzOverlayRead: for any bytes the kernel may hold (a BPF program writes
// what it likes), reading a value straight into Go memory gives what the
// codec's Decode gives.
func FuzzOverlayRead(f *testing.F) {
	f.Add(make([]byte, 32))
	f.Add(bytes.Repeat([]byte{0xff}, 32))
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 2, 0xee, 0xee, 0xee, 1, 2, 3, 4, 5, 6, 7, 8})
	c, err := structcodec.For[flowStats]()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 32 {
			return
		}
		b = b[:32]
		got, ok := mapops.OverlayRead[flowStats](b)
		if !ok {
			t.Fatal("flowStats is not read by overlay")
		}
		var want flowStats
		if err := c.Decode(b, &want); err != nil {
			t.Fatal(err)
		}
		if got != want || got.Active != want.Active {
			t.Errorf("overlay read %+v, codec %+v", got, want)
		}
	})
}

// FuzzPlanKey: for any Go memory of a key with big-endian fields, blank
// fields and padding (garbage included), the C bytes Typed builds on the
// stack from structcodec's plan are the codec's encoding.
func FuzzPlanKey(f *testing.F) {
	f.Add(make([]byte, 32), uint8(0))
	f.Add(bytes.Repeat([]byte{0xff}, 48), uint8(1))
	cf, err := structcodec.For[flowKey]()
	if err != nil {
		f.Fatal(err)
	}
	cp, err := structcodec.For[padded]()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte, which uint8) {
		if which%2 == 0 {
			checkPlanned(t, cf, b)
		} else {
			checkPlanned(t, cp, b)
		}
	})
}

func checkPlanned[K any](t *testing.T, c *structcodec.Codec[K], b []byte) {
	var k K
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&k)), unsafe.Sizeof(k)), b) // every byte, padding too
	got, ok := mapops.PlanKey(k)
	if !ok {
		t.Fatalf("%T is not built on the stack", k)
	}
	want := make([]byte, c.Size())
	if err := c.Encode(want, &k); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%T: planned % x, codec % x", k, got, want)
	}
}

// TestBatchLookupDecodes reads values that cannot be copied over Go
// memory in one piece (a big-endian field, a bool written by the kernel
// as 2) and values that can, and checks every entry against what a
// single Lookup decodes.
func TestBatchLookupDecodes(t *testing.T) {
	start(t)
	testutil.RequireFeature(t, sys.HaveBatchOps)
	type value struct {
		Port uint16 `bpf:"be"`
		On   bool
		_    uint8
		N    uint32
	}
	const n = 300
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: n})
	raw := typed[uint32, [8]byte](t, m)
	for i := range uint32(n) {
		var b [8]byte
		binary.BigEndian.PutUint16(b[0:], uint16(i))
		b[2] = byte(i % 3) // 0, 1 or 2: 2 must read as true
		binary.NativeEndian.PutUint32(b[4:], i*7)
		if err := raw.Update(i, b, mapops.Any); err != nil {
			t.Fatal(err)
		}
	}
	for _, view := range []string{"decoded", "copied"} {
		var c mapops.Cursor
		var ks []uint32
		var vs []value
		var bs [][8]byte
		tv := typed[uint32, value](t, m)
		for !c.Done() {
			var err error
			if view == "decoded" {
				ks, vs, err = tv.BatchLookup(&c, ks, vs, 64)
			} else {
				ks, bs, err = raw.BatchLookup(&c, ks, bs, 64)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if len(ks) != n {
			t.Fatalf("%s: read %d entries, want %d", view, len(ks), n)
		}
		for i, k := range ks {
			if view == "copied" {
				if got := binary.NativeEndian.Uint32(bs[i][4:]); got != k*7 || bs[i][2] != byte(k%3) {
					t.Errorf("copied: key %d: %x", k, bs[i])
				}
				continue
			}
			want := value{Port: uint16(k), On: k%3 != 0, N: k * 7}
			if vs[i] != want {
				t.Errorf("decoded: key %d: %+v, want %+v", k, vs[i], want)
			}
			if one, err := tv.Lookup(k); err != nil || one != vs[i] {
				t.Errorf("decoded: key %d: Lookup gives %+v, %v; BatchLookup %+v", k, one, err, vs[i])
			}
		}
	}
}
