package mapops

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

// knownCreateFlags are the map_flags bits this package knows, BPF_F_NO_PREALLOC
// (1<<0) through BPF_F_RB_OVERWRITE (1<<19). Create refuses other bits
// before the system call, so that a typo is named rather than answered
// with a bare EINVAL; a flag newer than this list is refused too until the
// package learns it.
const knownCreateFlags = 1<<20 - 1

// needs says which sizes a map type must have non-zero.
type needs struct{ key, value, entries bool }

// specNeeds says which sizes Create checks before the system call for
// maps of type t.
func specNeeds(t sys.MapType) needs {
	f, _ := t.Facts()
	return needs{f.Key != sys.KeyNone, f.Value != sys.ValueNone, !f.NoEntries}
}

// check names the field of spec at fault, where that can be told before
// the system call.
func (spec *Spec) check() error {
	if why := validName(spec.Name); why != "" {
		return fmt.Errorf("bad name %q: %s", spec.Name, why)
	}
	name := spec.Type.String()
	if _, known := spec.Type.Facts(); !known {
		return fmt.Errorf("Type %d is not a map type this package knows", spec.Type)
	}
	if bad := spec.Flags &^ knownCreateFlags; bad != 0 {
		return fmt.Errorf("Flags %#x: unknown bits %#x", spec.Flags, bad)
	}
	n := specNeeds(spec.Type)
	switch {
	case n.key && spec.KeySize == 0 && spec.KeyType == nil: // KeyType gives the size
		return fmt.Errorf("KeySize is 0: a %s map needs keys", name)
	case n.value && spec.ValueSize == 0 && spec.ValueType == nil:
		return fmt.Errorf("ValueSize is 0: a %s map needs values", name)
	case n.entries && spec.MaxEntries == 0:
		return fmt.Errorf("MaxEntries is 0: a %s map needs room for at least one entry", name)
	}
	if (spec.Type == unix.BPF_MAP_TYPE_ARRAY_OF_MAPS || spec.Type == unix.BPF_MAP_TYPE_HASH_OF_MAPS) && spec.InnerMap == nil {
		return fmt.Errorf("InnerMap is missing: a %s map needs a template of the maps it holds", name)
	}
	return nil
}
