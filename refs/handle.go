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

// scratch is the buffer one element call works in: the map's bytes and the
// value they decode to, on the heap already so that the codec, which may
// hand the value to an interface, costs no allocation.
type scratch[T any] struct {
	b []byte
	v T
}

// scratchPool hands out scratch space of one size, so element calls made
// by several goroutines at once neither share nor allocate it.
type scratchPool[T any] struct{ pool sync.Pool }

func newScratchPool[T any](size int) *scratchPool[T] {
	p := &scratchPool[T]{}
	p.pool.New = func() any { return &scratch[T]{b: make([]byte, size)} }
	return p
}

func (p *scratchPool[T]) get() *scratch[T] { return p.pool.Get().(*scratch[T]) }

func (p *scratchPool[T]) put(s *scratch[T]) {
	var zero T
	s.v = zero // do not keep what the value points to (a cstring's text) alive
	p.pool.Put(s)
}

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
