package vmtests

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

func isNotExist(err error) bool { return errors.Is(err, unix.ENOENT) }

// mapKinds are the map types a user can create from user space alone, with
// the smallest attributes each accepts; the feature probe decides whether
// the running kernel has them.
var mapKinds = []sys.MapCreateAttr{
	{MapType: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 16},
	{MapType: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 16},
	{MapType: unix.BPF_MAP_TYPE_PERCPU_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 16},
	{MapType: unix.BPF_MAP_TYPE_PERCPU_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 16},
	{MapType: unix.BPF_MAP_TYPE_LRU_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 16},
	{MapType: unix.BPF_MAP_TYPE_LRU_PERCPU_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 16},
	{MapType: unix.BPF_MAP_TYPE_LPM_TRIE, KeySize: 8, ValueSize: 8, MaxEntries: 16, MapFlags: unix.BPF_F_NO_PREALLOC},
	{MapType: unix.BPF_MAP_TYPE_QUEUE, ValueSize: 8, MaxEntries: 16},
	{MapType: unix.BPF_MAP_TYPE_STACK, ValueSize: 8, MaxEntries: 16},
	{MapType: unix.BPF_MAP_TYPE_BLOOM_FILTER, ValueSize: 8, MaxEntries: 16},
	{MapType: unix.BPF_MAP_TYPE_RINGBUF, MaxEntries: 1 << 14},
	{MapType: unix.BPF_MAP_TYPE_USER_RINGBUF, MaxEntries: 1 << 14},
	{MapType: unix.BPF_MAP_TYPE_PROG_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 16},
	{MapType: unix.BPF_MAP_TYPE_PERF_EVENT_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 16},
	{MapType: unix.BPF_MAP_TYPE_CGROUP_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 16},
	{MapType: unix.BPF_MAP_TYPE_STACK_TRACE, KeySize: 4, ValueSize: 8 * 16, MaxEntries: 16},
	{MapType: unix.BPF_MAP_TYPE_DEVMAP, KeySize: 4, ValueSize: 4, MaxEntries: 16},
	{MapType: unix.BPF_MAP_TYPE_DEVMAP_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 16},
	{MapType: unix.BPF_MAP_TYPE_CPUMAP, KeySize: 4, ValueSize: 4, MaxEntries: 2},
	{MapType: unix.BPF_MAP_TYPE_SOCKMAP, KeySize: 4, ValueSize: 4, MaxEntries: 16},
	{MapType: unix.BPF_MAP_TYPE_SOCKHASH, KeySize: 4, ValueSize: 4, MaxEntries: 16},
	{MapType: unix.BPF_MAP_TYPE_ARRAY_OF_MAPS, KeySize: 4, ValueSize: 4, MaxEntries: 16},
	{MapType: unix.BPF_MAP_TYPE_HASH_OF_MAPS, KeySize: 4, ValueSize: 4, MaxEntries: 16},
}

// TestCreateEveryMapType creates each map type the kernel has, named, and
// reads its attributes back from the kernel.
func TestCreateEveryMapType(t *testing.T) {
	for _, attr := range mapKinds {
		t.Run(sys.MapTypeName(attr.MapType), func(t *testing.T) {
			testutil.CheckLeaks(t)
			testutil.RequireFeature(t, func() error { return sys.HaveMapType(attr.MapType) })
			if attr.MapType == unix.BPF_MAP_TYPE_ARRAY_OF_MAPS || attr.MapType == unix.BPF_MAP_TYPE_HASH_OF_MAPS {
				inner := create(t, sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 1})
				attr.InnerMapFD = uint32(inner.Int())
			}
			sys.SetName(&attr.MapName, "vm_"+sys.MapTypeName(attr.MapType))
			m := create(t, attr)
			info, err := sys.MapGetInfo(m)
			if err != nil {
				t.Fatal(err)
			}
			if info.Type != attr.MapType || info.KeySize != attr.KeySize || info.ValueSize != attr.ValueSize ||
				info.MaxEntries != attr.MaxEntries || info.MapFlags&attr.MapFlags != attr.MapFlags {
				t.Errorf("info: type %d key %d value %d max %d flags %#x, want %d %d %d %d %#x",
					info.Type, info.KeySize, info.ValueSize, info.MaxEntries, info.MapFlags,
					attr.MapType, attr.KeySize, attr.ValueSize, attr.MaxEntries, attr.MapFlags)
			}
			// The kernel may add flags (devmaps are BPF_F_RDONLY_PROG), never
			// drop ones asked for. Names are truncated to 15 bytes by SetName.
			if want := string(attr.MapName[:len(info.NameString())]); info.NameString() != want || info.NameString() == "" {
				t.Errorf("name %q, want %q", info.NameString(), want)
			}
			if info.ID == 0 {
				t.Error("map id 0")
			}
		})
	}
}

