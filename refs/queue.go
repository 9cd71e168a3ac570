package refs

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// queueStack is the machinery behind the queue and stack references: a
// typed view of the kernel map (BPF_MAP_TYPE_QUEUE pops first in, first
// out; BPF_MAP_TYPE_STACK last in, first out; the order is the kernel's)
// and the reference's life.
type queueStack[T any] struct {
	life
	h    handle
	q    *mapops.Queue[T]
	poll time.Duration
	name string // "queue" or "stack", for errors
}

func newQueueStack[T any](m *mapops.Map, stack bool, kind string, opts []Option) (*queueStack[T], error) {
	mapType, name := sys.MapType(unix.BPF_MAP_TYPE_QUEUE), "queue"
	if stack {
		mapType, name = unix.BPF_MAP_TYPE_STACK, "stack"
	}
	op := "new " + kind
	s, err := applyOptions(op, opts)
	if err != nil {
		return nil, err
	}
	h, err := newHandle(op, m, mapType)
	if err != nil {
		return nil, err
	}
	q, err := mapops.NewQueue[T](m)
	if err != nil {
		h.st.release()
		return nil, fmt.Errorf("refs: %s: %w", op, err)
	}
	return &queueStack[T]{life: newLife(), h: h, q: q, poll: s.poll, name: name}, nil
}

func (f *queueStack[T]) close() error {
	if f.life.close() {
		f.h.st.release()
	}
	return nil
}

// take pops (or, with peek, reads) one value without waiting; ok is false
// when the map is empty.
func (f *queueStack[T]) take(peek bool) (v T, ok bool, err error) {
	if f.isClosed() {
		return v, false, errClosed
	}
	if peek {
		v, err = f.q.Peek()
	} else {
		v, err = f.q.Pop()
	}
	if errors.Is(err, sys.ErrEmpty) {
		return v, false, nil
	}
	return v, err == nil, err
}

// pop waits for a value and pops it.
func (f *queueStack[T]) pop(ctx context.Context) (T, error) {
	v, ok, err := f.take(false) // the common case: a value is there
	if ok || err != nil {
		if err != nil {
			err = fmt.Errorf("refs: %s pop: %w", f.name, err)
		}
		return v, err
	}
	err = f.pollUntil(ctx, f.poll, f.h.st, func() (bool, error) {
		var ok bool
		var err error
		v, ok, err = f.take(false)
		return ok, err
	})
	if err != nil {
		return v, fmt.Errorf("refs: %s pop: %w", f.name, err)
	}
	return v, nil
}

func (f *queueStack[T]) popTimeout(d time.Duration) (T, bool, error) {
	return waitTimeout(f.name+" pop", d, f.pop)
}

func (f *queueStack[T]) push(v T) error {
	if f.isClosed() {
		return fmt.Errorf("refs: %s push: %w", f.name, errClosed)
	}
	if err := f.q.Push(v, mapops.Any); err != nil {
		return fmt.Errorf("refs: %s push: %w", f.name, err)
	}
	f.h.st.notify()
	return nil
}

func (f *queueStack[T]) peek() (T, bool, error) {
	v, ok, err := f.take(true)
	if err != nil {
		return v, false, fmt.Errorf("refs: %s peek: %w", f.name, err)
	}
	return v, ok, nil
}

// newRef returns wrap's reference over a new queueStack on m.
func newRef[T, R any](m *mapops.Map, stack bool, kind string, opts []Option, wrap func(*queueStack[T]) *R) (*R, error) {
	qs, err := newQueueStack[T](m, stack, kind, opts)
	if err != nil {
		return nil, err
	}
	return wrap(qs), nil
}

// popper is the one implementation of QueueRef and StackRef, which differ
// only in the map they pop from.
type popper[T any] struct{ qs *queueStack[T] }

// pusher is the one implementation of QueueWriter and StackWriter.
type pusher[T any] struct{ qs *queueStack[T] }

