package refs

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/ringbuf"
	"github.com/bpfmaps/bpfmaps/structcodec"
)

// RingBufRef reads the events a BPF program writes to a
// BPF_MAP_TYPE_RINGBUF, one per call, blocking until one is there:
// clj-ebpf's ringbuf-ref, where @ref is Read and (deref ref ms timeout-val)
// is ReadTimeout.
//
// Unlike clj-ebpf's, a waiting RingBufRef sleeps in epoll until the kernel
// signals data, with no polling and no time slices, and records already in
// the ring are returned before any wait. It is safe for concurrent use:
// each event goes to exactly one caller. It reads through its own
// descriptor of the ring and does not close the map it was given.
type RingBufRef[T any] struct {
	life
	rd     *ringbuf.Reader
	rec    ringbuf.Record // under turn: the record being decoded
	decode func([]byte) (T, error)
	turn   chan struct{} // one reader at a time, so rec can be reused
}

// A RingBufOption configures NewRingBufRef.
type RingBufOption func(*ringBufSettings)

type ringBufSettings struct {
	obj, cType string
}

// RecordType makes NewRingBufRef hold the event type T against the C type
// the BPF program writes, named cType ("event", "struct event" or a
// typedef) in the BTF of the object file obj, with
// ringbuf.CheckRecordType: a Go field of the right size but the wrong
// kind (a uint8 where C has a 4-byte enum) is then an error naming it,
// instead of events decoded silently and wrongly.
func RecordType(obj, cType string) RingBufOption {
	return func(s *ringBufSettings) { s.obj, s.cType = obj, cType }
}

// NewRingBufRef returns a reference that reads events of type T from m, a
// BPF_MAP_TYPE_RINGBUF. With T = []byte each event is a copy of the
// record's bytes; any other T is decoded with structcodec, so it can be a
// tagged struct, and a record whose size differs from T's is an error.
// Sizes alone cannot tell a field of the wrong kind: pass
// RecordType(obj, cType) to check T against the program's C type.
func NewRingBufRef[T any](m *mapops.Map, opts ...RingBufOption) (*RingBufRef[T], error) {
	var s ringBufSettings
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	var decode func([]byte) (T, error)
	if _, ok := any((*T)(nil)).(*[]byte); ok {
		if s.obj != "" {
			return nil, fmt.Errorf("refs: new ringbuf ref: RecordType: []byte events have no layout to check against %s", s.cType)
		}
		decode = func(b []byte) (T, error) {
			var v T
			*any(&v).(*[]byte) = append([]byte(nil), b...)
			return v, nil
		}
	} else {
		c, err := structcodec.For[T]()
		if err != nil {
			return nil, fmt.Errorf("refs: new ringbuf ref: event type %T: %w", *new(T), err)
		}
		if s.obj != "" {
			if err := ringbuf.CheckRecordType[T](s.obj, s.cType); err != nil {
				return nil, fmt.Errorf("refs: new ringbuf ref: %w", err)
			}
		}
		tmp := new(T) // decode runs for one reader at a time
		decode = func(b []byte) (T, error) {
			if len(b) != c.Size() {
				var zero T
				return zero, fmt.Errorf("record of %d bytes, %T is %d", len(b), zero, c.Size())
			}
			err := c.Decode(b, tmp)
			return *tmp, err
		}
	}
	return NewRingBufRefFunc(m, decode)
}

// NewRingBufRefFunc returns a reference that turns each record of m, a
// BPF_MAP_TYPE_RINGBUF, into a T with decode (clj-ebpf's :deserializer).
// decode's argument is valid only until it returns: it must copy what it
// keeps. An error from decode is
// returned by the read; the record is consumed either way.
func NewRingBufRefFunc[T any](m *mapops.Map, decode func(record []byte) (T, error)) (*RingBufRef[T], error) {
	const op = "new ringbuf ref"
	if decode == nil {
		return nil, fmt.Errorf("refs: %s: nil decode function", op)
	}
	h, err := newHandle(op, m, unix.BPF_MAP_TYPE_RINGBUF)
	if err != nil {
		return nil, err
	}
	h.st.release() // rings need no shared state: the kernel wakes us
	rd, err := ringbuf.NewReader(m)
	if err != nil {
		return nil, fmt.Errorf("refs: %s: %w", op, err)
	}
	r := &RingBufRef[T]{life: newLife(), rd: rd, decode: decode, turn: make(chan struct{}, 1)}
	return r, nil
}

// Read returns the next event, waiting until the kernel writes one. It fails
// when ctx ends (with ctx.Err()) or the reference is closed (with an error
// wrapping os.ErrClosed).
func (r *RingBufRef[T]) Read(ctx context.Context) (T, error) {
	return readDecoded(ctx, r, r.decode)
}