// TestHashElements runs the element commands on the hash kinds: update
// with each flag, lookup, get_next_key over every key exactly once, delete.
func TestHashElements(t *testing.T) {
	for _, typ := range []uint32{unix.BPF_MAP_TYPE_HASH, unix.BPF_MAP_TYPE_LRU_HASH} {
		t.Run(sys.MapTypeName(typ), func(t *testing.T) {
			testutil.CheckLeaks(t)
			testutil.RequireFeature(t, func() error { return sys.HaveMapType(typ) })
			const n = 64
			// LRU maps may evict before they are full (free lists are per
			// CPU), so give them room to keep every key.
			m := create(t, sys.MapCreateAttr{MapType: typ, KeySize: 4, ValueSize: 8, MaxEntries: 4 * n})
			var want []uint32
			for k := uint32(0); k < n; k++ {
				update(t, m, k*7, uint64(k)<<32|uint64(k), unix.BPF_NOEXIST)
				want = append(want, k*7)
			}
			for k := uint32(0); k < n; k++ {
				v, err := lookup(m, k*7)
				if err != nil || v != uint64(k)<<32|uint64(k) {
					t.Fatalf("lookup %d = %#x, %v", k*7, v, err)
				}
			}
			got := keys(t, m)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("get_next_key walked %d keys %v, want %d keys %v", len(got), got, len(want), want)
			}

			key, value := uint32(7), uint64(1)
			if err := sys.MapUpdateElem(m, unsafe.Pointer(&key), unsafe.Pointer(&value), unix.BPF_NOEXIST); !errors.Is(err, unix.EEXIST) {
				t.Errorf("update existing key with BPF_NOEXIST: %v, want EEXIST", err)
			}
			key = 1
			if err := sys.MapUpdateElem(m, unsafe.Pointer(&key), unsafe.Pointer(&value), unix.BPF_EXIST); !errors.Is(err, unix.ENOENT) {
				t.Errorf("update missing key with BPF_EXIST: %v, want ENOENT", err)
			}
			update(t, m, 7, 99, unix.BPF_EXIST)
			if v, err := lookup(m, 7); err != nil || v != 99 {
				t.Errorf("lookup after BPF_EXIST update = %d, %v; want 99", v, err)
			}
			key = 7
			if err := sys.MapDeleteElem(m, unsafe.Pointer(&key)); err != nil {
				t.Fatal(err)
			}
			if _, err := lookup(m, 7); !isNotExist(err) {
				t.Errorf("lookup deleted key: %v, want ENOENT", err)
			}
			if err := sys.MapDeleteElem(m, unsafe.Pointer(&key)); !isNotExist(err) {
				t.Errorf("delete deleted key: %v, want ENOENT", err)
			}
			if got := len(keys(t, m)); got != n-1 {
				t.Errorf("%d keys after delete, want %d", got, n-1)
			}
		})
	}
}

// TestArrayElements checks the array rules: every index exists, holds
// zero until written, cannot be deleted, and indexes past the end fail.
func TestArrayElements(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	m := create(t, sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 8})
	if v, err := lookup(m, 3); err != nil || v != 0 {
		t.Errorf("unwritten index = %d, %v; want 0", v, err)
	}
	update(t, m, 3, 42, unix.BPF_ANY)
	if v, err := lookup(m, 3); err != nil || v != 42 {
		t.Errorf("index 3 = %d, %v; want 42", v, err)
	}
	if _, err := lookup(m, 8); !isNotExist(err) {
		t.Errorf("lookup past the end: %v, want ENOENT", err)
	}
	key := uint32(3)
	if err := sys.MapDeleteElem(m, unsafe.Pointer(&key)); !errors.Is(err, unix.EINVAL) {
		t.Errorf("delete from array: %v, want EINVAL", err)
	}
	if got := keys(t, m); !slices.Equal(got, []uint32{0, 1, 2, 3, 4, 5, 6, 7}) {
		t.Errorf("array keys %v", got)
	}
}

