package userringbuf

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/ringproto"
)

// The protocol constants: the header's size, shared with ringbuf, and the
// kernel drain's.
const (
	hdrSize = ringproto.HdrSize

	// MaxSampleSize is the largest sample the kernel's drain hands to a
	// program (DYNPTR_MAX_SIZE, 16 MiB - 1). A larger one would stop the
	// drain with E2BIG for good, so Reserve refuses it.
	MaxSampleSize = 1<<24 - 1

	// DrainLimit is how many samples, discarded ones included, one
	// bpf_user_ringbuf_drain call (and one Consumer.Drain) looks at
	// before it returns (BPF_MAX_USER_RINGBUF_SAMPLES).
	DrainLimit = 128 * 1024

	// closedBit marks the reservation position of a closed producer.
	closedBit = 1 << 63
)

// ErrCommitted is wrapped by the error of Submit or Discard on a sample
// that was already submitted or discarded. It is ringbuf.ErrCommitted too.
var ErrCommitted = ringproto.ErrCommitted

// ErrForeignProducer is wrapped by the error of Reserve, ReserveBlocking
// and the batch writes once a writer outside this Producer has moved the
// producer position: ahead of this Producer's reservations, or back
// behind what it published. That writer is another producer of the same
// map (in another process: NewProducer refuses a second one in this
// process) and the two have corrupted each other's samples; the Producer
// stops reserving for good. Close it, and make sure only one process
// produces into the map.
var ErrForeignProducer = errors.New("the producer position moved under this Producer: another producer writes this ring (only one producer per map, in any process)")

// foreignAfter is how long a reservation waits, without the producer
// position moving at all, for this Producer's earlier reservations to be
// published before it concludes that a foreign writer moved the position.
// Publishing takes a few instructions and never blocks, so only a thread
// that is not running for that long could delay it (a second was seen to
// pass on a machine loaded ten times over its cores). The wait must also
// span foreignSleeps of the waiter's own sleeps: a process that was
// stopped (SIGSTOP, a cgroup freezer, a paused VM) sees the clock jump
// on waking, before the stopped reserver has had its turn, and must not
// take that jump for a foreign writer.
const (
	foreignAfter  = 5 * time.Second
	foreignSleeps = 1000
)

// Errors of the hot paths, allocated once.
var (
	errNoSpace    = fmt.Errorf("userringbuf: reserve: %w", ringproto.ErrNoSpace)
	errClosedRsv  = fmt.Errorf("userringbuf: reserve: %w", os.ErrClosed)
	errForeign    = fmt.Errorf("userringbuf: reserve: %w", ErrForeignProducer)
	errClosedSub  = fmt.Errorf("userringbuf: submit: %w", os.ErrClosed)
	errClosedDisc = fmt.Errorf("userringbuf: discard: %w", os.ErrClosed)
	errZeroSample = errors.New("userringbuf: sample was not returned by Reserve")
	errTwiceSub   = fmt.Errorf("userringbuf: submit: %w", ErrCommitted)
	errTwiceDisc  = fmt.Errorf("userringbuf: discard: %w", ErrCommitted)
	errNotAligned = errors.New("not 8-byte aligned")
)

// ring is the user ring buffer protocol over some memory: the consumer
// position (written by the consumer only), the producer position and the
// data area. The data area is size bytes that the kernel maps twice in a
// row, so a sample that wraps past the end is still contiguous; over
// ordinary memory it is 2*size bytes and a wrapping sample simply runs into
// the second half, which both sides address the same way.
//
// All positions only grow; a position's byte offset is pos & (size-1).
// Every sample starts with an 8-byte header: a 32-bit length word (bit 31
// busy, bit 30 discard) and a 32-bit word that the kernel ignores for this
// map type, where the producer keeps a tag of the sample's position so that
// a stale Sample can never commit a newer one.
type ring struct {
	cons *uint64
	prod *uint64
	data unsafe.Pointer
	size uint64

	// next is the producer's reservation position, ahead of *prod while a
	// reservation is being published; closedBit is set by Close. It has a
	// cache line of its own: producers on other cores write it.
	_    [64]byte
	next atomic.Uint64
	_    [56]byte

	// foreign is set once a foreign writer of the producer position has
	// been seen: every later reservation fails with ErrForeignProducer.
	foreign atomic.Bool
	// abandoned is set when a reservation gave up waiting for its turn
	// to be published because the Producer was closed: the producer
	// position will never reach next, so Close does not wait for it.
	abandoned atomic.Bool
}

// header returns the header word of the sample at pos.
func (r *ring) header(pos uint64) *uint64 {
	return (*uint64)(unsafe.Add(r.data, pos&(r.size-1)))
}

// payload returns the n bytes of the sample at pos. Like the kernel, it
// starts them at (pos+8) & (size-1): a header in the last 8 bytes of the
// area has its payload at offset 0.
func (r *ring) payload(pos uint64, n uint32) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(r.data, (pos+hdrSize)&(r.size-1))), n)
}

