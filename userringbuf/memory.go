package userringbuf

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/epoll"
	"github.com/bpfmaps/bpfmaps/internal/ringproto"
)

// Consumer drains an in-memory user ring buffer exactly as the kernel's
// bpf_user_ringbuf_drain drains a map, so that producers can be tested
// without a kernel. Create one with NewInMemory.
type Consumer struct {
	r       *ring
	mem     *memory
	running atomic.Bool
}

// memory is an in-memory ring: its backing store and the Event its
// Consumer signals for producers waiting for space.
type memory struct {
	pos  []uint64 // consumer position at 0, producer position at 8 (own cache lines)
	data []uint64 // 2*size bytes

	mu     sync.Mutex
	signal *epoll.Event // nil until a producer waits
}

// NewInMemory returns both ends of a ring of size bytes in ordinary
// memory, producer first as the data flows: a Producer and a Consumer that
// drains exactly as the kernel does. size must be a power of two, a
// multiple of the page size and at most 2 GiB, as for a map, so that the
// pair behaves like a map of the same size; other sizes fail with an error
// wrapping unix.EINVAL before anything is allocated.
func NewInMemory(size int) (*Producer, *Consumer, error) {
	if err := ringproto.CheckSize(uint64(size)); err != nil {
		return nil, nil, fmt.Errorf("userringbuf: new in-memory ring: %w", err)
	}
	p, c := newInMemory(size)
	return p, c, nil
}

// newInMemory builds the pair for any power of two size of at least 8.
func newInMemory(size int) (*Producer, *Consumer) {
	m := &memory{pos: make([]uint64, 16), data: make([]uint64, 2*size/8)}
	p := &Producer{mem: m}
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

// wake signals the producers waiting for space, if any ever waited.
func (m *memory) wake() {
	m.mu.Lock()
	if m.signal != nil {
		m.signal.Signal()
	}
	m.mu.Unlock()
}

// watch adds the ring's Event to poll, creating it.
func (m *memory) watch(poll *epoll.Poller) error {
	ev, err := epoll.NewEvent()
	if err != nil {
		return err
	}
	if err := poll.Add(ev.FD(), 0, unix.EPOLLIN|unix.EPOLLET); err != nil {
		ev.Close()
		return err
	}
	m.mu.Lock()
	m.signal = ev
	m.mu.Unlock()
	return nil
}

// unwatch closes the Event.
func (m *memory) unwatch() {
	m.mu.Lock()
	if m.signal != nil {
		m.signal.Close()
		m.signal = nil
	}
	m.mu.Unlock()
}
