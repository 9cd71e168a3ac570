package sys_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

func newMap(t testing.TB, typ sys.MapType, keySize, valueSize, maxEntries, flags uint32) *sys.FD {
	t.Helper()
	attr := sys.MapCreateAttr{MapType: typ, KeySize: keySize, ValueSize: valueSize, MaxEntries: maxEntries, MapFlags: flags}
	sys.SetName(&attr.MapName, "sys_test")
	return create(t, attr)
}

func ptr[T any](v *T) unsafe.Pointer { return unsafe.Pointer(v) }

func TestElementCommands(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	m := newMap(t, unix.BPF_MAP_TYPE_HASH, 4, 8, 2, 0)

	key, val := uint32(7), uint64(0xdeadbeef)
	var got uint64
	err := sys.MapLookupElem(m, ptr(&key), ptr(&got), 0)
	if !errors.Is(err, unix.ENOENT) {
		t.Fatalf("lookup of a missing key: got %v, want ENOENT", err)
	}
	if want := "map lookup: key does not exist"; err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
	if err := sys.MapUpdateElem(m, ptr(&key), ptr(&val), unix.BPF_NOEXIST); err != nil {
		t.Fatalf("update NOEXIST of a new key: %v", err)
	}
	if err := sys.MapUpdateElem(m, ptr(&key), ptr(&val), unix.BPF_NOEXIST); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("update NOEXIST of an existing key: got %v, want EEXIST", err)
	}
	if err := sys.MapLookupElem(m, ptr(&key), ptr(&got), 0); err != nil || got != val {
		t.Fatalf("lookup: got %#x, %v; want %#x", got, err, val)
	}
	missing := uint32(8)
	if err := sys.MapUpdateElem(m, ptr(&missing), ptr(&val), unix.BPF_EXIST); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("update EXIST of a missing key: got %v, want ENOENT", err)
	}

	// Fill the map (2 entries) and overflow it.
	if err := sys.MapUpdateElem(m, ptr(&missing), ptr(&val), unix.BPF_ANY); err != nil {
		t.Fatal(err)
	}
	third := uint32(9)
	err = sys.MapUpdateElem(m, ptr(&third), ptr(&val), unix.BPF_ANY)
	if !errors.Is(err, unix.E2BIG) || !strings.Contains(err.Error(), "map is full") {
		t.Fatalf("update of a full map: got %v, want E2BIG \"map is full\"", err)
	}

	// Iterate: nil key means first.
	var keys []uint32
	var cur, next uint32
	for p := unsafe.Pointer(nil); ; p = ptr(&cur) {
		err := sys.MapGetNextKey(m, p, ptr(&next))
		if errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil {
			t.Fatalf("next key: %v", err)
		}
		keys = append(keys, next)
		cur = next
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []uint32{7, 8}) {
		t.Errorf("iterated keys %v, want [7 8]", keys)
	}

	if err := sys.MapDeleteElem(m, ptr(&key)); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := sys.MapDeleteElem(m, ptr(&key)); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("delete twice: got %v, want ENOENT", err)
	}

	if err := sys.MapFreeze(m); err != nil {
		t.Fatalf("freeze: %v", err)
	}
	if err := sys.MapUpdateElem(m, ptr(&key), ptr(&val), unix.BPF_ANY); !errors.Is(err, unix.EPERM) {
		t.Fatalf("update of a frozen map: got %v, want EPERM", err)
	}
}

