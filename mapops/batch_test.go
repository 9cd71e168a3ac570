package mapops_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

const dumpEntries = 100_000

// dumpMap returns a hash of dumpEntries entries i -> i.
func dumpMap(t testing.TB) *mapops.Typed[uint32, uint64] {
	t.Helper()
	start(t)
	testutil.RequireFeature(t, sys.HaveBatchOps)
	tm := typed[uint32, uint64](t, create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: dumpEntries}))
	keys, vals := make([]uint32, dumpEntries), make([]uint64, dumpEntries)
	for i := range keys {
		keys[i], vals[i] = uint32(i), uint64(i)
	}
	if n, err := tm.BatchUpdate(keys, vals, mapops.Any); err != nil || n != dumpEntries {
		t.Fatalf("fill: %d, %v", n, err)
	}
	return tm
}

// dump reads the whole map with BatchLookup into slices of capacity 4096
// and returns how many entries it read and whether each value was its key.
func dump(tm *mapops.Typed[uint32, uint64], keys []uint32, vals []uint64) (int, bool, error) {
	var c mapops.Cursor
	n, ok := 0, true
	for !c.Done() {
		var err error
		if keys, vals, err = tm.BatchLookup(&c, keys[:0], vals[:0], cap(keys)); err != nil {
			return n, ok, err
		}
		for i, k := range keys {
			ok = ok && uint64(k) == vals[i]
		}
		n += len(keys)
	}
	return n, ok, nil
}

// TestBatchLookupAllocatesNothingPerEntry dumps 100,000 entries into the
// caller's slices of capacity 4096: the cursor's buffers are allocated
// once per dump, nothing per entry.
func TestBatchLookupAllocatesNothingPerEntry(t *testing.T) {
	tm := dumpMap(t)
	keys, vals := make([]uint32, 0, 4096), make([]uint64, 0, 4096)
	var n int
	var ok bool
	var err error
	allocs := testing.AllocsPerRun(3, func() { n, ok, err = dump(tm, keys, vals) })
	if err != nil || n != dumpEntries || !ok {
		t.Fatalf("dump: %d entries (values right: %v), %v", n, ok, err)
	}
	if allocs > 16 {
		if testutil.RaceEnabled {
			t.Logf("%v allocations per dump under the race detector", allocs)
			return
		}
		t.Errorf("%v allocations per dump of %d entries, want a few per dump (the cursor's buffers)", allocs, dumpEntries)
	}
}
