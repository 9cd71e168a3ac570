package sys_test

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

// A hash map from a 4-byte key to an 8-byte value, written and read through
// the raw commands. Most programs use package mapops instead.
func Example() {
	attr := sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_HASH, KeySize: 4, ValueSize: 8, MaxEntries: 16}
	sys.SetName(&attr.MapName, "example")
	m, err := sys.MapCreate(&attr)
	if err != nil {
		fmt.Println(err) // e.g. "map create: operation not permitted: needs CAP_BPF …"
		return
	}
	defer m.Close()

	key, value := uint32(1), uint64(42)
	if err := sys.MapUpdateElem(m, unsafe.Pointer(&key), unsafe.Pointer(&value), unix.BPF_NOEXIST); err != nil {
		fmt.Println(err)
		return
	}
	var got uint64
	if err := sys.MapLookupElem(m, unsafe.Pointer(&key), unsafe.Pointer(&got), 0); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("value:", got)

	missing := uint32(2)
	err = sys.MapLookupElem(m, unsafe.Pointer(&missing), unsafe.Pointer(&got), 0)
	fmt.Println(err, errors.Is(err, unix.ENOENT))
}

// Feature probes tell "this kernel lacks it" apart from other failures.
func ExampleHaveUserRingBuf() {
	switch err := sys.HaveUserRingBuf(); {
	case err == nil:
		fmt.Println("user ring buffers available")
	case errors.Is(err, sys.ErrNotSupported):
		fmt.Println("kernel too old for user ring buffers (6.1+)")
	default:
		fmt.Println("cannot tell:", err)
	}
}