func TestQueueLookupAndDelete(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	q := newMap(t, unix.BPF_MAP_TYPE_QUEUE, 0, 4, 4, 0)
	for v := uint32(1); v <= 3; v++ {
		if err := sys.MapUpdateElem(q, nil, ptr(&v), unix.BPF_ANY); err != nil {
			t.Fatalf("push %d: %v", v, err)
		}
	}
	for want := uint32(1); want <= 3; want++ {
		var got uint32
		if err := sys.MapLookupAndDeleteElem(q, nil, ptr(&got), 0); err != nil || got != want {
			t.Fatalf("pop: got %d, %v; want %d", got, err, want)
		}
	}
	var got uint32
	if err := sys.MapLookupAndDeleteElem(q, nil, ptr(&got), 0); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("pop of an empty queue: got %v, want ENOENT", err)
	}
	// Lookup-and-delete on a hash map removes the key.
	h := newMap(t, unix.BPF_MAP_TYPE_HASH, 4, 4, 4, 0)
	k, v := uint32(1), uint32(11)
	if err := sys.MapUpdateElem(h, ptr(&k), ptr(&v), unix.BPF_ANY); err != nil {
		t.Fatal(err)
	}
	if err := sys.MapLookupAndDeleteElem(h, ptr(&k), ptr(&got), 0); err != nil {
		if errors.Is(err, unix.EINVAL) || errors.Is(err, sys.ENOTSUPP) {
			// A missing kernel feature: testutil skips, also in CI.
			testutil.RequireFeature(t, func() error {
				return fmt.Errorf("lookup-and-delete on hash maps (5.14+): %v: %w", err, sys.ErrNotSupported)
			})
		}
		t.Fatalf("lookup and delete: %v", err)
	}
	if got != 11 {
		t.Errorf("lookup and delete returned %d, want 11", got)
	}
	if err := sys.MapLookupElem(h, ptr(&k), ptr(&got), 0); !errors.Is(err, unix.ENOENT) {
		t.Errorf("key still there after lookup and delete: %v", err)
	}
}

func TestBatchCommands(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveBatchOps)
	const n = 100
	m := newMap(t, unix.BPF_MAP_TYPE_HASH, 4, 8, n, 0)
	keys := make([]uint32, n)
	vals := make([]uint64, n)
	for i := range keys {
		keys[i], vals[i] = uint32(i), uint64(i)*10
	}
	b := sys.Batch{Keys: ptr(&keys[0]), Values: ptr(&vals[0]), Count: n}
	if err := sys.MapUpdateBatch(m, &b); err != nil || b.Count != n {
		t.Fatalf("update batch: count %d, %v", b.Count, err)
	}

	gotKeys := make([]uint32, n)
	gotVals := make([]uint64, n)
	var token uint32
	total := 0
	var in unsafe.Pointer
	for {
		b := sys.Batch{InBatch: in, OutBatch: ptr(&token), Keys: ptr(&gotKeys[total]), Values: ptr(&gotVals[total]),
			Count: uint32(min(16, n-total))}
		err := sys.MapLookupBatch(m, &b)
		total += int(b.Count)
		if errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil {
			t.Fatalf("lookup batch: %v", err)
		}
		in = ptr(&token)
	}
	if total != n {
		t.Fatalf("lookup batch read %d elements, want %d", total, n)
	}
	for i := range gotKeys {
		if gotVals[i] != uint64(gotKeys[i])*10 {
			t.Fatalf("key %d has value %d", gotKeys[i], gotVals[i])
		}
	}

	del := []uint32{0, 1, 2}
	b = sys.Batch{Keys: ptr(&del[0]), Count: 3}
	if err := sys.MapDeleteBatch(m, &b); err != nil || b.Count != 3 {
		t.Fatalf("delete batch: count %d, %v", b.Count, err)
	}
	b = sys.Batch{Keys: ptr(&del[0]), Count: 1}
	if err := sys.MapDeleteBatch(m, &b); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("delete batch of a missing key: %v, want ENOENT", err)
	}

	b = sys.Batch{OutBatch: ptr(&token), Keys: ptr(&gotKeys[0]), Values: ptr(&gotVals[0]), Count: n}
	err := sys.MapLookupAndDeleteBatch(m, &b)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		t.Fatalf("lookup and delete batch: %v", err)
	}
	if b.Count != n-3 {
		t.Fatalf("lookup and delete batch took %d, want %d", b.Count, n-3)
	}
	var k uint32
	if err := sys.MapGetNextKey(m, nil, ptr(&k)); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("map not empty after lookup and delete batch: %v", err)
	}
}