// TestBatchRoundTrip writes a hash map with one batch update, reads it back
// in chunks that resume from the kernel's token, deletes half in a batch
// and drains the rest with lookup-and-delete batches.
func TestBatchRoundTrip(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveBatchOps)
	const n = 300
	m := create(t, sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: n})
	ks := make([]uint32, n)
	vs := make([]uint64, n)
	for i := range ks {
		ks[i], vs[i] = uint32(i)*3+1, uint64(i)*1000
	}
	b := sys.Batch{Keys: unsafe.Pointer(&ks[0]), Values: unsafe.Pointer(&vs[0]), Count: n}
	if err := sys.MapUpdateBatch(m, &b); err != nil || b.Count != n {
		t.Fatalf("batch update: %d of %d, %v", b.Count, n, err)
	}

	read := func(cmd func(*sys.FD, *sys.Batch) error, chunk int) map[uint32]uint64 {
		t.Helper()
		got := map[uint32]uint64{}
		gk := make([]uint32, chunk)
		gv := make([]uint64, chunk)
		var token uint32 // a hash map's batch token is a u32 bucket index
		in := unsafe.Pointer(nil)
		for range n + 1 {
			b := sys.Batch{InBatch: in, OutBatch: unsafe.Pointer(&token), Keys: unsafe.Pointer(&gk[0]),
				Values: unsafe.Pointer(&gv[0]), Count: uint32(chunk)}
			err := cmd(m, &b)
			if err != nil && !isNotExist(err) {
				t.Fatalf("batch read after %d elements: %v", len(got), err)
			}
			for i := range int(b.Count) {
				if _, dup := got[gk[i]]; dup {
					t.Fatalf("batch read returned key %d twice", gk[i])
				}
				got[gk[i]] = gv[i]
			}
			if err != nil {
				return got // ENOENT: the end of the map
			}
			in = unsafe.Pointer(&token)
		}
		t.Fatalf("batch read did not reach the end of the map")
		return nil
	}
	got := read(sys.MapLookupBatch, 32)
	if len(got) != n {
		t.Fatalf("batch lookup read %d elements, want %d", len(got), n)
	}
	for i := range ks {
		if got[ks[i]] != vs[i] {
			t.Fatalf("batch lookup %d = %d, want %d", ks[i], got[ks[i]], vs[i])
		}
	}

	b = sys.Batch{Keys: unsafe.Pointer(&ks[0]), Count: n / 2}
	if err := sys.MapDeleteBatch(m, &b); err != nil || b.Count != n/2 {
		t.Fatalf("batch delete: %d of %d, %v", b.Count, n/2, err)
	}
	rest := read(sys.MapLookupAndDeleteBatch, 64)
	if len(rest) != n-n/2 {
		t.Errorf("lookup-and-delete batch read %d elements, want %d", len(rest), n-n/2)
	}
	for _, k := range ks[:n/2] {
		if _, ok := rest[k]; ok {
			t.Fatalf("key %d survived the batch delete", k)
		}
	}
	if left := keys(t, m); len(left) != 0 {
		t.Errorf("%d keys left after draining", len(left))
	}
}