// payloadPtr returns the address of the payload of the sample at pos.
func (r *ring) payloadPtr(pos uint64) *byte {
	return (*byte)(unsafe.Add(r.data, (pos+hdrSize)&(r.size-1)))
}

func tag(pos uint64) uint32 { return uint32(pos >> 3) }

// header64 is the 8-byte header of a sample of size bytes at pos with
// bits (see ringproto.MakeWord), as a 64-bit value in memory order.
func header64(pos uint64, size uint32, bits ringproto.Word) uint64 {
	return ringproto.Header(ringproto.MakeWord(size, bits), tag(pos))
}

// reserve claims room for a sample of size bytes and publishes it busy. It
// is safe for concurrent use: reservations are serialised by a compare and
// swap on next, and published to *prod in reservation order (the kernel
// consumes in order and stops at the first busy sample).
func (r *ring) reserve(size int) (uint64, error) {
	if size < 0 || size > MaxSampleSize || ringproto.Round8(uint64(size)+hdrSize) > r.size {
		return 0, r.tooBig(size)
	}
	total := ringproto.Round8(uint64(size) + hdrSize)
	for {
		next := r.next.Load()
		if next&closedBit != 0 {
			return 0, errClosedRsv
		}
		if r.foreign.Load() {
			return 0, errForeign
		}
		cons := atomic.LoadUint64(r.cons)
		if next-cons > r.size-total { // also catches cons > next
			return 0, errNoSpace
		}
		if !r.next.CompareAndSwap(next, next+total) {
			continue
		}
		// The header is written before the position that publishes it;
		// the atomic store below orders it.
		r.markBusy(next, size)
		if err := r.publish(next, next+total); err != nil {
			return 0, err
		}
		return next, nil
	}
}

// markBusy writes the header of a reserved sample of size bytes at pos,
// busy, before the producer position that publishes it.
func (r *ring) markBusy(pos uint64, size int) {
	*r.header(pos) = header64(pos, uint32(size), ringproto.Busy)
}

// publish moves the producer position from from to to once every earlier
// reservation has been published. Positions published by this Producer
// only grow, each reservation's in turn, so a position that passes from,
// falls back, or stands still for foreignAfter was moved by a foreign
// writer: then it fails with ErrForeignProducer, as every later
// reservation will. It gives up with os.ErrClosed when the Producer is
// closed while it waits for a reservation whose thread is not running.
func (r *ring) publish(from, to uint64) error {
	last := atomic.LoadUint64(r.prod)
	var still time.Time // since when last has not changed, once sleeping
	sleeps := 0         // sleeps since then
	for spins := 0; ; spins++ {
		p := atomic.LoadUint64(r.prod)
		if p == from {
			break
		}
		if p > from || p < last || r.foreign.Load() {
			r.foreign.Store(true)
			return errForeign
		}
		if p != last { // an earlier reservation was published
			last, spins, still, sleeps = p, 0, time.Time{}, 0
		}
		switch {
		case spins > 1000: // the earlier reserver's thread is not running
			if r.next.Load()&closedBit != 0 {
				r.abandoned.Store(true)
				return errClosedRsv
			}
			if still.IsZero() {
				still = time.Now()
			} else if sleeps++; sleeps > foreignSleeps && time.Since(still) > foreignAfter {
				r.foreign.Store(true)
				return errForeign
			}
			time.Sleep(10 * time.Microsecond)
		case spins > 64:
			runtime.Gosched()
		}
	}
	atomic.StoreUint64(r.prod, to)
	return nil
}

func (r *ring) tooBig(size int) error {
	switch {
	case size < 0:
		return fmt.Errorf("userringbuf: reserve: negative sample size %d: %w", size, unix.EINVAL)
	case size > MaxSampleSize:
		return fmt.Errorf("userringbuf: reserve: sample of %d bytes is larger than the %d bytes a drain can pass to a BPF program: %w",
			size, MaxSampleSize, unix.E2BIG)
	}
	return fmt.Errorf("userringbuf: reserve: sample of %d bytes (%d with header and padding) can never fit in a ring of %d bytes: %w",
		size, ringproto.Round8(uint64(size)+hdrSize), r.size, unix.E2BIG)
}

// batchBytes is the room samples take in the ring.
func batchBytes(samples [][]byte) uint64 {
	total := uint64(0)
	for _, s := range samples {
		total += ringproto.Round8(uint64(len(s)) + hdrSize)
	}
	return total
}

