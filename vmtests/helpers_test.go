package vmtests

import (
	"testing"
	"unsafe"

	"github.com/bpfmaps/bpfmaps/sys"
)

// create makes a map for the test and closes it when the test ends.
func create(t testing.TB, attr sys.MapCreateAttr) *sys.FD {
	t.Helper()
	fd, err := sys.MapCreate(&attr)
	if err != nil {
		t.Fatalf("create %s map (key %d, value %d, %d entries, flags %#x): %v",
			sys.MapTypeName(attr.MapType), attr.KeySize, attr.ValueSize, attr.MaxEntries, attr.MapFlags, err)
	}
	t.Cleanup(func() { fd.Close() })
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
		if err != nil {
			if isNotExist(err) {
				return out
			}
			t.Fatalf("get next key after %d keys: %v", len(out), err)
		}
		out = append(out, next)
		key = next
		k = unsafe.Pointer(&key)
	}
	t.Fatalf("get next key did not end after %d keys", len(out))
	return nil
}