// TestQueueAndStack pushes and pops through the element commands with a
// nil key: FIFO for queues, LIFO for stacks, E2BIG when full unless
// BPF_EXIST, ENOENT when empty; then the kernel pushes through a program.
func TestQueueAndStack(t *testing.T) {
	for _, typ := range []uint32{unix.BPF_MAP_TYPE_QUEUE, unix.BPF_MAP_TYPE_STACK} {
		t.Run(sys.MapTypeName(typ), func(t *testing.T) {
			testutil.CheckLeaks(t)
			testutil.RequireFeature(t, func() error { return sys.HaveMapType(typ) })
			m := create(t, sys.MapCreateAttr{MapType: typ, ValueSize: 8, MaxEntries: 4})
			push := func(v uint64, flags uint64) error {
				return sys.MapUpdateElem(m, nil, unsafe.Pointer(&v), flags)
			}
			pop := func() (uint64, error) {
				var v uint64
				err := sys.MapLookupAndDeleteElem(m, nil, unsafe.Pointer(&v), 0)
				return v, err
			}
			for v := uint64(1); v <= 4; v++ {
				if err := push(v, unix.BPF_ANY); err != nil {
					t.Fatal(err)
				}
			}
			if err := push(5, unix.BPF_ANY); !errors.Is(err, unix.E2BIG) {
				t.Fatalf("push onto a full map: %v, want E2BIG", err)
			}
			// BPF_EXIST makes room by dropping the oldest element.
			if err := push(5, unix.BPF_EXIST); err != nil {
				t.Fatalf("push with BPF_EXIST onto a full map: %v", err)
			}
			want := []uint64{2, 3, 4, 5}
			if typ == unix.BPF_MAP_TYPE_STACK {
				want = []uint64{5, 4, 3, 2}
			}
			var peek uint64
			if err := sys.MapLookupElem(m, nil, unsafe.Pointer(&peek), 0); err != nil || peek != want[0] {
				t.Errorf("peek = %d, %v; want %d", peek, err, want[0])
			}
			for _, w := range want {
				if v, err := pop(); err != nil || v != w {
					t.Fatalf("pop = %d, %v; want %d", v, err, w)
				}
			}
			if _, err := pop(); !isNotExist(err) {
				t.Fatalf("pop from an empty map: %v, want ENOENT", err)
			}

			prog, err := progs.PushTime(m)
			if err != nil {
				t.Fatal(err)
			}
			closeLater(t, prog)
			if _, err := progs.Run(prog, 3); err != nil {
				t.Fatal(err)
			}
			var times []uint64
			for {
				v, err := pop()
				if isNotExist(err) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				times = append(times, v)
			}
			if typ == unix.BPF_MAP_TYPE_STACK {
				slices.Reverse(times)
			}
			if len(times) != 3 || !slices.IsSorted(times) || times[0] == 0 {
				t.Errorf("kernel pushed %v, want 3 rising clock readings", times)
			}
		})
	}
}

// TestPerCPU writes one value per possible CPU and reads them back, then
// lets a program count on the CPU it runs on.
func TestPerCPU(t *testing.T) {
	for _, typ := range []uint32{unix.BPF_MAP_TYPE_PERCPU_ARRAY, unix.BPF_MAP_TYPE_PERCPU_HASH} {
		t.Run(sys.MapTypeName(typ), func(t *testing.T) {
			testutil.CheckLeaks(t)
			testutil.RequireFeature(t, func() error { return sys.HaveMapType(typ) })
			ncpu, err := sys.PossibleCPUs()
			if err != nil {
				t.Fatal(err)
			}
			m := create(t, sys.MapCreateAttr{MapType: typ, KeySize: 4, ValueSize: 8, MaxEntries: 4})
			vals := make([]uint64, ncpu)
			for i := range vals {
				vals[i] = uint64(i+1) * 11
			}
			key := uint32(1)
			if err := sys.MapUpdateElem(m, unsafe.Pointer(&key), unsafe.Pointer(&vals[0]), unix.BPF_ANY); err != nil {
				t.Fatal(err)
			}
			if got := lookupPerCPU(t, m, 1); !slices.Equal(got, vals) {
				t.Errorf("per-CPU values %v, want %v", got, vals)
			}

			prog, err := progs.Counter(m, 2)
			if err != nil {
				t.Fatal(err)
			}
			closeLater(t, prog)
			if _, err := progs.Run(prog, 50); err != nil {
				t.Fatal(err)
			}
			var sum uint64
			for _, v := range lookupPerCPU(t, m, 2) {
				sum += v
			}
			if sum != 50 {
				t.Errorf("per-CPU counts add up to %d after 50 runs", sum)
			}
		})
	}
}

