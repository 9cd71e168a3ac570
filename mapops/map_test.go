package mapops_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

func TestCreateAttributes(t *testing.T) {
	start(t)
	var b btf.Builder
	u32 := b.Int("u32", 4, false)
	u64 := b.Int("u64", 8, false)
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	btfFD, err := sys.BTFLoad(raw)
	if err != nil {
		t.Fatalf("load btf: %v", err)
	}
	defer btfFD.Close()

	m := create(t, mapops.Spec{
		Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 10,
		Flags: unix.BPF_F_NO_PREALLOC | unix.BPF_F_NUMA_NODE, NumaNode: 0,
		Name: "attrs.all_1", BTF: btfFD, BTFKeyTypeID: uint32(u32), BTFValueTypeID: uint32(u64),
	})
	info, err := m.Info()
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != unix.BPF_MAP_TYPE_HASH || info.KeySize != 4 || info.ValueSize != 8 || info.MaxEntries != 10 ||
		info.MapFlags != unix.BPF_F_NO_PREALLOC|unix.BPF_F_NUMA_NODE || info.NameString() != "attrs.all_1" ||
		info.BTFKeyTypeID != uint32(u32) || info.BTFValueTypeID != uint32(u64) || info.BTFID == 0 {
		t.Errorf("kernel's view differs from the spec: %+v", info)
	}
	if m.Type() != unix.BPF_MAP_TYPE_HASH || m.KeySize() != 4 || m.ValueSize() != 8 || m.MaxEntries() != 10 ||
		m.Flags() != info.MapFlags || m.Name() != "attrs.all_1" || m.ID() != info.ID {
		t.Errorf("accessors differ from the kernel's view: %v", m)
	}

	// map_extra: a bloom filter's number of hash functions.
	if err := sys.HaveMapType(unix.BPF_MAP_TYPE_BLOOM_FILTER); err == nil {
		bloom := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_BLOOM_FILTER, ValueSize: 4, MaxEntries: 16, MapExtra: 3})
		if info, err := bloom.Info(); err != nil || info.MapExtra != 3 {
			t.Errorf("bloom filter map_extra: %d, %v; want 3", info.MapExtra, err)
		}
	}
}

func TestCreateRejectsBadNames(t *testing.T) {
	start(t)
	for _, name := range []string{"sixteen_bytes_xx", "has space", "dash-ed", "ünï"} {
		_, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1, Name: name})
		if err == nil || !strings.Contains(err.Error(), "bad name") {
			t.Errorf("name %q: got %v, want a bad name error", name, err)
		}
	}
}

func TestPinOpenAndCheck(t *testing.T) {
	start(t)
	dir := testutil.BPFFS(t)
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 4, Name: "pinned"})
	path := filepath.Join(dir, "pinned")
	if err := m.Pin(path); err != nil {
		t.Fatal(err)
	}
	if err := m.UpdateInt(1, 11, mapops.Any); err != nil {
		t.Fatal(err)
	}
	o, err := mapops.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if v, err := o.LookupInt(1); err != nil || v != 11 {
		t.Errorf("lookup through the pin: %d, %v", v, err)
	}
	if err := o.Check(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, Name: "pinned"}); err != nil {
		t.Errorf("check of matching spec: %v", err)
	}
	err = o.Check(mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 8, ValueSize: 8})
	if err == nil || !strings.Contains(err.Error(), "type is hash, want array") || !strings.Contains(err.Error(), "key size is 4, want 8") {
		t.Errorf("check of a different spec: %v", err)
	}
	if _, err := mapops.NewTyped[uint64, uint64](o); err == nil || !strings.Contains(err.Error(), "key type uint64 is 8 bytes, the map's keys are 4") {
		t.Errorf("typed view with the wrong key size: %v", err)
	}

	if err := o.Unpin(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pin still there after Unpin: %v", err)
	}
	if err := o.Unpin(); err == nil {
		t.Error("second Unpin succeeded")
	}
	if _, err := mapops.Open(path); !errors.Is(err, unix.ENOENT) {
		t.Errorf("open of a removed pin: %v", err)
	}
}