// QueueRef pops values from a BPF_MAP_TYPE_QUEUE in FIFO order, blocking
// until one is there: clj-ebpf's queue-ref, where @ref is Pop and
// (deref ref ms timeout-val) is PopTimeout.
//
// The kernel cannot wake user space when a queue is pushed, so a waiting
// Pop checks the map with back-off up to its poll interval (see
// PollInterval); pushes made through this package's references in this
// process wake it at once. A QueueRef is safe for concurrent use: each value
// goes to exactly one caller. It borrows its map and does not close it.
type QueueRef[T any] struct{ popper[T] }

// NewQueueRef returns a reference that pops values of type T from m, a
// BPF_MAP_TYPE_QUEUE whose value size is T's encoded size (T goes through
// structcodec, so it can be a tagged struct).
func NewQueueRef[T any](m *mapops.Map, opts ...Option) (*QueueRef[T], error) {
	return newRef(m, false, "queue ref", opts, func(qs *queueStack[T]) *QueueRef[T] { return &QueueRef[T]{popper[T]{qs}} })
}

// StackRef pops values from a BPF_MAP_TYPE_STACK in LIFO order, blocking
// until one is there: clj-ebpf's stack-ref. It behaves like QueueRef in
// every other way.
type StackRef[T any] struct{ popper[T] }

// NewStackRef returns a reference that pops values of type T from m, a
// BPF_MAP_TYPE_STACK whose value size is T's encoded size.
func NewStackRef[T any](m *mapops.Map, opts ...Option) (*StackRef[T], error) {
	return newRef(m, true, "stack ref", opts, func(qs *queueStack[T]) *StackRef[T] { return &StackRef[T]{popper[T]{qs}} })
}

// QueueWriter pushes values onto a BPF_MAP_TYPE_QUEUE and peeks at its
// front without removing it: clj-ebpf's queue-writer, where conj! is Push
// and @ref is Peek. Pushing onto a full queue fails with an error wrapping
// unix.E2BIG and sys.ErrFull. It is safe for concurrent use and does not
// close its map.
type QueueWriter[T any] struct{ pusher[T] }

// NewQueueWriter returns a writer of values of type T to m, a
// BPF_MAP_TYPE_QUEUE whose value size is T's encoded size.
func NewQueueWriter[T any](m *mapops.Map) (*QueueWriter[T], error) {
	return newRef(m, false, "queue writer", nil, func(qs *queueStack[T]) *QueueWriter[T] { return &QueueWriter[T]{pusher[T]{qs}} })
}

// StackWriter pushes values onto a BPF_MAP_TYPE_STACK and peeks at its top:
// clj-ebpf's stack-writer. It behaves like QueueWriter in every other way.
type StackWriter[T any] struct{ pusher[T] }

// NewStackWriter returns a writer of values of type T to m, a
// BPF_MAP_TYPE_STACK whose value size is T's encoded size.
func NewStackWriter[T any](m *mapops.Map) (*StackWriter[T], error) {
	return newRef(m, true, "stack writer", nil, func(qs *queueStack[T]) *StackWriter[T] { return &StackWriter[T]{pusher[T]{qs}} })
}

// QueueChannel is a QueueRef and a QueueWriter over one queue in one value:
// clj-ebpf's queue-channel, for producer-consumer code in which user space
// both pushes and pops. Close closes both halves.
type QueueChannel[T any] struct {
	*QueueRef[T]
	*QueueWriter[T]
}

// NewQueueChannel returns a channel-like reference to m, a
// BPF_MAP_TYPE_QUEUE whose value size is T's encoded size.
func NewQueueChannel[T any](m *mapops.Map, opts ...Option) (*QueueChannel[T], error) {
	return newRef(m, false, "queue channel", opts, func(qs *queueStack[T]) *QueueChannel[T] {
		return &QueueChannel[T]{&QueueRef[T]{popper[T]{qs}}, &QueueWriter[T]{pusher[T]{qs}}}
	})
}

// Close closes the channel and wakes every call blocked in it.
func (c *QueueChannel[T]) Close() error { return c.QueueRef.Close() }