// reserveMany claims room for the longest prefix of a batch that fits now,
// given as samples or as sizes (one of them is nil), with one compare and
// swap on next. It returns where the room starts, how many samples it is
// for, and why not all: errNoSpace, the error for a sample that can never
// fit, or errClosedRsv. The caller writes the samples and publishes the
// room.
func (r *ring) reserveMany(samples [][]byte, sizes []int) (pos uint64, n int, err error) {
	count := len(samples) + len(sizes)
	for {
		next := r.next.Load()
		if next&closedBit != 0 {
			return 0, 0, errClosedRsv
		}
		if r.foreign.Load() {
			return 0, 0, errForeign
		}
		free := r.size - min(next-atomic.LoadUint64(r.cons), r.size)
		total := uint64(0)
		n, err = 0, nil
		for ; n < count; n++ {
			size := 0
			if samples != nil {
				size = len(samples[n])
			} else {
				size = sizes[n]
			}
			need := ringproto.Round8(uint64(size) + hdrSize)
			if size < 0 || size > MaxSampleSize || need > r.size {
				err = r.tooBig(size)
				break
			}
			if need > free-total {
				err = errNoSpace
				break
			}
			total += need
		}
		if n == 0 {
			return 0, 0, err
		}
		if r.next.CompareAndSwap(next, next+total) {
			return next, n, err
		}
	}
}

// fill writes samples, complete and committed, from pos on: a consumer
// sees none of them before the producer position is published past them.
func (r *ring) fill(pos uint64, samples [][]byte) {
	for _, s := range samples {
		*r.header(pos) = header64(pos, uint32(len(s)), 0)
		copy(unsafe.Slice(r.payloadPtr(pos), len(s)), s)
		pos += ringproto.Round8(uint64(len(s)) + hdrSize)
	}
}

// submit clears the busy bit of the sample of size bytes at pos: commit's
// fast path, small enough to inline into Submit.
func (r *ring) submit(pos uint64, size uint32) bool {
	done := header64(pos, size, 0)
	return atomic.CompareAndSwapUint64(r.header(pos), done|ringproto.Header(ringproto.Busy, 0), done)
}

// commit clears the busy bit of the sample at pos, setting the discard bit
// if asked. It fails if the sample is no longer the busy one that was
// reserved there.
func (r *ring) commit(pos uint64, size uint32, discard bool) bool {
	bits := ringproto.Word(0)
	if discard {
		bits = ringproto.Discard
	}
	return atomic.CompareAndSwapUint64(r.header(pos), header64(pos, size, ringproto.Busy), header64(pos, size, bits))
}

// discardBusy discards every sample between the consumer and producer
// positions that is still busy, so that a closed producer leaves no sample
// that would stop the kernel's drain forever. All reservations must be
// published.
func (r *ring) discardBusy() {
	pos, end := atomic.LoadUint64(r.cons), atomic.LoadUint64(r.prod)
	for pos < end && end-pos <= r.size && pos%8 == 0 {
		h := r.header(pos)
		old := atomic.LoadUint64(h)
		word := ringproto.WordOf(old)
		total := word.Total()
		if total > end-pos {
			return
		}
		if word.Busy() {
			atomic.CompareAndSwapUint64(h, old, header64(pos, word.Len(), ringproto.Discard))
		}
		pos += total
	}
}

// drainError is a refusal of the drain, with the errno the kernel returns.
func drainError(errno unix.Errno, format string, args ...any) error {
	return fmt.Errorf("userringbuf: drain: "+format+": %w", append(args, errno)...)
}

// drain consumes samples exactly as bpf_user_ringbuf_drain does: in order,
// skipping discarded ones, stopping at a busy one, after fn returns false,
// or after DrainLimit samples. It returns how many samples fn saw, how many
// it looked at (discarded ones included), and the error that stopped it;
// the sample that caused the error is not consumed.
func (r *ring) drain(fn func([]byte) bool) (n, looked int, err error) {
	for looked < DrainLimit {
		prod := atomic.LoadUint64(r.prod)
		if prod%8 != 0 {
			return n, looked, drainError(unix.EINVAL, "producer position %d is %v", prod, errNotAligned)
		}
		cons := atomic.LoadUint64(r.cons)
		if cons >= prod {
			return n, looked, nil
		}
		if cons%8 != 0 { // the kernel's own position: cannot happen there
			return n, looked, drainError(unix.EINVAL, "consumer position %d is %v", cons, errNotAligned)
		}
		word := ringproto.LoadWord(unsafe.Pointer(r.header(cons)))
		length, total := word.Len(), word.Total()
		switch {
		case total > prod-cons:
			return n, looked, drainError(unix.EINVAL,
				"sample at %d claims %d bytes but the producer published only %d", cons, total, prod-cons)
		case total > r.size:
			return n, looked, drainError(unix.E2BIG, "sample at %d claims %d bytes, more than the ring's %d", cons, total, r.size)
		case length > MaxSampleSize:
			return n, looked, drainError(unix.E2BIG, "sample at %d claims %d bytes, over the %d a drain passes on", cons, length, MaxSampleSize)
		case word.Discarded():
			atomic.StoreUint64(r.cons, cons+total)
			looked++
			continue
		case word.Busy():
			return n, looked, nil
		}
		more := fn(r.payload(cons, length))
		atomic.StoreUint64(r.cons, cons+total)
		looked++
		n++
		if !more {
			break
		}
	}
	return n, looked, nil
}