func TestOpenIDAndFromFD(t *testing.T) {
	start(t)
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	if err := m.UpdateInt(2, 22, mapops.Any); err != nil {
		t.Fatal(err)
	}
	byID, err := mapops.OpenID(m.ID())
	if err != nil {
		t.Fatal(err)
	}
	defer byID.Close()
	if byID.ID() != m.ID() || byID.Type() != unix.BPF_MAP_TYPE_ARRAY || byID.MaxEntries() != 4 {
		t.Errorf("OpenID: %v", byID)
	}
	dup, err := mapops.FromFD(m.FD().Int())
	if err != nil {
		t.Fatal(err)
	}
	defer dup.Close()
	if dup.FD().Int() == m.FD().Int() {
		t.Error("FromFD did not duplicate the descriptor")
	}
	m.Close() // the duplicate stays usable
	if v, err := dup.LookupInt(2); err != nil || v != 22 {
		t.Errorf("lookup through the duplicate after closing the original: %d, %v", v, err)
	}
	if _, err := mapops.OpenID(0xfffffff0); !errors.Is(err, unix.ENOENT) {
		t.Errorf("OpenID of an unknown id: %v", err)
	}
}

func TestClosedMap(t *testing.T) {
	start(t)
	m, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 4})
	if err != nil {
		t.Fatal(err)
	}
	tm := typed[uint32, uint64](t, m)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	key, val := make([]byte, 4), make([]byte, 8)
	for name, err := range map[string]error{
		"Lookup":       m.Lookup(key, val),
		"Update":       m.Update(key, val, mapops.Any),
		"Delete":       m.Delete(key),
		"NextKey":      m.NextKey(nil, key),
		"UpdateInt":    m.UpdateInt(1, 1, mapops.Any),
		"Freeze":       m.Freeze(),
		"Typed.Lookup": func() error { _, err := tm.Lookup(1); return err }(),
		"Typed.Update": tm.Update(1, 2, mapops.Any),
		"All": func() error {
			all, errf := m.All()
			for range all {
				t.Error("closed map yielded an entry")
			}
			return errf()
		}(),
	} {
		if !errors.Is(err, os.ErrClosed) {
			t.Errorf("%s on a closed map: %v, want os.ErrClosed", name, err)
		}
	}
}

func TestBytes(t *testing.T) {
	start(t)
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 2})
	k1, k2, k3 := []byte{1, 0, 0, 0}, []byte{2, 0, 0, 0}, []byte{3, 0, 0, 0}
	v1 := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	val := make([]byte, 8)

	if err := m.Lookup(k1, val); !errors.Is(err, sys.ErrKeyNotExist) || !errors.Is(err, unix.ENOENT) {
		t.Errorf("lookup of a missing key: %v", err)
	}
	if err := m.Update(k1, v1, mapops.Exist); !errors.Is(err, sys.ErrKeyNotExist) {
		t.Errorf("update Exist of a missing key: %v", err)
	}
	if err := m.Update(k1, v1, mapops.NoExist); err != nil {
		t.Fatal(err)
	}
	if err := m.Update(k1, v1, mapops.NoExist); !errors.Is(err, sys.ErrKeyExist) || !errors.Is(err, unix.EEXIST) {
		t.Errorf("update NoExist of an existing key: %v", err)
	}
	if err := m.Lookup(k1, val); err != nil || !bytes.Equal(val, v1) {
		t.Errorf("lookup: %x, %v", val, err)
	}
	if err := m.Update(k2, v1, mapops.Any); err != nil {
		t.Fatal(err)
	}
	if err := m.Update(k3, v1, mapops.Any); !errors.Is(err, sys.ErrFull) || !errors.Is(err, unix.E2BIG) {
		t.Errorf("update of a full map: %v", err)
	}
	// Lock needs a bpf_spin_lock in the value; the kernel refuses it here.
	if err := m.Update(k1, v1, mapops.Lock); !errors.Is(err, unix.EINVAL) {
		t.Errorf("update with Lock on a value without a spin lock: %v", err)
	}

	var keys [][]byte
	next := make([]byte, 4)
	var prev []byte
	for {
		err := m.NextKey(prev, next)
		if errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, bytes.Clone(next))
		prev = bytes.Clone(next)
	}
	if len(keys) != 2 {
		t.Errorf("NextKey walk found %x, want 2 keys", keys)
	}

	if err := m.LookupAndDelete(k1, val); noHashLookupAndDelete(t, err) {
		if err := m.Delete(k1); err != nil {
			t.Error(err)
		}
	} else if err != nil || !bytes.Equal(val, v1) {
		t.Errorf("lookup and delete: %x, %v", val, err)
	}
	if err := m.Delete(k1); !errors.Is(err, sys.ErrKeyNotExist) {
		t.Errorf("delete of a deleted key: %v", err)
	}
	if err := m.Delete(k2); err != nil {
		t.Error(err)
	}
}