// StackChannel is a StackRef and a StackWriter over one stack: clj-ebpf's
// stack-channel (pushes and LIFO pops, as in an undo log).
type StackChannel[T any] struct {
	*StackRef[T]
	*StackWriter[T]
}

// NewStackChannel returns a channel-like reference to m, a
// BPF_MAP_TYPE_STACK whose value size is T's encoded size.
func NewStackChannel[T any](m *mapops.Map, opts ...Option) (*StackChannel[T], error) {
	return newRef(m, true, "stack channel", opts, func(qs *queueStack[T]) *StackChannel[T] {
		return &StackChannel[T]{&StackRef[T]{popper[T]{qs}}, &StackWriter[T]{pusher[T]{qs}}}
	})
}

// Close closes the channel and wakes every call blocked in it.
func (c *StackChannel[T]) Close() error { return c.StackRef.Close() }

// Pop waits until the map holds a value, removes the next one (the oldest
// of a queue, the newest of a stack) and returns it. It fails when ctx ends
// (with ctx.Err()) or the reference is closed (with an error wrapping
// os.ErrClosed).
func (r *popper[T]) Pop(ctx context.Context) (T, error) { return r.qs.pop(ctx) }

// PopTimeout is Pop with a time limit: ok is false, with a nil error, when
// nothing arrived within d. A d of zero checks once without waiting; a
// negative d (Forever) waits without limit (see the package
// documentation, "Timeouts").
func (r *popper[T]) PopTimeout(d time.Duration) (v T, ok bool, err error) {
	return r.qs.popTimeout(d)
}

// Seq pops values for a range loop, in the map's order: clj-ebpf's
// queue-seq. Each step waits up to timeout for the next value (Forever, or
// any negative timeout, waits without limit; zero takes only the values
// already there). The sequence ends quietly when a wait times out, the
// loop breaks, the reference is closed or ctx ends (ctx.Err() tells);
// any other error ends it too, and the returned function reports it (nil
// otherwise): call it after the loop.
func (r *popper[T]) Seq(ctx context.Context, timeout time.Duration) (iter.Seq[T], func() error) {
	return stream(ctx, timeout, r.qs.pop, &r.qs.life)
}

// SeqTimeoutValue is Seq that does not end on a timeout: a step that
// waits timeout without a value yields onTimeout and the sequence goes on
// (clj-ebpf's queue-seq with :timeout-val), so a loop can do other work
// between values. It ends when the loop breaks, the reference is closed,
// ctx ends or a pop fails, as Seq does. timeout should be positive: zero
// yields onTimeout at once whenever the map is empty.
func (r *popper[T]) SeqTimeoutValue(ctx context.Context, timeout time.Duration, onTimeout T) (iter.Seq[T], func() error) {
	return stream(ctx, timeout, r.qs.pop, &r.qs.life, onTimeout)
}

// Chan delivers popped values on an unbuffered channel, for select loops.
// A goroutine pops and sends; it ends when ctx ends, the reference is
// closed or a pop fails, leaving nothing behind. Then the value channel is
// closed and the error channel receives the error that ended it (nil after
// ctx or Close) and is closed. A value popped when ctx ended or Close came
// but not yet received is dropped: use Pop when every value matters.
func (r *popper[T]) Chan(ctx context.Context) (<-chan T, <-chan error) {
	return toChan(ctx, r.qs.pop, &r.qs.life)
}

// Close closes the reference, waking every call blocked in it. The map
// stays open. Close is idempotent.
func (r *popper[T]) Close() error { return r.qs.close() }

// Push adds v: at the back of a queue, on top of a stack (clj-ebpf's
// conj!).
func (w *pusher[T]) Push(v T) error { return w.qs.push(v) }

// Peek returns the value Pop would remove next (the front of a queue, the
// top of a stack) without removing it; ok is false when the map is empty.
// It never waits.
func (w *pusher[T]) Peek() (v T, ok bool, err error) { return w.qs.peek() }

// Close closes the writer. The map stays open. Close is idempotent.
func (w *pusher[T]) Close() error { return w.qs.close() }
