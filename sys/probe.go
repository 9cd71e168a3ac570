package sys

import (
	"errors"
	"fmt"
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
	mapTypeProbe = map[MapType]error{}
)

// HaveMapType reports whether the kernel can create maps of type t. When
// it cannot, the error names the release that added t.
func HaveMapType(t MapType) error {
	probeMu.Lock()
	defer probeMu.Unlock()
	if err, ok := mapTypeProbe[t]; ok {
		return err
	}
	err := probeMapType(t)
	mapTypeProbe[t] = err
	return err
}

func probeMapType(t MapType) error {
	f, known := t.Facts()
	if !known || mapTypes[t].probe.MaxEntries == 0 {
		return fmt.Errorf("probe map type %s: no probe for this type", t)
	}
	a := mapTypes[t].probe
	a.MapType = t
	if f.FDKind == "map" {
		inner, err := MapCreate(&MapCreateAttr{MapType: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 1})
		if err != nil {
			return fmt.Errorf("probe map type %s: inner map: %w", t, err)
		}
		defer inner.Close()
		a.InnerMapFD = uint32(inner.Int())
	}
	fd, err := MapCreate(&a)
	if err != nil {
		return probeResult("map type "+t.String()+" (Linux "+f.Since+"+)", err)
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

// HaveRingBuf reports whether the kernel has BPF_MAP_TYPE_RINGBUF (5.8+).
func HaveRingBuf() error { return HaveMapType(unix.BPF_MAP_TYPE_RINGBUF) }

// HaveUserRingBuf reports whether the kernel has BPF_MAP_TYPE_USER_RINGBUF
// (6.1+).
func HaveUserRingBuf() error { return HaveMapType(unix.BPF_MAP_TYPE_USER_RINGBUF) }

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