func TestPinAndGet(t *testing.T) {
	testutil.CheckLeaks(t)
	dir := testutil.BPFFS(t)
	m := newMap(t, unix.BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0)
	path := filepath.Join(dir, "pinned")
	if err := sys.ObjPin(m, path); err != nil {
		t.Fatalf("pin: %v", err)
	}
	if err := sys.ObjPin(m, path); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("pin twice: got %v, want EEXIST", err)
	}
	got, err := sys.ObjGet(path, 0)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	defer got.Close()
	k, v := uint32(0), uint32(42)
	if err := sys.MapUpdateElem(m, ptr(&k), ptr(&v), unix.BPF_ANY); err != nil {
		t.Fatal(err)
	}
	var w uint32
	if err := sys.MapLookupElem(got, ptr(&k), ptr(&w), 0); err != nil || w != 42 {
		t.Fatalf("lookup through the pinned copy: %d, %v", w, err)
	}

	// A path outside a bpf filesystem, and one that does not exist.
	if err := sys.ObjPin(m, filepath.Join(t.TempDir(), "x")); err == nil {
		t.Fatal("pin outside bpffs succeeded")
	}
	_, err = sys.ObjGet(filepath.Join(dir, "missing"), 0)
	if !errors.Is(err, unix.ENOENT) || !strings.Contains(err.Error(), "object get") {
		t.Fatalf("get of a missing pin: %v, want ENOENT naming the operation", err)
	}
	if _, err := sys.ObjGet("bad\x00path", 0); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("get of a path with NUL: %v, want EINVAL", err)
	}
}

func TestIDsAndInfo(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	m := newMap(t, unix.BPF_MAP_TYPE_LRU_HASH, 8, 16, 32, 0)
	info, err := sys.MapGetInfo(m)
	if err != nil {
		t.Fatalf("info: %v", err)
	}
	if info.Type != unix.BPF_MAP_TYPE_LRU_HASH || info.KeySize != 8 || info.ValueSize != 16 ||
		info.MaxEntries != 32 || info.NameString() != "sys_test" || info.ID == 0 {
		t.Fatalf("info = %+v", info)
	}
	found := false
	for id := uint32(0); ; {
		next, err := sys.MapGetNextID(id)
		if errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil {
			t.Fatalf("next id: %v", err)
		}
		id = next
		if id == info.ID {
			found = true
		}
	}
	if !found {
		t.Fatalf("map id %d not listed by MAP_GET_NEXT_ID", info.ID)
	}
	byID, err := sys.MapGetFDByID(info.ID, 0)
	if err != nil {
		t.Fatalf("fd by id: %v", err)
	}
	defer byID.Close()
	again, err := sys.MapGetInfo(byID)
	if err != nil || again.ID != info.ID {
		t.Fatalf("info through the id's fd: %+v, %v", again, err)
	}
	if _, err := sys.MapGetFDByID(0xfffffff0, 0); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("fd by unknown id: %v, want ENOENT", err)
	}
}

func TestProgLoadAndTestRun(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	m := newMap(t, unix.BPF_MAP_TYPE_HASH, 4, 8, 4, 0)
	prog, err := progs.UpdateHash(m, 3, 0x1122334455667788)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	defer prog.Close()
	ret, err := progs.Run(prog, 1)
	if err != nil || ret != 0 {
		t.Fatalf("test run: retval %d, %v", ret, err)
	}
	k := uint32(3)
	var v uint64
	if err := sys.MapLookupElem(m, ptr(&k), ptr(&v), 0); err != nil || v != 0x1122334455667788 {
		t.Fatalf("value written by the program: %#x, %v", v, err)
	}

	// A program the verifier refuses: the error carries the verifier log.
	_, err = progs.Load(unix.BPF_PROG_TYPE_SOCKET_FILTER, "bad", progsExitWithoutR0())
	var serr *sys.Error
	if !errors.As(err, &serr) || serr.Errno != unix.EACCES || !strings.Contains(serr.Log, "R0 !read_ok") {
		t.Fatalf("load of an invalid program: %v", err)
	}
}

func TestBTFLoad(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	fd, err := sys.BTFLoad(minimalBTF(32))
	if err != nil {
		t.Fatalf("load minimal BTF: %v", err)
	}
	fd.Close()
	fd, err = sys.BTFLoad(minimalBTF(64)) // 64 bits do not fit in 4 bytes
	if err == nil {
		fd.Close()
	}
	var serr *sys.Error
	if !errors.As(err, &serr) || serr.Log == "" || !errors.Is(err, unix.EINVAL) {
		t.Fatalf("load of invalid BTF: %v (want an error with the kernel log)", err)
	}
	if _, err := sys.BTFLoad(nil); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("load of empty BTF: %v", err)
	}
}