func TestSizeErrors(t *testing.T) {
	start(t)
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 2, Name: "sizes"})
	cases := []struct {
		op   string
		err  error
		want string
	}{
		{"lookup", m.Lookup(make([]byte, 3), make([]byte, 8)), "lookup: key is 3 bytes, the map needs 4"},
		{"lookup", m.Lookup(make([]byte, 4), make([]byte, 4)), "lookup: value is 4 bytes, the map needs 8"},
		{"update", m.Update(make([]byte, 8), make([]byte, 8), 0), "update: key is 8 bytes, the map needs 4"},
		{"delete", m.Delete(nil), "delete: key is 0 bytes, the map needs 4"},
		{"next key", m.NextKey(nil, make([]byte, 2)), "next key: next key is 2 bytes, the map needs 4"},
		{"update int", m.UpdateInt(1<<32, 1, 0), "key 4294967296 does not fit in 4 bytes"},
	}
	for _, c := range cases {
		var se *mapops.SizeError
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) || !strings.Contains(c.err.Error(), `"sizes"`) {
			t.Errorf("%s: got %v, want an error naming the map and %q", c.op, c.err, c.want)
		} else if c.op != "update int" && !errors.As(c.err, &se) {
			t.Errorf("%s: %v is not a *SizeError", c.op, c.err)
		}
	}
}

func TestInts(t *testing.T) {
	start(t)
	for _, ks := range []uint32{1, 2, 4, 8} {
		for _, vs := range []uint32{1, 2, 4, 8} {
			m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: ks, ValueSize: vs, MaxEntries: 8})
			maxK, maxV := uint64(1)<<(8*ks)-1, uint64(1)<<(8*vs)-1
			if ks == 8 {
				maxK = ^uint64(0)
			}
			if vs == 8 {
				maxV = ^uint64(0)
			}
			if err := m.UpdateInt(maxK, maxV, mapops.Any); err != nil {
				t.Fatalf("k%d v%d: %v", ks, vs, err)
			}
			// The bytes are little-endian, as C on the host sees them.
			key, val := make([]byte, ks), make([]byte, vs)
			key[0] = 0xff
			for i := range key {
				key[i] = 0xff
			}
			if err := m.Lookup(key, val); err != nil || !bytes.Equal(val, bytes.Repeat([]byte{0xff}, int(vs))) {
				t.Errorf("k%d v%d: bytes %x, %v", ks, vs, val, err)
			}
			if v, err := m.LookupInt(maxK); err != nil || v != maxV {
				t.Errorf("k%d v%d: LookupInt %d, %v", ks, vs, v, err)
			}
			if err := m.UpdateInt(1, 2, mapops.Any); err != nil {
				t.Fatal(err)
			}
			seen := map[uint64]bool{}
			var k *uint64
			for {
				n, err := m.NextKeyInt(k)
				if errors.Is(err, unix.ENOENT) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				seen[n] = true
				k = &n
			}
			if len(seen) != 2 || !seen[1] || !seen[maxK] {
				t.Errorf("k%d v%d: NextKeyInt walk %v", ks, vs, seen)
			}
			if err := m.DeleteInt(maxK); err != nil {
				t.Error(err)
			}
			if _, err := m.LookupInt(maxK); !errors.Is(err, sys.ErrKeyNotExist) {
				t.Errorf("lookup after delete: %v", err)
			}
			if vs < 8 {
				if err := m.UpdateInt(1, maxV+1, mapops.Any); err == nil {
					t.Errorf("k%d v%d: value %d accepted", ks, vs, maxV+1)
				}
			}
		}
	}
	odd := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 3, ValueSize: 8, MaxEntries: 1})
	if _, err := odd.LookupInt(1); err == nil || !strings.Contains(err.Error(), "keys are 3 bytes") {
		t.Errorf("LookupInt on 3-byte keys: %v", err)
	}
}

