package sys

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Feature probes answer "does this kernel have X?" by trying the smallest
// thing that needs X. Each answer is computed once per process. A probe
// returns nil when the feature works, an error wrapping ErrNotSupported when
// the kernel lacks it, and any other error (EPERM, say) when it could not
// tell.

var (
	probeMu      sync.Mutex
	mapTypeProbe = map[uint32]error{}
)

// HaveMapType reports whether the kernel can create maps of type t.
func HaveMapType(t uint32) error {
	probeMu.Lock()
	defer probeMu.Unlock()
	if err, ok := mapTypeProbe[t]; ok {
		return err
	}
	err := probeMapType(t)
	mapTypeProbe[t] = err
	return err
}

// probeAttr returns the smallest valid creation attributes for map type t.
func probeAttr(t uint32) (MapCreateAttr, error) {
	a := MapCreateAttr{MapType: t, KeySize: 4, ValueSize: 4, MaxEntries: 1}
	switch t {
	case unix.BPF_MAP_TYPE_HASH, unix.BPF_MAP_TYPE_ARRAY, unix.BPF_MAP_TYPE_PERCPU_HASH,
		unix.BPF_MAP_TYPE_PERCPU_ARRAY, unix.BPF_MAP_TYPE_LRU_HASH, unix.BPF_MAP_TYPE_LRU_PERCPU_HASH,
		unix.BPF_MAP_TYPE_PROG_ARRAY, unix.BPF_MAP_TYPE_PERF_EVENT_ARRAY, unix.BPF_MAP_TYPE_DEVMAP,
		unix.BPF_MAP_TYPE_DEVMAP_HASH, unix.BPF_MAP_TYPE_CPUMAP, unix.BPF_MAP_TYPE_XSKMAP,
		unix.BPF_MAP_TYPE_SOCKMAP, unix.BPF_MAP_TYPE_SOCKHASH, unix.BPF_MAP_TYPE_CGROUP_ARRAY:
	case unix.BPF_MAP_TYPE_STACK_TRACE:
		a.ValueSize = 8
	case unix.BPF_MAP_TYPE_LPM_TRIE:
		a.KeySize, a.MapFlags = 8, unix.BPF_F_NO_PREALLOC
	case unix.BPF_MAP_TYPE_QUEUE, unix.BPF_MAP_TYPE_STACK, unix.BPF_MAP_TYPE_BLOOM_FILTER:
		a.KeySize = 0
	case unix.BPF_MAP_TYPE_RINGBUF, unix.BPF_MAP_TYPE_USER_RINGBUF:
		a.KeySize, a.ValueSize, a.MaxEntries = 0, 0, uint32(os.Getpagesize())
	case unix.BPF_MAP_TYPE_ARRAY_OF_MAPS, unix.BPF_MAP_TYPE_HASH_OF_MAPS:
		// InnerMapFD is filled by probeMapType.
	default:
		return a, fmt.Errorf("probe map type %s: no probe for this type", MapTypeName(t))
	}
	return a, nil
}

func probeMapType(t uint32) error {
	a, err := probeAttr(t)
	if err != nil {
		return err
	}
	if t == unix.BPF_MAP_TYPE_ARRAY_OF_MAPS || t == unix.BPF_MAP_TYPE_HASH_OF_MAPS {
		inner, err := MapCreate(&MapCreateAttr{MapType: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1})
		if err != nil {
			return fmt.Errorf("probe map type %s: inner map: %w", MapTypeName(t), err)
		}
		defer inner.Close()
		a.InnerMapFD = uint32(inner.Int())
	}
	fd, err := MapCreate(&a)
	if err != nil {
		return probeResult("map type "+MapTypeName(t), err)
	}
	return fd.Close()
}

// probeResult turns the errno of a probe into ErrNotSupported where it
// means the kernel does not know what was asked.
func probeResult(what string, err error) error {
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.E2BIG) || errors.Is(err, unix.EOPNOTSUPP) ||
		errors.Is(err, unix.ENOTSUP) {
		return fmt.Errorf("%s: %w (%v)", what, ErrNotSupported, err)
	}
	return fmt.Errorf("probe %s: %w", what, err)
}

// HaveRingbuf reports whether the kernel has BPF_MAP_TYPE_RINGBUF (5.8+).
func HaveRingbuf() error { return HaveMapType(unix.BPF_MAP_TYPE_RINGBUF) }

// HaveUserRingbuf reports whether the kernel has BPF_MAP_TYPE_USER_RINGBUF
// (6.1+).
func HaveUserRingbuf() error { return HaveMapType(unix.BPF_MAP_TYPE_USER_RINGBUF) }

var haveBatchOps = sync.OnceValue(func() error {
	fd, err := MapCreate(&MapCreateAttr{MapType: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if err != nil {
		return fmt.Errorf("probe batch ops: %w", err)
	}
	defer fd.Close()
	var keys, values [4]byte
	var out [4]byte
	err = MapLookupBatch(fd, &Batch{OutBatch: unsafe.Pointer(&out), Keys: unsafe.Pointer(&keys),
		Values: unsafe.Pointer(&values), Count: 1})
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil // an empty map answers ENOENT: the command exists
	}
	return probeResult("batch map operations", err)
})

// HaveBatchOps reports whether the kernel has the BPF_MAP_*_BATCH commands
// for hash maps (5.6+).
func HaveBatchOps() error { return haveBatchOps() }

var haveMmapableArray = sync.OnceValue(func() error {
	fd, err := MapCreate(&MapCreateAttr{MapType: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8,
		MaxEntries: 1, MapFlags: unix.BPF_F_MMAPABLE})
	if err != nil {
		return probeResult("mmapable arrays", err)
	}
	return fd.Close()
})

// HaveMmapableArray reports whether arrays can be created with
// BPF_F_MMAPABLE (5.5+).
func HaveMmapableArray() error { return haveMmapableArray() }
