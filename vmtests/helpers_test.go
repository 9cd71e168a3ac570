package vmtests

import (
	"testing"

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
