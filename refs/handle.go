package refs

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/bpfmaps/bpfmaps/sys"
)

// handle is a reference's view of its map: the descriptor (borrowed, never
// closed here), the shared per-map state and the sizes the kernel reports.
type handle struct {
	fd        *sys.FD
	st        *mapState
	keySize   int
	valueSize int
}

// newHandle checks the map behind fd against want (a unix.BPF_MAP_TYPE_*)
// and joins its shared state.
func newHandle(op string, fd *sys.FD, want ...uint32) (handle, error) {
	if fd == nil {
		return handle{}, fmt.Errorf("%s: nil map", op)
	}
	info, err := sys.MapGetInfo(fd)
	if err != nil {
		return handle{}, fmt.Errorf("%s: %w", op, err)
	}
	ok := false
	for _, t := range want {
		ok = ok || info.Type == t
	}
	if !ok {
		names := ""
		for i, t := range want {
			if i > 0 {
				names += " or "
			}
			names += sys.MapTypeName(t)
		}
		return handle{}, fmt.Errorf("%s: map type is %s, want %s", op, sys.MapTypeName(info.Type), names)
	}
	return handle{fd: fd, st: acquireState(info.ID), keySize: int(info.KeySize), valueSize: int(info.ValueSize)}, nil
}

// ptr returns the address of b's first byte, or nil for an empty b (the
// key of a queue or stack).
func ptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// bufPool hands out scratch buffers of one size, so element calls made by
// several goroutines at once neither share nor allocate buffers.
type bufPool struct {
	size int
	pool sync.Pool
}

func newBufPool(size int) *bufPool {
	p := &bufPool{size: size}
	p.pool.New = func() any { b := make([]byte, size); return &b }
	return p
}

func (p *bufPool) get() *[]byte  { return p.pool.Get().(*[]byte) }
func (p *bufPool) put(b *[]byte) { p.pool.Put(b) }

// The element calls the references make. Queues and stacks have no key.

func sysLookup(fd *sys.FD, key, value unsafe.Pointer) error {
	return sys.MapLookupElem(fd, key, value, 0)
}

func sysUpdate(fd *sys.FD, key, value unsafe.Pointer) error {
	return sys.MapUpdateElem(fd, key, value, 0)
}

func sysPop(fd *sys.FD, value unsafe.Pointer) error {
	return sys.MapLookupAndDeleteElem(fd, nil, value, 0)
}

func sysPush(fd *sys.FD, value unsafe.Pointer) error {
	return sys.MapUpdateElem(fd, nil, value, 0)
}