// TestOpenRefusesOtherObjects opens a pinned program and a program's
// descriptor as maps: the kernel answers an info query on any bpf object,
// so without a check these would become Maps with nonsense sizes.
func TestOpenRefusesOtherObjects(t *testing.T) {
	start(t)
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	prog, err := progs.UpdateHash(m.FD(), 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	path := filepath.Join(testutil.BPFFS(t), "prog")
	if err := sys.ObjPin(prog, path); err != nil {
		t.Fatal(err)
	}
	if o, err := mapops.Open(path); err == nil || !strings.Contains(err.Error(), "not a map") {
		t.Errorf("Open of a pinned program: %v, %v; want a not-a-map error", o, err)
		if o != nil {
			o.Close()
		}
	}
	if o, err := mapops.FromFD(prog.Int()); err == nil || !strings.Contains(err.Error(), "not a map") {
		t.Errorf("FromFD of a program: %v, %v; want a not-a-map error", o, err)
		if o != nil {
			o.Close()
		}
	}
	if _, err := mapops.FromFD(-1); !errors.Is(err, unix.EBADF) {
		t.Errorf("FromFD(-1): %v, want EBADF", err)
	}
}

// TestLock updates and reads a value holding a bpf_spin_lock with the
// Lock flag, one by one and in a batch: the kernel copies under the lock
// and never hands out the lock word itself.
func TestLock(t *testing.T) {
	start(t)
	var b btf.Builder
	u32 := b.Int("unsigned int", 4, false)
	u64 := b.Int("unsigned long long", 8, false)
	lock := b.Struct("bpf_spin_lock", 4, btf.Member{Name: "val", Type: b.Int("int", 4, true)})
	value := b.Struct("locked", 16,
		btf.Member{Name: "lock", Type: lock},
		btf.Member{Name: "seq", Type: u32, BitOffset: 32},
		btf.Member{Name: "count", Type: u64, BitOffset: 64})
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	btfFD, err := sys.BTFLoad(raw)
	if err != nil {
		t.Fatalf("load btf: %v", err)
	}
	defer btfFD.Close()
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 16, MaxEntries: 4,
		BTF: btfFD, BTFKeyTypeID: uint32(u32), BTFValueTypeID: uint32(value)})

	// The caller's lock word is ignored, and reads give it as zero.
	key := []byte{1, 0, 0, 0}
	in := []byte{0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0, 42, 0, 0, 0, 0, 0, 0, 0}
	if err := m.Update(key, in, mapops.Any|mapops.Lock); err != nil {
		t.Fatal(err)
	}
	out := make([]byte, 16)
	if err := m.LookupFlags(key, out, mapops.Lock); err != nil {
		t.Fatal(err)
	}
	if want := append([]byte{0, 0, 0, 0}, in[4:]...); !bytes.Equal(out, want) {
		t.Errorf("lookup under the lock: % x, want % x", out, want)
	}

	type locked struct {
		Lock  uint32
		Seq   uint32
		Count uint64
	}
	tm := typed[uint32, locked](t, m)
	testutil.RequireFeature(t, sys.HaveBatchOps) // the rest is the batch form
	if n, err := tm.BatchUpdate([]uint32{2, 3}, []locked{{Seq: 2, Count: 20}, {Seq: 3, Count: 30}}, mapops.Lock); err != nil || n != 2 {
		t.Fatalf("batch update with Lock: %d, %v", n, err)
	}
	if v, err := tm.Lookup(3); err != nil || v != (locked{Seq: 3, Count: 30}) {
		t.Errorf("after a locked batch update: %+v, %v", v, err)
	}
}
