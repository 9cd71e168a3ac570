package mapops_test

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// TestMemoryOfNamesTheCause refuses a type whose size fits the slots but
// whose Go memory is not its C bytes with the real cause and the field,
// not a size mismatch that is none.
func TestMemoryOfNamesTheCause(t *testing.T) {
	start(t)
	testutil.RequireFeature(t, sys.HaveMmapableArray)
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 24, MaxEntries: 2, Flags: unix.BPF_F_MMAPABLE})
	type Blank struct {
		A uint64
		_ uint64
		B uint64
	}
	_, err := mapops.MemoryOf[Blank](m)
	if err == nil || !strings.Contains(err.Error(), "Blank._") || !strings.Contains(err.Error(), "not encoded") {
		t.Fatalf("MemoryOf with a blank field: %v, want an error naming Blank._ and saying blank fields are not encoded", err)
	}
	type Flag struct {
		A  uint64
		On bool
		_  [15]byte
	}
	if _, err := mapops.MemoryOf[Flag](m); err == nil || !strings.Contains(err.Error(), "Flag.On is a bool") {
		t.Fatalf("MemoryOf with a bool: %v, want an error naming Flag.On", err)
	}
}
