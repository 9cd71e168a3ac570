package userringbuf

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Consumer drains an in-memory user ring buffer exactly as the kernel's
// bpf_user_ringbuf_drain drains a map, so that producers can be tested
// without a kernel. Create one with NewInMemory.
type Consumer struct {
	r       *ring
	mem     *memory
	running atomic.Bool
}

// memory is an in-memory ring: its backing store and the producers waiting
// for space.
type memory struct {
	pos  []uint64 // consumer position at 0, producer position at 8 (own cache lines)
	data []uint64 // 2*size bytes

	mu      sync.Mutex
	freed   chan struct{} // closed when a drain frees space
	waiting bool          // freed was handed to a waiter
}

// NewInMemory returns a Producer and a Consumer joined by a ring of size
// bytes in ordinary memory. size must be a power of two and a multiple of
// the page size, as for a map, so that the pair behaves like a map of the
// same size.
func NewInMemory(size int) (*Producer, *Consumer, error) {
	if size <= 0 || size&(size-1) != 0 || size%os.Getpagesize() != 0 {
		return nil, nil, fmt.Errorf("userringbuf: new in-memory ring: size %d is not a power of two multiple of the page size %d: %w",
			size, os.Getpagesize(), unix.EINVAL)
	}
	p, c := newInMemory(size)
	return p, c, nil
}

// newInMemory builds the pair for any power of two size of at least 8.
func newInMemory(size int) (*Producer, *Consumer) {
	m := &memory{pos: make([]uint64, 16), data: make([]uint64, 2*size/8), freed: make(chan struct{})}
	p := &Producer{mem: m}
	p.done, p.cancel = context.WithCancel(context.Background())
	p.r = ring{cons: &m.pos[0], prod: &m.pos[8], data: unsafe.Pointer(&m.data[0]), size: uint64(size)}
	return p, &Consumer{r: &p.r, mem: m}
}

// Drain passes committed samples to fn in order until fn returns false
// (the BPF callback's 1), the ring holds no more committed samples, or
// DrainLimit samples have been looked at. It returns how many samples fn
// saw. sample is valid only during the call and must not be modified. Like
// the kernel's drain it:
//
//   - skips discarded samples (the discard bit is checked before the busy
//     bit) and counts them against DrainLimit;
//   - stops at the first sample still reserved (busy), without error;
//   - fails with an error wrapping unix.EINVAL when the producer position
//     is not 8-byte aligned or a header claims more bytes than the producer
//     published, and unix.E2BIG when a header claims more than the ring or
//     MaxSampleSize; such a sample is not consumed, so every later drain
//     fails the same way;
//   - fails with unix.EBUSY when another Drain of the ring is running;
//   - wakes blocked ReserveBlocking calls when it looked at a sample, or
//     always when flags has unix.BPF_RB_FORCE_WAKEUP, but never with
//     unix.BPF_RB_NO_WAKEUP; other flags fail with unix.EINVAL.
func (c *Consumer) Drain(fn func(sample []byte) bool, flags uint64) (int, error) {
	if flags&^(unix.BPF_RB_NO_WAKEUP|unix.BPF_RB_FORCE_WAKEUP) != 0 {
		return 0, drainError(unix.EINVAL, "unknown flags %#x", flags)
	}
	if fn == nil {
		return 0, drainError(unix.EINVAL, "nil callback")
	}
	if !c.running.CompareAndSwap(false, true) {
		return 0, drainError(unix.EBUSY, "another drain of the ring is running")
	}
	n, looked, err := c.r.drain(fn)
	c.running.Store(false)
	if flags&unix.BPF_RB_FORCE_WAKEUP != 0 || (looked > 0 && flags&unix.BPF_RB_NO_WAKEUP == 0) {
		c.mem.wake()
	}
	return n, err
}

// wake releases the producers waiting for space.
func (m *memory) wake() {
	m.mu.Lock()
	if m.waiting {
		close(m.freed)
		m.freed, m.waiting = make(chan struct{}), false
	}
	m.mu.Unlock()
}

// current returns the channel the next drain closes.
func (m *memory) current() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.waiting = true
	return m.freed
}

// chanWaiter waits for the next drain of an in-memory ring.
type chanWaiter struct {
	m     *memory
	freed <-chan struct{}
	ctx   context.Context
	done  context.Context
	timer *time.Timer
}

func (m *memory) newWaiter(ctx context.Context, deadline time.Time, done context.Context) *chanWaiter {
	w := &chanWaiter{m: m, freed: m.current(), ctx: ctx, done: done}
	if !deadline.IsZero() {
		w.timer = time.NewTimer(time.Until(deadline))
	}
	return w
}

func (w *chanWaiter) wait() error {
	var expired <-chan time.Time
	if w.timer != nil {
		expired = w.timer.C
	}
	select {
	case <-w.freed:
		w.freed = w.m.current()
		return nil
	case <-w.ctx.Done():
		return w.ctx.Err()
	case <-w.done.Done():
		return os.ErrClosed
	case <-expired:
		return os.ErrDeadlineExceeded
	}
}

func (w *chanWaiter) close() {
	if w.timer != nil {
		w.timer.Stop()
	}
}
