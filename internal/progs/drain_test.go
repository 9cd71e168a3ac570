package progs

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// TestDrainSumLoads loads the drain program (its BTF func_info is what the
// verifier checks) and runs it on an empty ring: it drains nothing.
func TestDrainSumLoads(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveUserRingbuf)
	ring, err := sys.MapCreate(&sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_USER_RINGBUF, MaxEntries: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	sums, err := sys.MapCreate(&sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer sums.Close()
	prog, err := DrainSum(ring, sums)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if _, err := Run(prog, 3); err != nil {
		t.Fatal(err)
	}
	key, v := uint32(1), uint64(99)
	if err := sys.MapLookupElem(sums, unsafe.Pointer(&key), unsafe.Pointer(&v), 0); err != nil || v != 0 {
		t.Fatalf("samples drained from an empty ring = %d (%v), want 0", v, err)
	}
}
