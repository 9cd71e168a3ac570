package mapops

import (
	"errors"
	"fmt"
	"os"

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

// mapTypeArena is BPF_MAP_TYPE_ARENA (6.9), which golang.org/x/sys does
// not name yet.
const mapTypeArena = 33

// maxHashKey is the largest key of the hash-table family (MAX_BPF_STACK):
// a program builds keys on its 512-byte stack.
const maxHashKey = 512

// maxPerCPUValue is the largest value of a per-CPU map (PCPU_MIN_UNIT_SIZE).
const maxPerCPUValue = 32 << 10

// invalid returns the error of a spec field the kernel would refuse with
// EINVAL (or errno), wrapping that errno so errors.Is sees it as it would
// the kernel's.
func invalid(errno unix.Errno, format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), errno)
}

// check names the field of spec at fault, where that can be told before
// the system call. The errors wrap the errno the kernel would answer.
func (spec *Spec) check() error {
	if why := validName(spec.Name); why != "" {
		return invalid(unix.EINVAL, "bad name %q: %s", spec.Name, why)
	}
	name := spec.Type.String()
	if _, known := spec.Type.Facts(); !known {
		return invalid(unix.EINVAL, "Type %d is not a map type this package knows", spec.Type)
	}
	if bad := spec.Flags &^ knownCreateFlags; bad != 0 {
		return invalid(unix.EINVAL, "Flags %#x: unknown bits %#x", spec.Flags, bad)
	}
	keySize, valueSize := spec.KeySize, spec.ValueSize
	if keySize == 0 && spec.KeyType != nil {
		keySize = uint32(spec.KeyType.Size())
	}
	if valueSize == 0 && spec.ValueType != nil {
		valueSize = uint32(spec.ValueType.Size())
	}
	n := specNeeds(spec.Type)
	switch {
	case n.key && keySize == 0:
		return invalid(unix.EINVAL, "KeySize is 0: a %s map needs keys", name)
	case n.value && valueSize == 0:
		return invalid(unix.EINVAL, "ValueSize is 0: a %s map needs values", name)
	case n.entries && spec.MaxEntries == 0:
		return invalid(unix.EINVAL, "MaxEntries is 0: a %s map needs room for at least one entry", name)
	}
	if err := spec.checkFlags(name); err != nil {
		return err
	}
	if err := spec.checkSizes(name, keySize, valueSize); err != nil {
		return err
	}
	if isMapOfMaps(spec.Type) {
		switch {
		case spec.InnerMap == nil:
			return invalid(unix.EINVAL, "InnerMap is missing: a %s map needs a template of the maps it holds", name)
		case isMapOfMaps(spec.InnerMap.typ):
			return invalid(unix.EINVAL, "InnerMap is a %s map: maps of maps do not nest (the kernel allows one level)", spec.InnerMap.typ)
		}
	}
	return nil
}

func isMapOfMaps(t sys.MapType) bool {
	f, _ := t.Facts()
	return f.FDKind == "map"
}

// checkFlags refuses combinations of flags no map takes, and flags the
// map type does not take.
func (spec *Spec) checkFlags(name string) error {
	f := spec.Flags
	switch {
	case f&unix.BPF_F_RDONLY != 0 && f&unix.BPF_F_WRONLY != 0:
		return invalid(unix.EINVAL, "Flags: BPF_F_RDONLY and BPF_F_WRONLY exclude each other")
	case f&unix.BPF_F_RDONLY_PROG != 0 && f&unix.BPF_F_WRONLY_PROG != 0:
		return invalid(unix.EINVAL, "Flags: BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG exclude each other")
	case f&unix.BPF_F_MMAPABLE != 0 && spec.Type != unix.BPF_MAP_TYPE_ARRAY && spec.Type != mapTypeArena:
		return invalid(unix.EINVAL, "Flags: BPF_F_MMAPABLE is for arrays (and arenas), not a %s map", name)
	case f&unix.BPF_F_NO_PREALLOC != 0 && isArray(spec.Type):
		return invalid(unix.EINVAL, "Flags: BPF_F_NO_PREALLOC is not for arrays, whose elements always exist")
	case f&unix.BPF_F_NO_PREALLOC == 0 && spec.Type == unix.BPF_MAP_TYPE_LPM_TRIE:
		return invalid(unix.EINVAL, "Flags: an lpm_trie map needs BPF_F_NO_PREALLOC")
	}
	return nil
}

