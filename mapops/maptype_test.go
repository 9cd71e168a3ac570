package mapops_test

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// TestCreateChecksSizesOfEveryType holds Create's checks before the system
// call to sys's table of map types for types beyond the common ones: a
// size the type needs is named when it is 0, a key of the wrong size when
// the type's key rule fixes it, and the storage types, whose max_entries
// must be 0, are not refused for it.
func TestCreateChecksSizesOfEveryType(t *testing.T) {
	for _, c := range []struct {
		spec mapops.Spec
		want string
	}{
		{mapops.Spec{Type: unix.BPF_MAP_TYPE_DEVMAP, ValueSize: 4, MaxEntries: 4}, "KeySize is 0: a devmap map needs keys"},
		{mapops.Spec{Type: unix.BPF_MAP_TYPE_PROG_ARRAY, ValueSize: 4, MaxEntries: 4}, "KeySize is 0: a prog_array map needs keys"},
		{mapops.Spec{Type: unix.BPF_MAP_TYPE_STACK_TRACE, KeySize: 4, MaxEntries: 4}, "ValueSize is 0: a stack_trace map needs values"},
		{mapops.Spec{Type: unix.BPF_MAP_TYPE_SOCKHASH, KeySize: 4, ValueSize: 4}, "MaxEntries is 0: a sockhash map needs room"},
		{mapops.Spec{Type: 33, Flags: unix.BPF_F_MMAPABLE}, "MaxEntries is 0: a arena map needs room"},
		{mapops.Spec{Type: unix.BPF_MAP_TYPE_SOCKMAP, KeySize: 8, ValueSize: 4, MaxEntries: 4}, "KeySize is 8: a sockmap map's keys are 4-byte indexes"},
		{mapops.Spec{Type: unix.BPF_MAP_TYPE_TASK_STORAGE, KeySize: 8, ValueSize: 8, Flags: unix.BPF_F_NO_PREALLOC},
			"KeySize is 8: a task_storage map's keys are 4-byte descriptors"},
		{mapops.Spec{Type: 33, KeySize: 4, MaxEntries: 1, Flags: unix.BPF_F_MMAPABLE}, "KeySize is 4: a arena map has no keys"},
	} {
		name := sys.MapType(c.spec.Type).String()
		m, err := mapops.Create(c.spec)
		if err == nil {
			m.Close()
		}
		wantErr(t, name, err, nil, c.want)
		if se := (*sys.Error)(nil); errors.As(err, &se) {
			t.Errorf("%s: %v came from the kernel, not from the check before it", name, err)
		}
	}
	// Local storage takes max_entries 0; without BTF the kernel refuses
	// it, but not Create's check.
	_, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_TASK_STORAGE, KeySize: 4, ValueSize: 8, Flags: unix.BPF_F_NO_PREALLOC})
	if err == nil || strings.Contains(err.Error(), "MaxEntries") {
		t.Errorf("task_storage with MaxEntries 0: %v, want the kernel's answer", err)
	}
}