// minimalBTF returns BTF with one type, "int" of 4 bytes and the given bits,
// in host byte order: the kernel loads BTF only in its own byte order.
func minimalBTF(bits uint32) []byte {
	strs := []byte("\x00int\x00")
	var types []byte
	types = binary.NativeEndian.AppendUint32(types, 1)     // name_off "int"
	types = binary.NativeEndian.AppendUint32(types, 1<<24) // kind INT, vlen 0
	types = binary.NativeEndian.AppendUint32(types, 4)     // size
	types = binary.NativeEndian.AppendUint32(types, 1<<24|bits)
	var b []byte
	b = binary.NativeEndian.AppendUint16(b, 0xeB9F) // magic
	b = append(b, 1, 0)                             // version, flags
	b = binary.NativeEndian.AppendUint32(b, 24)     // hdr_len
	b = binary.NativeEndian.AppendUint32(b, 0)      // type_off
	b = binary.NativeEndian.AppendUint32(b, uint32(len(types)))
	b = binary.NativeEndian.AppendUint32(b, uint32(len(types))) // str_off
	b = binary.NativeEndian.AppendUint32(b, uint32(len(strs)))
	b = append(b, types...)
	return append(b, strs...)
}

func TestClosedFD(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	m := newMap(t, unix.BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0)
	raw := m.Int()
	if err := m.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if m.Int() != -1 {
		t.Fatalf("Int after Close = %d, want -1", m.Int())
	}
	// Reuse the descriptor number for another file: a use of the closed FD
	// must not touch it.
	other := newMap(t, unix.BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0)
	if other.Int() != raw {
		t.Logf("descriptor %d not reused (got %d); the check still runs", raw, other.Int())
	}
	k, v := uint32(0), uint32(99)
	checks := map[string]error{
		"lookup":  sys.MapLookupElem(m, ptr(&k), ptr(&v), 0),
		"update":  sys.MapUpdateElem(m, ptr(&k), ptr(&v), 0),
		"delete":  sys.MapDeleteElem(m, ptr(&k)),
		"nextkey": sys.MapGetNextKey(m, nil, ptr(&k)),
		"freeze":  sys.MapFreeze(m),
		"batch":   sys.MapLookupBatch(m, &sys.Batch{}),
		"pin":     sys.ObjPin(m, "/sys/fs/bpf/x"),
	}
	_, checks["info"] = sys.MapGetInfo(m)
	_, checks["dup"] = m.Dup()
	for op, err := range checks {
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("%s on a closed FD: got %v, want os.ErrClosed", op, err)
		}
	}
	var got uint32
	if err := sys.MapLookupElem(other, ptr(&k), ptr(&got), 0); err != nil || got != 0 {
		t.Fatalf("the other map was written through the closed FD: %d, %v", got, err)
	}
}

// TestCloseWhileInUse closes an FD while other goroutines use it: every
// call either succeeds or reports os.ErrClosed, and the descriptor is
// closed exactly once (CheckLeaks).
func TestCloseWhileInUse(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	for range 20 {
		m := newMap(t, unix.BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, v := uint32(0), uint32(0)
				for range 200 {
					err := sys.MapLookupElem(m, ptr(&k), ptr(&v), 0)
					if errors.Is(err, os.ErrClosed) {
						return
					}
					if err != nil {
						t.Errorf("lookup: %v", err)
						return
					}
				}
			}()
		}
		m.Close()
		wg.Wait()
	}
}

func TestDupAndNewFD(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	m := newMap(t, unix.BPF_MAP_TYPE_ARRAY, 4, 4, 1, 0)
	d, err := m.Dup()
	if err != nil {
		t.Fatal(err)
	}
	if d.Int() == m.Int() {
		t.Fatal("Dup returned the same descriptor")
	}
	flags, err := unix.FcntlInt(uintptr(d.Int()), unix.F_GETFD, 0)
	if err != nil || flags&unix.FD_CLOEXEC == 0 {
		t.Fatalf("dup is not close-on-exec: flags %#x, %v", flags, err)
	}
	d.Close()
	if _, err := sys.NewFD(-1); err == nil {
		t.Fatal("NewFD(-1) succeeded")
	}
}