// checkSizes refuses key and value sizes the map type cannot have.
func (spec *Spec) checkSizes(name string, keySize, valueSize uint32) error {
	f, _ := spec.Type.Facts()
	switch {
	case spec.Type == unix.BPF_MAP_TYPE_RINGBUF || spec.Type == unix.BPF_MAP_TYPE_USER_RINGBUF:
		page := uint32(os.Getpagesize())
		switch {
		case keySize != 0 || valueSize != 0:
			return invalid(unix.EINVAL, "KeySize %d, ValueSize %d: a %s map has neither (both 0)", keySize, valueSize, name)
		case spec.MaxEntries&(spec.MaxEntries-1) != 0 || spec.MaxEntries%page != 0:
			return invalid(unix.EINVAL, "MaxEntries %d: a %s map's size in bytes must be a power of two and a multiple of the page size (%d)",
				spec.MaxEntries, name, page)
		}
	case f.Key == sys.KeyNone:
		if keySize != 0 {
			return invalid(unix.EINVAL, "KeySize is %d: a %s map has no keys (KeySize 0)", keySize, name)
		}
	case f.Key == sys.Key4:
		if keySize != 4 {
			what := "indexes"
			if f.NoEntries {
				what = "descriptors"
			}
			return invalid(unix.EINVAL, "KeySize is %d: a %s map's keys are 4-byte %s", keySize, name, what)
		}
	case spec.Type == unix.BPF_MAP_TYPE_HASH || spec.Type == unix.BPF_MAP_TYPE_PERCPU_HASH || spec.Type == unix.BPF_MAP_TYPE_LRU_HASH ||
		spec.Type == unix.BPF_MAP_TYPE_LRU_PERCPU_HASH || spec.Type == unix.BPF_MAP_TYPE_HASH_OF_MAPS:
		if keySize > maxHashKey {
			return invalid(unix.E2BIG, "KeySize is %d: a %s map's keys are at most %d bytes (a program's stack)", keySize, name, maxHashKey)
		}
	case spec.Type == unix.BPF_MAP_TYPE_LPM_TRIE:
		if keySize < 5 || keySize > 4+256 {
			return invalid(unix.EINVAL, "KeySize is %d: an lpm_trie key is a 4-byte prefix length and 1 to 256 bytes of data", keySize)
		}
	}
	if isMapOfMaps(spec.Type) && valueSize != 4 {
		return invalid(unix.EINVAL, "ValueSize is %d: a %s map's values are 4-byte map descriptors", valueSize, name)
	}
	if isPerCPU(spec.Type) && valueSize > maxPerCPUValue {
		return invalid(unix.E2BIG, "ValueSize is %d: a per-CPU value is at most %d bytes", valueSize, maxPerCPUValue)
	}
	return nil
}

// createErr says what an errno from BPF_MAP_CREATE usually means for spec,
// where the kernel names nothing and check could not tell beforehand.
func (spec *Spec) createErr(err error) error {
	name := spec.Type.String()
	var hint string
	switch errno(unwrapSys(err)) {
	case unix.EINVAL:
		hint = "the kernel refused the spec's combination of type, sizes and flags"
		switch {
		case isMapOfMaps(spec.Type):
			hint += " (for maps of maps: an InnerMap type that cannot be held, such as one with a bpf_spin_lock or timer in its value)"
		case spec.Flags&unix.BPF_F_NUMA_NODE != 0:
			hint += " (BPF_F_NUMA_NODE: is NumaNode a node of this machine?)"
		case spec.BTF != nil || spec.KeyType != nil || spec.ValueType != nil:
			hint += " (or the BTF types do not describe keys and values of these sizes)"
		case spec.MapExtra != 0:
			hint += " (MapExtra: a bloom filter takes 0 to 15 hash functions)"
		}
	case unix.E2BIG:
		hint = fmt.Sprintf("the map is too large: KeySize %d, ValueSize %d or MaxEntries %d is over a kernel limit "+
			"(a value over the kmalloc limit, a few MiB; a total size that overflows)", spec.KeySize, spec.ValueSize, spec.MaxEntries)
	case unix.ENOMEM:
		hint = fmt.Sprintf("the kernel could not allocate MaxEntries %d elements of ValueSize %d", spec.MaxEntries, spec.ValueSize)
	case unix.EPERM:
		switch spec.Type {
		case unix.BPF_MAP_TYPE_DEVMAP, unix.BPF_MAP_TYPE_DEVMAP_HASH, unix.BPF_MAP_TYPE_CPUMAP,
			unix.BPF_MAP_TYPE_XSKMAP, unix.BPF_MAP_TYPE_SOCKMAP, unix.BPF_MAP_TYPE_SOCKHASH:
			hint = "a " + name + " map needs CAP_NET_ADMIN as well as CAP_BPF"
		}
	}
	if hint == "" {
		return fmt.Errorf("create %s map %q: %w", name, spec.Name, err)
	}
	return fmt.Errorf("create %s map %q: %s: %w", name, spec.Name, hint, err)
}

// unwrapSys returns the *sys.Error in err's chain, or err.
func unwrapSys(err error) error {
	var se *sys.Error
	if errors.As(err, &se) {
		return se
	}
	return err
}
