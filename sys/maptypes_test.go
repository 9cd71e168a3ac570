package sys_test

import (
	"errors"
	"os"
	"slices"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// create makes a map for the test and closes it when the test ends.
func create(t testing.TB, attr sys.MapCreateAttr) *sys.FD {
	t.Helper()
	fd, err := sys.MapCreate(&attr)
	if err != nil {
		t.Fatalf("create %s map (key %d, value %d, %d entries, flags %#x): %v",
			attr.MapType.String(), attr.KeySize, attr.ValueSize, attr.MaxEntries, attr.MapFlags, err)
	}
	closeLater(t, fd)
	return fd
}

// closeLater closes fd when the test ends.
func closeLater(t testing.TB, fd *sys.FD) {
	t.Cleanup(func() { fd.Close() })
}

// update writes a u32 key and u64 value.
func update(t testing.TB, m *sys.FD, key uint32, value uint64, flags uint64) {
	t.Helper()
	if err := sys.MapUpdateElem(m, unsafe.Pointer(&key), unsafe.Pointer(&value), flags); err != nil {
		t.Fatalf("update %d=%d: %v", key, value, err)
	}
}

// lookup reads the u64 value of a u32 key.
func lookup(m *sys.FD, key uint32) (uint64, error) {
	var v uint64
	err := sys.MapLookupElem(m, unsafe.Pointer(&key), unsafe.Pointer(&v), 0)
	return v, err
}

// lookupPerCPU reads the u64 value of every possible CPU under a u32 key.
func lookupPerCPU(t testing.TB, m *sys.FD, key uint32) []uint64 {
	t.Helper()
	n, err := sys.PossibleCPUs()
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]uint64, n) // stride of an 8-byte value is 8
	if err := sys.MapLookupElem(m, unsafe.Pointer(&key), unsafe.Pointer(&vals[0]), 0); err != nil {
		t.Fatalf("per-CPU lookup %d: %v", key, err)
	}
	return vals
}

// keys walks the map with get_next_key and returns its u32 keys in order.
func keys(t testing.TB, m *sys.FD) []uint32 {
	t.Helper()
	var out []uint32
	var key, next uint32
	k := unsafe.Pointer(nil) // nil: start at the first key
	for range 1 << 16 {
		err := sys.MapGetNextKey(m, k, unsafe.Pointer(&next))
		if errors.Is(err, unix.ENOENT) {
			return out
		}
		if err != nil {
			t.Fatalf("get next key after %d keys: %v", len(out), err)
		}
		out = append(out, next)
		key = next
		k = unsafe.Pointer(&key)
	}
	t.Fatalf("get next key did not end after %d keys", len(out))
	return nil
}

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
		t.Run(attr.MapType.String(), func(t *testing.T) {
			testutil.CheckLeaks(t)
			testutil.RequireFeature(t, func() error { return sys.HaveMapType(attr.MapType) })
			if attr.MapType == unix.BPF_MAP_TYPE_ARRAY_OF_MAPS || attr.MapType == unix.BPF_MAP_TYPE_HASH_OF_MAPS {
				inner := create(t, sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 1})
				attr.InnerMapFD = uint32(inner.Int())
			}
			sys.SetName(&attr.MapName, "sys_"+attr.MapType.String())
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
	if _, err := lookup(m, 8); !errors.Is(err, unix.ENOENT) {
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

// TestQueueAndStack pushes and pops through the element commands with a
// nil key: FIFO for queues, LIFO for stacks, E2BIG when full unless
// BPF_EXIST, ENOENT when empty; then the kernel pushes through a program.
func TestQueueAndStack(t *testing.T) {
	for _, typ := range []sys.MapType{unix.BPF_MAP_TYPE_QUEUE, unix.BPF_MAP_TYPE_STACK} {
		t.Run(typ.String(), func(t *testing.T) {
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
			if _, err := pop(); !errors.Is(err, unix.ENOENT) {
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
				if errors.Is(err, unix.ENOENT) {
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
	for _, typ := range []sys.MapType{unix.BPF_MAP_TYPE_PERCPU_ARRAY, unix.BPF_MAP_TYPE_PERCPU_HASH} {
		t.Run(typ.String(), func(t *testing.T) {
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