func TestMapCreateErrors(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	_, err := sys.MapCreate(&sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_HASH, KeySize: 0, ValueSize: 4, MaxEntries: 1})
	if !errors.Is(err, unix.EINVAL) || !strings.HasPrefix(err.Error(), "map create: ") {
		t.Fatalf("hash map with key size 0: %v, want EINVAL naming map create", err)
	}
}

func TestPossibleCPUs(t *testing.T) {
	n, err := sys.PossibleCPUs()
	if err != nil || n < 1 {
		t.Fatalf("PossibleCPUs = %d, %v", n, err)
	}
	for in, want := range map[string]int{"0": 1, "0-3": 4, "0,2-5": 6, "0-1,7": 8} {
		if got, err := sys.ParseCPURange(in); err != nil || got != want {
			t.Errorf("parse %q = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "3-1", "-1", "0-"} {
		if _, err := sys.ParseCPURange(bad); err == nil {
			t.Errorf("parse %q: no error", bad)
		}
	}
	for _, huge := range []string{"0-65536", "0-9223372036854775806"} {
		if _, err := sys.ParsePossibleCPUs([]byte(huge)); err == nil || !strings.Contains(err.Error(), "/sys/devices/system/cpu/possible") {
			t.Errorf("parse %q: %v, want a refusal naming the file", huge, err)
		}
	}
	if sys.ValueStride(1) != 8 || sys.ValueStride(8) != 8 || sys.ValueStride(12) != 16 {
		t.Error("ValueStride does not round up to 8")
	}
}

// TestPossibleCPUsBelowVisible hands ParsePossibleCPUs a possible list
// with fewer CPUs than this process can see, as a virtualised sysfs
// might: per-CPU buffers sized from it would be overflowed by the kernel.
func TestPossibleCPUsBelowVisible(t *testing.T) {
	real, err := os.ReadFile("/sys/devices/system/cpu/possible")
	if err != nil {
		t.Fatal(err)
	}
	n, err := sys.ParsePossibleCPUs(real)
	if err != nil || n < runtime.NumCPU() {
		t.Fatalf("the machine's own file: %d, %v", n, err)
	}
	if runtime.NumCPU() < 2 {
		t.Logf("one CPU: no list shows fewer; only the machine's file was checked")
		return
	}
	fewer := fmt.Sprintf("0-%d", runtime.NumCPU()-2)
	if runtime.NumCPU() == 2 {
		fewer = "0"
	}
	_, err = sys.ParsePossibleCPUs([]byte(fewer + "\n"))
	if err == nil || !strings.Contains(err.Error(), "/sys/devices/system/cpu/possible") {
		t.Errorf("%q with %d CPUs visible: %v, want a refusal naming the file", fewer, runtime.NumCPU(), err)
	}
}

func TestProbes(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	for _, typ := range []sys.MapType{unix.BPF_MAP_TYPE_HASH, unix.BPF_MAP_TYPE_ARRAY, unix.BPF_MAP_TYPE_PERCPU_HASH,
		unix.BPF_MAP_TYPE_LRU_HASH, unix.BPF_MAP_TYPE_QUEUE, unix.BPF_MAP_TYPE_STACK, unix.BPF_MAP_TYPE_LPM_TRIE,
		unix.BPF_MAP_TYPE_ARRAY_OF_MAPS, unix.BPF_MAP_TYPE_HASH_OF_MAPS} {
		if err := sys.HaveMapType(typ); err != nil { // all present since 5.0
			t.Errorf("HaveMapType(%s): %v", typ.String(), err)
		}
	}
	for name, probe := range map[string]func() error{"batch": sys.HaveBatchOps, "mmapable": sys.HaveMmapableArray,
		"ringbuf": sys.HaveRingBuf, "user ringbuf": sys.HaveUserRingBuf} {
		if err := probe(); err != nil && !errors.Is(err, sys.ErrNotSupported) {
			t.Errorf("probe %s could not decide: %v", name, err)
		}
	}
	if err := sys.HaveMapType(0xffff); err == nil {
		t.Error("HaveMapType(0xffff) succeeded")
	}
}
