package ringbuf

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/epoll"
	"github.com/bpfmaps/bpfmaps/internal/ringproto"
)

// Wake-up flags for SubmitFlags, DiscardFlags and WriteFlags, as for the
// BPF helpers.
const (
	// NoWakeup commits without notifying the consumer (BPF_RB_NO_WAKEUP).
	NoWakeup = unix.BPF_RB_NO_WAKEUP
	// ForceWakeup always notifies the consumer (BPF_RB_FORCE_WAKEUP).
	ForceWakeup = unix.BPF_RB_FORCE_WAKEUP
)

// Producer writes records into an in-memory ring exactly as the kernel's
// ringbuf helpers write into a map: records are reserved busy, in order,
// then submitted or discarded; a reservation fails when it would overrun
// the consumer or a record still busy; the consumer is notified on commit
// when it has caught up with the record (adaptive), always with
// ForceWakeup, never with NoWakeup. Its methods are userringbuf.Producer's
// for the same acts (Reserve, Write, Size; Submit and Discard on the
// Sample), plus the wake-up flags and positions of the kernel's helpers. It lets programs test their consumers
// without a kernel. Create one with NewInMemory. It is safe for
// concurrent use.
type Producer struct {
	mu      sync.Mutex // serialises reservations, like the kernel's ring lock
	r       ring
	pending uint64 // oldest position that may still be busy (under mu)
	signal  *epoll.Event
	mem     []uint64
}

// Sample is a record reserved by Producer.Reserve: fill its Bytes, then
// Submit or Discard it exactly once. The shape is userringbuf's: the
// sample commits itself, with the same methods.
type Sample struct {
	p    *Producer
	data *byte
	pos  uint64
	size int
}

// Bytes returns the record's payload, in place in the ring.
func (s Sample) Bytes() []byte { return unsafe.Slice(s.data, s.size) }

// NewInMemory returns both ends of a ring of size bytes in ordinary
// memory, producer first as the data flows: a Producer that follows the
// kernel's rules and a Reader over the same memory, so that the code that
// consumes a kernel ring can be tested against it. size must be a power of
// two, a multiple of the page size and at most 2 GiB, as for a map; other
// sizes fail with an error wrapping unix.EINVAL before anything is
// allocated. Closing the Reader
// releases the ring; the Producer keeps working but wakes nobody.
func NewInMemory(size int) (*Producer, *Reader, error) {
	const op = "ringbuf: new in-memory ring"
	if err := ringproto.CheckSize(uint64(size)); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	p, r, err := newInMemory(size)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	return p, r, nil
}

// newInMemory builds the pair for any power of two size of at least 16.
func newInMemory(size int) (*Producer, *Reader, error) {
	// Positions on cache lines of their own, then 2*size bytes of data;
	// allocated first, so that nothing is left open if it fails.
	mem := make([]uint64, 16+2*size/8)
	signal, err := epoll.NewEvent()
	if err != nil {
		return nil, nil, err
	}
	rg := ring{cons: &mem[0], prod: &mem[8], data: unsafe.Pointer(&mem[16]), size: uint64(size)}
	r, err := newReader(rg, signal.Close, signal.FD(), unix.EPOLLIN|unix.EPOLLET)
	if err != nil {
		signal.Close()
		return nil, nil, err
	}
	return &Producer{r: rg, signal: signal, mem: mem}, r, nil
}

// maxRecord is RINGBUF_MAX_RECORD_SZ: the kernel refuses larger reservations.
const maxRecord = 1<<32/4 - 1

// Reserve reserves a record of n payload bytes and marks it busy: the
// consumer stops at it until it is submitted or discarded. It fails with
// an error wrapping sys.ErrFull and unix.ENOSPC when the record would
// overrun the consumer position or a record still busy (the kernel's
// bpf_ringbuf_reserve returns NULL, bpf_ringbuf_output -EAGAIN), and
// wrapping unix.E2BIG when ringproto.Round8(n+8) exceeds the ring's size
// or n the kernel's largest record; like the kernel's, the ring never
// fills completely (a record of size-16 bytes fits an empty ring). A
// negative n fails with an error wrapping unix.EINVAL. The errors are
// userringbuf's Reserve's.
func (p *Producer) Reserve(n int) (Sample, error) {
	if n < 0 {
		return Sample{}, fmt.Errorf("ringbuf: reserve: negative record size %d: %w", n, unix.EINVAL)
	}
	if n > maxRecord {
		return Sample{}, fmt.Errorf("ringbuf: reserve: record of %d bytes is larger than the kernel's largest, %d: %w", n, maxRecord, unix.E2BIG)
	}
	total := ringproto.Round8(uint64(n) + hdrSize)
	if total > p.r.size {
		return Sample{}, fmt.Errorf("ringbuf: reserve: record of %d bytes (%d with header and padding) can never fit in a ring of %d bytes: %w", n, total, p.r.size, unix.E2BIG)
	}
	p.mu.Lock()
	pos, ok := p.r.reserve(&p.pending, uint64(n))
	p.mu.Unlock()
	if !ok {
		return Sample{}, errNoSpace
	}
	return Sample{p: p, data: p.r.payloadPtr(pos), pos: pos, size: n}, nil
}