// readDecoded reads the next record of r and turns it into a U with
// decode: Read with the reference's decoder, SeqDecode with its own.
func readDecoded[T, U any](ctx context.Context, r *RingBufRef[T], decode func([]byte) (U, error)) (U, error) {
	var v U
	if r.isClosed() {
		return v, fmt.Errorf("refs: ringbuf read: %w", errClosed)
	}
	// Take the turn at once if it is free, so that an event already in the
	// ring is returned even when ctx has ended (ReadTimeout(0)).
	select {
	case r.turn <- struct{}{}:
	default:
		select {
		case r.turn <- struct{}{}:
		case <-ctx.Done():
			return v, fmt.Errorf("refs: ringbuf read: %w", ctx.Err())
		case <-r.done:
			return v, fmt.Errorf("refs: ringbuf read: %w", errClosed)
		}
	}
	defer func() { <-r.turn }()
	err := r.rd.ReadInto(ctx, &r.rec) // records in the ring come before ctx
	if err == nil {
		v, err = decode(r.rec.Sample)
		if err != nil {
			err = fmt.Errorf("refs: ringbuf read: %w", err)
		}
		return v, err
	}
	if r.isClosed() {
		return v, fmt.Errorf("refs: ringbuf read: %w", errClosed)
	}
	if ctx.Err() != nil {
		return v, fmt.Errorf("refs: ringbuf read: %w", ctx.Err())
	}
	return v, err
}

// ReadTimeout is Read with a time limit: ok is false, with a nil error, when
// no event arrived within d. A d of zero returns an event already in the
// ring without waiting; a negative d (Forever) waits without limit.
func (r *RingBufRef[T]) ReadTimeout(d time.Duration) (v T, ok bool, err error) {
	return waitTimeout("ringbuf read", d, r.Read)
}

// Seq reads events for a range loop: clj-ebpf's ringbuf-seq. Each step
// waits up to timeout for the next event, by the package's timeout rule
// (negative: no limit; 0: only what is there). The sequence ends quietly
// when a wait times out, the loop breaks, the reference is closed or ctx
// ends (tell that by ctx.Err()); any other error ends it too, and the
// returned function reports it (nil otherwise): call it after the loop.
func (r *RingBufRef[T]) Seq(ctx context.Context, timeout time.Duration) (iter.Seq[T], func() error) {
	return stream(ctx, timeout, r.Read, &r.life)
}

// SeqDecode is r.Seq with a decoder of its own for this sequence:
// clj-ebpf's ringbuf-seq with a :deserializer, where the reference's
// decoder (the one NewRingBufRef or NewRingBufRefFunc chose) is left for
// its other reads. decode's argument is valid only until it returns; an
// error from it ends the sequence and is reported, and the record is
// consumed either way. It is a function, not a method, because its event
// type U may differ from the reference's T.
func SeqDecode[T, U any](ctx context.Context, r *RingBufRef[T], timeout time.Duration, decode func(record []byte) (U, error)) (iter.Seq[U], func() error) {
	if decode == nil {
		return func(func(U) bool) {}, func() error { return errors.New("ringbuf seq: nil decode function") }
	}
	return stream(ctx, timeout, func(ctx context.Context) (U, error) { return readDecoded(ctx, r, decode) }, &r.life)
}

// Chan delivers events on an unbuffered channel, for select loops. A
// goroutine reads and sends; it ends when ctx ends, the reference is closed
// or a read fails, leaving nothing behind. Then the value channel is closed
// and the error channel receives the error that ended it (nil after ctx or
// Close) and is closed. An event read when ctx ended or Close came but not
// yet received is dropped: use Read when every event matters.
func (r *RingBufRef[T]) Chan(ctx context.Context) (<-chan T, <-chan error) {
	return toChan(ctx, r.Read, &r.life)
}

// SkipBacklog drops the events already in the ring without reading them
// and returns how many it dropped, so that the next Read returns an event
// written from now on: for a program that restarts and does not want the
// events its previous run left unread. See ringbuf.Reader.SkipBacklog.
func (r *RingBufRef[T]) SkipBacklog() (int, error) {
	if r.isClosed() {
		return 0, fmt.Errorf("refs: ringbuf skip backlog: %w", errClosed)
	}
	return r.rd.SkipBacklog()
}

// Close closes the reference and its descriptor of the ring, waking every
// blocked Read at once. The map stays open. Close is idempotent.
func (r *RingBufRef[T]) Close() error {
	if !r.life.close() {
		return nil
	}
	return r.rd.Close()
}
