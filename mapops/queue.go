package mapops

import (
	"cmp"
	"fmt"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/structcodec"
	"github.com/bpfmaps/bpfmaps/sys"
)

// Queues and stacks: Map's byte-level Push, Pop and Peek, and Queue[V].
// Both go through push and read, the one place that issues the commands.

// Push appends value to a queue or stack. A full one gives an error
// wrapping sys.ErrFull (unix.E2BIG), unless flags is Exist, which makes room by
// dropping the oldest element.
func (m *Map) Push(value []byte, flags Flags) error {
	if err := m.checkQueue("push", value); err != nil {
		return err
	}
	return m.push(ptr(value), flags)
}

// Pop removes the next element (the oldest of a queue, the newest of a
// stack) into value. An empty one gives an error wrapping sys.ErrEmpty and
// unix.ENOENT.
func (m *Map) Pop(value []byte) error {
	if err := m.checkQueue("pop", value); err != nil {
		return err
	}
	return m.read(true, ptr(value))
}

// Peek copies the element Pop would remove into value, leaving it there.
func (m *Map) Peek(value []byte) error {
	if err := m.checkQueue("peek", value); err != nil {
		return err
	}
	return m.read(false, ptr(value))
}

// push pushes the value's C bytes at p.
func (m *Map) push(p unsafe.Pointer, flags Flags) error {
	return m.elemErr(opPush, sys.MapUpdateElem(m.fd, nil, p, uint64(flags)), nil, flags)
}

// read pops (take) or peeks into the value's C bytes at p. The commands
// are called directly, not through a function value, so that a caller's
// value at p stays on its stack.
func (m *Map) read(take bool, p unsafe.Pointer) error {
	if take {
		return m.elemErr(opPop, sys.MapLookupAndDeleteElem(m.fd, nil, p, 0), nil, 0)
	}
	return m.elemErr(opPeek, sys.MapLookupElem(m.fd, nil, p, 0), nil, 0)
}

// Queue is a typed view of a BPF queue (first in, first out) or stack
// (last in, first out) map holding values of type V. It is safe for
// concurrent use and does not own the Map.
type Queue[V any] struct {
	m    *Map
	vc   *structcodec.Codec[V]
	raw  bool      // V's Go memory is its C bytes
	pool sync.Pool // *queueScratch[V]
}

type queueScratch[V any] struct {
	v   V
	buf []byte
}

// NewQueue returns a typed view of a queue or stack map, checking once
// that V's C size is the map's value size.
func NewQueue[V any](m *Map) (*Queue[V], error) {
	if err := m.checkType("queue view", "a queue or stack", unix.BPF_MAP_TYPE_QUEUE, unix.BPF_MAP_TYPE_STACK); err != nil {
		return nil, err
	}
	vc, err := codecFor[V](m, "value", m.valueSize)
	if err != nil {
		return nil, err
	}
	p := vc.Layout().Plan()
	q := &Queue[V]{m: m, vc: vc, raw: p.Raw()}
	q.pool.New = func() any { return &queueScratch[V]{buf: make([]byte, m.valueSize)} }
	return q, nil
}

// Map returns the underlying map.
func (q *Queue[V]) Map() *Map { return q.m }

// Push adds v. A full map gives an error wrapping sys.ErrFull (unix.E2BIG),
// unless flags is Exist, which drops the oldest element to make room.
func (q *Queue[V]) Push(v V, flags Flags) error {
	if q.raw {
		return q.m.push(unsafe.Pointer(&v), flags)
	}
	s := q.pool.Get().(*queueScratch[V])
	defer q.pool.Put(s)
	s.v = v
	if err := q.vc.Encode(s.buf, &s.v); err != nil {
		return &sys.OpError{Object: q.m.String(), Op: "push", Err: fmt.Errorf("encode: %w", err)}
	}
	return q.m.push(ptr(s.buf), flags)
}

// Pop removes and returns the next element: the oldest of a queue, the
// newest of a stack. An empty map gives an error wrapping sys.ErrEmpty (and
// unix.ENOENT).
func (q *Queue[V]) Pop() (V, error) { return q.read(true) }

// Peek returns the element Pop would remove, leaving it in place.
func (q *Queue[V]) Peek() (V, error) { return q.read(false) }

func (q *Queue[V]) read(take bool) (V, error) {
	var v V
	if q.raw {
		err := q.m.read(take, unsafe.Pointer(&v))
		return v, err
	}
	s := q.pool.Get().(*queueScratch[V])
	defer q.pool.Put(s)
	if err := q.m.read(take, ptr(s.buf)); err != nil {
		return v, err
	}
	// Into the pooled value: Decode lets its argument escape.
	if err := q.vc.Decode(s.buf, &s.v); err != nil {
		return v, &sys.OpError{Object: q.m.String(), Op: "decode", Err: err}
	}
	return s.v, nil
}

func (m *Map) checkQueue(op string, value []byte) error {
	return cmp.Or(m.checkType(op, "a queue or stack", unix.BPF_MAP_TYPE_QUEUE, unix.BPF_MAP_TYPE_STACK),
		m.checkValue(op, value))
}
