package mapops

import (
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/structcodec"
	"github.com/bpfmaps/bpfmaps/sys"
)

// Queue is a typed view of a BPF queue (first in, first out) or stack
// (last in, first out) map holding values of type V. It is safe for
// concurrent use and does not own the Map.
type Queue[V any] struct {
	m    *Map
	vc   *structcodec.Codec[V]
	flat bool
	pool sync.Pool // *queueScratch[V]
}

type queueScratch[V any] struct {
	v   V
	buf []byte
}

// NewQueue returns a typed view of a queue or stack map, checking once
// that V's C size is the map's value size.
func NewQueue[V any](m *Map) (*Queue[V], error) {
	if m.typ != unix.BPF_MAP_TYPE_QUEUE && m.typ != unix.BPF_MAP_TYPE_STACK {
		return nil, fmt.Errorf("%s: not a queue or stack", m)
	}
	vc, err := structcodec.For[V]()
	if err != nil {
		return nil, fmt.Errorf("%s: value type: %w", m, err)
	}
	if vc.Size() != m.valueSize {
		return nil, fmt.Errorf("%s: value type %s is %d bytes, the map's values are %d", m, reflect.TypeFor[V](), vc.Size(), m.valueSize)
	}
	q := &Queue[V]{m: m, vc: vc, flat: flat(vc.Layout())}
	q.pool.New = func() any { return &queueScratch[V]{buf: make([]byte, m.valueSize)} }
	return q, nil
}

// Map returns the underlying map.
func (q *Queue[V]) Map() *Map { return q.m }

// Push adds v. A full map gives an error wrapping ErrFull (unix.E2BIG),
// unless flags is Exist, which drops the oldest element to make room.
func (q *Queue[V]) Push(v V, flags Flags) error {
	var err error
	if q.flat {
		err = sys.MapUpdateElem(q.m.fd, nil, unsafe.Pointer(&v), uint64(flags))
	} else {
		s := q.pool.Get().(*queueScratch[V])
		defer q.pool.Put(s)
		s.v = v
		if err := q.vc.Encode(s.buf, &s.v); err != nil {
			return fmt.Errorf("%s: push: encode: %w", q.m, err)
		}
		err = sys.MapUpdateElem(q.m.fd, nil, ptr(s.buf), uint64(flags))
	}
	if errno(err) == unix.E2BIG {
		return errPushFull
	}
	return err
}

// Pop removes and returns the next element: the oldest of a queue, the
// newest of a stack. An empty map gives an error wrapping ErrEmpty (and
// unix.ENOENT).
func (q *Queue[V]) Pop() (V, error) { return q.read(true) }

// Peek returns the element Pop would remove, leaving it in place.
func (q *Queue[V]) Peek() (V, error) { return q.read(false) }

// read pops (take) or peeks. The commands are called directly, not through
// a function value, so that v stays on the stack.
func (q *Queue[V]) read(take bool) (V, error) {
	var v V
	var s *queueScratch[V]
	p := unsafe.Pointer(&v)
	if !q.flat {
		s = q.pool.Get().(*queueScratch[V])
		defer q.pool.Put(s)
		p = ptr(s.buf)
	}
	var err error
	if take {
		err = sys.MapLookupAndDeleteElem(q.m.fd, nil, p, 0)
	} else {
		err = sys.MapLookupElem(q.m.fd, nil, p, 0)
	}
	switch {
	case errno(err) == unix.ENOENT && take:
		return v, errPopEmpty
	case errno(err) == unix.ENOENT:
		return v, errPeekEmpty
	case err != nil:
		return v, err
	case !q.flat:
		// Into the pooled value: Decode lets its argument escape.
		if err := q.vc.Decode(s.buf, &s.v); err != nil {
			return v, fmt.Errorf("%s: decode: %w", q.m, err)
		}
		return s.v, nil
	}
	return v, nil
}