// TestProgramCounter makes the kernel increment a counter in a hash map
// and an array, and reads it from user space.
func TestProgramCounter(t *testing.T) {
	for _, typ := range []uint32{unix.BPF_MAP_TYPE_HASH, unix.BPF_MAP_TYPE_ARRAY} {
		t.Run(sys.MapTypeName(typ), func(t *testing.T) {
			testutil.CheckLeaks(t)
			testutil.RequireBPF(t)
			m := create(t, sys.MapCreateAttr{MapType: typ, KeySize: 4, ValueSize: 8, MaxEntries: 4})
			prog, err := progs.Counter(m, 3)
			if err != nil {
				t.Fatal(err)
			}
			closeLater(t, prog)
			for range 3 {
				if _, err := progs.Run(prog, 100); err != nil {
					t.Fatal(err)
				}
			}
			if v, err := lookup(m, 3); err != nil || v != 300 {
				t.Errorf("counter = %d, %v; want 300", v, err)
			}
		})
	}
}

// TestPinAndReopen pins a map in bpffs, opens it again by path and by id,
// and sees one map through all three descriptors.
func TestPinAndReopen(t *testing.T) {
	testutil.CheckLeaks(t)
	dir := testutil.BPFFS(t)
	m := create(t, sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	path := filepath.Join(dir, "pinned")
	if err := sys.ObjPin(m, path); err != nil {
		t.Fatal(err)
	}
	if err := sys.ObjPin(m, path); !errors.Is(err, unix.EEXIST) {
		t.Errorf("pin on an existing path: %v, want EEXIST", err)
	}
	byPath, err := sys.ObjGet(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, byPath)
	info, err := sys.MapGetInfo(m)
	if err != nil {
		t.Fatal(err)
	}
	byID, err := sys.MapGetFDByID(info.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, byID)
	update(t, byPath, 1, 111, unix.BPF_ANY)
	update(t, byID, 2, 222, unix.BPF_ANY)
	for key, want := range map[uint32]uint64{1: 111, 2: 222} {
		if v, err := lookup(m, key); err != nil || v != want {
			t.Errorf("lookup %d through the original = %d, %v; want %d", key, v, err, want)
		}
	}
	if pinned, err := sys.MapGetInfo(byPath); err != nil || pinned.ID != info.ID {
		t.Errorf("pinned map id %d, %v; want %d", pinned.ID, err, info.ID)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := sys.ObjGet(path, 0); !isNotExist(err) {
		t.Errorf("open an unpinned path: %v, want ENOENT", err)
	}
}

// TestFreeze freezes an array: user-space writes fail, reads still work.
func TestFreeze(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	m := create(t, sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 2})
	update(t, m, 0, 5, unix.BPF_ANY)
	if err := sys.MapFreeze(m); err != nil {
		t.Fatal(err)
	}
	key, value := uint32(0), uint64(6)
	if err := sys.MapUpdateElem(m, unsafe.Pointer(&key), unsafe.Pointer(&value), unix.BPF_ANY); !errors.Is(err, unix.EPERM) {
		t.Errorf("update of a frozen map: %v, want EPERM", err)
	}
	if v, err := lookup(m, 0); err != nil || v != 5 {
		t.Errorf("lookup in a frozen map = %d, %v; want 5", v, err)
	}
}

// TestMmapableArray maps a BPF_F_MMAPABLE array and sees syscall writes,
// kernel program writes and memory writes in one place.
func TestMmapableArray(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveMmapableArray)
	m := create(t, sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 4,
		MapFlags: unix.BPF_F_MMAPABLE})
	raw, err := m.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Mmap(raw, 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	m.Release()
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	defer unix.Munmap(mem)
	slot := func(i int) *uint64 { return (*uint64)(unsafe.Pointer(&mem[i*8])) }

	update(t, m, 1, 77, unix.BPF_ANY)
	if got := *slot(1); got != 77 {
		t.Errorf("memory slot 1 = %d after a syscall write of 77", got)
	}
	*slot(2) = 88
	if v, err := lookup(m, 2); err != nil || v != 88 {
		t.Errorf("lookup 2 = %d, %v after a memory write of 88", v, err)
	}
	prog, err := progs.Counter(m, 3)
	if err != nil {
		t.Fatal(err)
	}
	closeLater(t, prog)
	if _, err := progs.Run(prog, 9); err != nil {
		t.Fatal(err)
	}
	if got := *slot(3); got != 9 {
		t.Errorf("memory slot 3 = %d after 9 program runs", got)
	}
}
