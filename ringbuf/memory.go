package ringbuf

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Wake-up flags for Submit, Discard and Output, as for the BPF helpers.
const (
	// NoWakeup commits without notifying the consumer (BPF_RB_NO_WAKEUP).
	NoWakeup = unix.BPF_RB_NO_WAKEUP
	// ForceWakeup always notifies the consumer (BPF_RB_FORCE_WAKEUP).
	ForceWakeup = unix.BPF_RB_FORCE_WAKEUP
)

// ErrNoSpace is wrapped by the error of Reserve and Output when the record
// does not fit: it would overrun the consumer or a record still being
// written, or it is larger than the ring can ever hold. The kernel's
// bpf_ringbuf_reserve returns NULL and bpf_ringbuf_output -EAGAIN in the
// same cases.
var ErrNoSpace = fmt.Errorf("no space in the ring: %w", unix.EAGAIN)

// Producer writes records into an in-memory ring exactly as the kernel's
// ringbuf helpers write into a map: records are reserved busy, in order,
// then submitted or discarded; a reservation fails when it would overrun
// the consumer or a record still busy; the consumer is notified on commit
// when it has caught up with the record (adaptive), always with
// ForceWakeup, never with NoWakeup. It lets programs test their consumers
// without a kernel. Create one with NewMemoryRing. It is safe for
// concurrent use.
type Producer struct {
	mu      sync.Mutex // serialises reservations, like the kernel's ring lock
	r       ring
	pending uint64 // oldest position that may still be busy (under mu)
	w       *waiter
	mem     []uint64
}

// Sample is a record reserved by Producer.Reserve: write its Bytes, then
// Submit or Discard it exactly once.
type Sample struct {
	// Bytes is the record's payload, in place in the ring.
	Bytes []byte
	pos   uint64
}

// NewMemoryRing returns both ends of a ring of size bytes in ordinary
// memory: a Producer that follows the kernel's rules and a Reader over the
// same memory, so that the code that consumes a kernel ring can be tested
// against it. size must be a power of two and a multiple of the page size,
// as for a map. Closing the Reader releases the ring; the Producer keeps
// working but wakes nobody.
func NewMemoryRing(size int) (*Producer, *Reader, error) {
	const op = "ringbuf: new memory ring"
	if size <= 0 || size&(size-1) != 0 || size%os.Getpagesize() != 0 {
		return nil, nil, fmt.Errorf("%s: size %d is not a power of two multiple of the page size %d: %w",
			op, size, os.Getpagesize(), unix.EINVAL)
	}
	p, r, err := newMemoryRing(size)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", op, err)
	}
	return p, r, nil
}

// newMemoryRing builds the pair for any power of two size of at least 16.
func newMemoryRing(size int) (*Producer, *Reader, error) {
	notify, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, nil, fmt.Errorf("eventfd: %w", err)
	}
	// Positions on cache lines of their own, then 2*size bytes of data.
	mem := make([]uint64, 16+2*size/8)
	rg := ring{cons: &mem[0], prod: &mem[8], data: unsafe.Pointer(&mem[16]), size: uint64(size)}
	r, err := newReader(rg, func() {}, notify, true)
	if err != nil {
		unix.Close(notify)
		return nil, nil, err
	}
	return &Producer{r: rg, w: &r.w, mem: mem}, r, nil
}

// maxRecord is RINGBUF_MAX_RECORD_SZ: the kernel refuses larger reservations.
const maxRecord = 1<<32/4 - 1

// Reserve reserves a record of n payload bytes and marks it busy: the
// consumer stops at it until it is submitted or discarded. It fails with
// ErrNoSpace when the record would overrun the consumer position or a
// record still busy, or when round8(n+8) exceeds the ring's size; like the
// kernel's, the ring never fills completely (a record of size-16 bytes
// fits an empty ring).
func (p *Producer) Reserve(n int) (Sample, error) {
	if n < 0 || n > maxRecord {
		return Sample{}, fmt.Errorf("ringbuf reserve: record of %d bytes: %w", n, ErrNoSpace)
	}
	total := round8(uint64(n) + hdrSize)
	if total > p.r.size {
		return Sample{}, fmt.Errorf("ringbuf reserve: record of %d bytes is larger than the ring of %d: %w", n, p.r.size, ErrNoSpace)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	prod := atomic.LoadUint64(p.r.prod)
	cons := atomic.LoadUint64(p.r.cons)
	// Skip the committed records at the front of the pending ones.
	for p.pending < prod {
		w := atomic.LoadUint32(p.r.lenWord(p.pending))
		if w&busyBit != 0 {
			break
		}
		p.pending += round8(uint64(w&lenMask) + hdrSize)
	}
	next := prod + total
	if next-cons > p.r.size-1 || next-p.pending > p.r.size-1 {
		return Sample{}, errNoSpace
	}
	hdr := p.r.lenWord(prod)
	*(*uint32)(unsafe.Add(unsafe.Pointer(hdr), 4)) = uint32(prod & (p.r.size - 1)) // the kernel's page offset word; consumers ignore it
	atomic.StoreUint32(hdr, uint32(n)|busyBit)
	atomic.StoreUint64(p.r.prod, next)
	return Sample{Bytes: p.r.bytes(prod+hdrSize, uint64(n)), pos: prod}, nil
}

var (
	errNoSpace   = fmt.Errorf("ringbuf reserve: %w", ErrNoSpace)
	errNotBusy   = errors.New("ringbuf commit: sample was not reserved or was already committed")
	errBadFlags  = fmt.Errorf("ringbuf output: flags other than NoWakeup and ForceWakeup: %w", unix.EINVAL)
	errZeroValue = errors.New("ringbuf commit: zero Sample")
)

// Submit commits s, making it visible to the consumer, and notifies the
// consumer according to flags (0 for adaptive, NoWakeup or ForceWakeup).
func (p *Producer) Submit(s Sample, flags int) error { return p.commit(s, 0, flags) }

// Discard commits s as discarded: the consumer skips it. flags are as for
// Submit.
func (p *Producer) Discard(s Sample, flags int) error { return p.commit(s, discardBit, flags) }

func (p *Producer) commit(s Sample, bit uint32, flags int) error {
	if s.Bytes == nil && s.pos == 0 {
		return errZeroValue
	}
	hdr := p.r.lenWord(s.pos)
	for {
		w := atomic.LoadUint32(hdr)
		if w&busyBit == 0 || w&lenMask != uint32(len(s.Bytes)) {
			return errNotBusy
		}
		if atomic.CompareAndSwapUint32(hdr, w, w&^busyBit|bit) {
			break
		}
	}
	switch {
	case flags&ForceWakeup != 0:
	case flags&NoWakeup != 0:
		return nil
	default: // adaptive: only when the consumer waits at this record
		if atomic.LoadUint64(p.r.cons)&(p.r.size-1) != s.pos&(p.r.size-1) {
			return nil
		}
	}
	p.w.signal()
	return nil
}

// Output copies data into a new record and submits it with flags, like
// bpf_ringbuf_output.
func (p *Producer) Output(data []byte, flags int) error {
	if flags&^(NoWakeup|ForceWakeup) != 0 {
		return errBadFlags
	}
	s, err := p.Reserve(len(data))
	if err != nil {
		return err
	}
	copy(s.Bytes, data)
	return p.Submit(s, flags)
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