// ErrCommitted is wrapped by the error of Submit or Discard on a sample
// that was already submitted or discarded. It is userringbuf.ErrCommitted
// too.
var ErrCommitted = ringproto.ErrCommitted

var (
	errNoSpace   = fmt.Errorf("ringbuf: reserve: %w", ringproto.ErrNoSpace)
	errNotBusy   = fmt.Errorf("ringbuf: commit: %w", ErrCommitted)
	errBadFlags  = fmt.Errorf("ringbuf: commit: flags other than NoWakeup and ForceWakeup: %w", unix.EINVAL)
	errZeroValue = errors.New("ringbuf: commit: zero Sample")
)

// Submit commits the record, making it visible to the consumer, and
// notifies the consumer when it waits at this record, as
// bpf_ringbuf_submit with no flags.
func (s Sample) Submit() error { return s.commit(0, 0) }

// Discard commits the record as discarded: the consumer skips it. It
// notifies the consumer as Submit does.
func (s Sample) Discard() error { return s.commit(ringproto.Discard, 0) }

// SubmitFlags is Submit that notifies the consumer according to flags: 0
// for adaptive (Submit), NoWakeup or ForceWakeup, as bpf_ringbuf_submit.
func (s Sample) SubmitFlags(flags int) error { return s.commit(0, flags) }

// DiscardFlags is Discard with the wake-up flags of SubmitFlags.
func (s Sample) DiscardFlags(flags int) error { return s.commit(ringproto.Discard, flags) }

func (s Sample) commit(bits ringproto.Word, flags int) error {
	p := s.p
	if p == nil {
		return errZeroValue
	}
	if flags&^(NoWakeup|ForceWakeup) != 0 {
		return errBadFlags
	}
	if !p.r.commit(s.pos, s.size, bits) {
		return errNotBusy
	}
	switch {
	case flags&ForceWakeup != 0:
	case flags&NoWakeup != 0:
		return nil
	default: // adaptive: only when the consumer waits at this record
		if !p.r.consumerAt(s.pos) {
			return nil
		}
	}
	p.signal.Signal()
	return nil
}

// Write copies data into a new record and submits it, without waiting: it
// fails like Reserve when there is no room. It is bpf_ringbuf_output with
// no flags, and userringbuf's Producer.Write.
func (p *Producer) Write(data []byte) error { return p.WriteFlags(data, 0) }

// WriteFlags is Write with the wake-up flags of SubmitFlags, as
// bpf_ringbuf_output.
func (p *Producer) WriteFlags(data []byte, flags int) error {
	if flags&^(NoWakeup|ForceWakeup) != 0 {
		return errBadFlags
	}
	s, err := p.Reserve(len(data))
	if err != nil {
		return err
	}
	copy(s.Bytes(), data)
	return s.SubmitFlags(flags)
}

// AvailableBytes returns producer position minus consumer position, as
// bpf_ringbuf_query(BPF_RB_AVAIL_DATA).
func (p *Producer) AvailableBytes() int { return int(p.r.available()) }

// Size returns the ring's data size (BPF_RB_RING_SIZE).
func (p *Producer) Size() int { return int(p.r.size) }

// ConsumerPosition returns the consumer position (BPF_RB_CONS_POS).
func (p *Producer) ConsumerPosition() uint64 { return atomic.LoadUint64(p.r.cons) }

// ProducerPosition returns the producer position (BPF_RB_PROD_POS).
func (p *Producer) ProducerPosition() uint64 { return atomic.LoadUint64(p.r.prod) }
