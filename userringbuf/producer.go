// Package userringbuf writes samples into a BPF_MAP_TYPE_USER_RINGBUF map
// (Linux 6.1+), the ring in which user space produces and a BPF program
// consumes with bpf_user_ringbuf_drain.
//
// A Producer maps the ring, reserves room for a sample, lets the caller
// fill it in place and commits it with Submit (or drops it with Discard).
// Unlike libbpf's user_ring_buffer, a Producer is safe for many goroutines
// at once. ReserveBlocking waits, without spinning, for a drain to free
// space. WriteBatch and ReserveBatch put many samples in with one check
// for room and one publication of the producer position, which is what
// makes a stream of small samples cheap.
//
// The ring protocol (positions, headers with busy and discard bits, 8-byte
// alignment) runs over any memory. NewInMemory connects a Producer to a
// Consumer that drains exactly as the kernel does, so that code which
// produces samples can be tested without a kernel.
//
// userringbuf and ringbuf, the two directions of the same protocol, share
// their conventions: NewInMemory returns both ends of an in-memory ring,
// producer first as the data flows; a reserved Sample is filled through
// its Bytes method and commits itself with Submit() or Discard(); a ring
// without room fails with an error wrapping sys.ErrFull and unix.ENOSPC,
// a sample that can never fit with unix.E2BIG; blocking calls take a
// context and end with an error wrapping os.ErrClosed when their object
// is closed; Close returns the errors of releasing once, then nil.
package userringbuf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/epoll"
	"github.com/bpfmaps/bpfmaps/internal/ringproto"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// Producer writes samples into a user ring buffer. All its methods are
// safe for concurrent use. Only one Producer (in any process) may write a
// given map at a time: two would corrupt each other's samples, as with
// libbpf. NewProducer refuses a second live Producer of a map in the same
// process, whatever descriptor it is given; a producer in another process
// cannot be seen beforehand, only when it moves the producer position
// under this one, which Reserve then reports with ErrForeignProducer.
type Producer struct {
	r ring

	mapID uint32 // the map's id, claimed in liveMaps; 0 in memory

	fd       *sys.FD        // the map, nil for an in-memory ring
	consMem  unsafe.Pointer // the read-only consumer page
	prodMem  unsafe.Pointer // the producer page and the doubled data area
	pageSize int
	mem      *memory // the in-memory ring's backing and waiters, nil for a map

	waitMu sync.Mutex
	poll   *epoll.Poller // created at the first wait; closed by Close

	closeOnce sync.Once
}

// Sample is room for one sample in the ring, returned by Reserve. Fill
// Bytes, then Submit it, or Discard it. Every reserved sample must be
// committed one way or the other: the kernel consumes samples in order and
// stops at the first one still reserved. Bytes is valid until then.
//
// Sample is a small value; copies of it refer to the same reservation, and
// only the first Submit or Discard of it succeeds.
type Sample struct {
	// Four words at most, so that the compiler keeps a Sample in
	// registers: a larger one is copied through memory on every return.
	p    *Producer
	data *byte
	pos  uint64
	size int
}

// NewProducer maps the user ring buffer m, as mapops.Create, Open or
// OpenID return it, for producing: every consumer of a map takes the same
// handle. The Producer works on a duplicate of m's descriptor: the caller
// keeps ownership of m and may close it. It fails with an error wrapping
// unix.EINVAL when m is another kind of map, and wrapping
// sys.ErrNotSupported instead on kernels before 6.1, which have no
// BPF_MAP_TYPE_USER_RINGBUF. It needs no capability: a read-write
// descriptor of the map is enough.
func NewProducer(m *mapops.Map) (*Producer, error) {
	const op = "userringbuf: new producer"
	// The map's own type is the feature probe: a map that exists proves
	// its type is supported, and a probe that creates a map would refuse
	// a caller without CAP_BPF who holds a descriptor (a 0666 pin). The
	// Map learnt the type, size and id when it was opened.
	if m == nil {
		return nil, fmt.Errorf("%s: nil map: %w", op, os.ErrInvalid)
	}
	if m.Type() != unix.BPF_MAP_TYPE_USER_RINGBUF {
		// Only now, to explain the refusal, ask the kernel.
		if err := sys.HaveUserRingBuf(); errors.Is(err, sys.ErrNotSupported) {
			return nil, fmt.Errorf("%s: %s, and user ring buffers need Linux 6.1 or later: %w", op, m, err)
		}
		return nil, fmt.Errorf("%s: %s is not a user_ringbuf: %w", op, m, unix.EINVAL)
	}
	size := uint64(m.MaxEntries())
	if err := ringproto.CheckSize(size); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", op, m, err)
	}
	fd, err := m.FD().Dup()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	p, err := mapProducer(fd, m.ID(), size)
	if err != nil {
		fd.Close()
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return p, nil
}

// mapProducer maps the ring of size bytes of the map id through fd.
func mapProducer(fd *sys.FD, id uint32, size uint64) (*Producer, error) {
	if err := claimMap(id); err != nil {
		return nil, err
	}
	page := os.Getpagesize()
	raw, err := fd.Acquire()
	if err != nil {
		releaseMap(id)
		return nil, err
	}
	defer fd.Release()
	if err := ringproto.CheckReadWrite(raw, "producer", "it writes the producer position and the samples"); err != nil {
		releaseMap(id)
		return nil, err
	}
	cons, err := unix.MmapPtr(raw, 0, nil, uintptr(page), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		releaseMap(id)
		return nil, fmt.Errorf("map consumer page: %w", err)
	}
	prod, err := unix.MmapPtr(raw, int64(page), nil, uintptr(page)+2*uintptr(size),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.MunmapPtr(cons, uintptr(page))
		releaseMap(id)
		return nil, fmt.Errorf("map producer page and data: %w", err)
	}
	p := &Producer{fd: fd, consMem: cons, prodMem: prod, pageSize: page, mapID: id}
	p.r = ring{cons: (*uint64)(cons), prod: (*uint64)(prod), data: unsafe.Add(prod, page), size: size}
	if err := p.start(); err != nil {
		p.unmap()
		releaseMap(id)
		return nil, err
	}
	runtime.SetFinalizer(p, (*Producer).finalize)
	return p, nil
}

// start takes over the positions found in the ring.
func (p *Producer) start() error {
	cons, prod := atomic.LoadUint64(p.r.cons), atomic.LoadUint64(p.r.prod)
	if prod%8 != 0 || prod < cons || prod-cons > p.r.size {
		return fmt.Errorf("ring is corrupt (consumer position %d, producer position %d): %w", cons, prod, unix.EINVAL)
	}
	p.r.next.Store(prod)
	return nil
}

// Size returns the size of the ring's data area in bytes. A sample takes
// its length plus an 8-byte header, rounded up to a multiple of 8.
func (p *Producer) Size() int { return int(p.r.size) }

// Reserve claims room for a sample of size bytes without waiting. It fails
// with an error wrapping sys.ErrFull and unix.ENOSPC when the ring has no
// room now, and unix.E2BIG when a sample of that size can never fit
// (size+8 rounded up to 8 is more than the ring, or size is more than
// MaxSampleSize). The errors are those of ringbuf's in-memory Producer.
func (p *Producer) Reserve(size int) (Sample, error) {
	// The fast path, straight-line and without calls: no reservation of
	// another goroutine is being published, so winning the compare and
	// swap on next makes this one the next to publish. Three atomic
	// read-modify-writes per sample (this one, the release store of the
	// producer position, Submit's) are what goroutine safety costs.
	r := &p.r
	total := ringproto.Round8(uint64(size) + hdrSize)
	next := r.next.Load()
	if uint(size) > MaxSampleSize || total > r.size || next-atomic.LoadUint64(r.cons) > r.size-total ||
		atomic.LoadUint64(r.prod) != next || !r.next.CompareAndSwap(next, next+total) {
		return p.reserveSlow(size) // also when closed: next has closedBit
	}
	r.markBusy(next, size)
	atomic.StoreUint64(r.prod, next+total)
	return Sample{p: p, data: r.payloadPtr(next), pos: next, size: size}, nil
}

func (p *Producer) reserveSlow(size int) (Sample, error) {
	pos, err := p.r.reserve(size)
	if err != nil {
		return Sample{}, err
	}
	return Sample{p: p, data: p.r.payloadPtr(pos), pos: pos, size: size}, nil
}

// Forever is the ReserveTimeout timeout that waits without limit. Any
// negative timeout does the same (libbpf's -1 ms included): the library's
// one timeout rule, written down in the refs package's documentation.
const Forever time.Duration = -1

// ReserveBlocking is Reserve that waits for a consumer to free enough
// space. It returns ctx.Err() when ctx ends first, and an error wrapping
// os.ErrClosed when the Producer is closed meanwhile.
func (p *Producer) ReserveBlocking(ctx context.Context, size int) (Sample, error) {
	return p.reserveWait(ctx, size, nil)
}

// ReserveTimeout is Reserve that waits up to timeout for room, as libbpf's
// user_ring_buffer__reserve_blocking does: a negative timeout (Forever)
// waits without limit, 0 does not wait, and running out of time fails
// with an error wrapping sys.ErrFull and unix.ENOSPC, as Reserve does.
func (p *Producer) ReserveTimeout(size int, timeout time.Duration) (Sample, error) {
	switch {
	case timeout < 0:
		return p.reserveWait(context.Background(), size, nil)
	case timeout == 0:
		return p.Reserve(size)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return p.reserveWait(ctx, size, func() error {
		return fmt.Errorf("userringbuf: reserve: no room for %d bytes before the timeout: %w", size, ringproto.ErrNoSpace)
	})
}

func (p *Producer) reserveWait(ctx context.Context, size int, timeout func() error) (Sample, error) {
	s, err := p.Reserve(size)
	if err != errNoSpace {
		return s, err
	}
	if werr := p.waitFor(ctx, timeout, func() bool {
		s, err = p.Reserve(size)
		return err != errNoSpace
	}); werr != nil {
		return Sample{}, werr
	}
	return s, err
}

// Write copies data into a new sample and submits it, without waiting:
// it fails like Reserve when there is no room.
func (p *Producer) Write(data []byte) error {
	s, err := p.Reserve(len(data))
	if err != nil {
		return err
	}
	copy(s.Bytes(), data)
	return s.Submit()
}

// Bytes returns the sample's payload, to be filled before Submit.
func (s Sample) Bytes() []byte { return unsafe.Slice(s.data, s.size) }

// Submit commits the sample: a consumer sees it once every sample reserved
// before it is committed too. It fails, wrapping ErrCommitted, on a sample
// already submitted or discarded, and wrapping os.ErrClosed once the
// Producer is closed (Close discards samples still reserved).
func (s Sample) Submit() error {
	if p := s.p; p != nil && p.r.next.Load()&closedBit == 0 &&
		p.r.submit(s.pos, uint32(s.size)) {
		return nil
	}
	return s.commit(false)
}

// Discard drops the sample: consumers skip it. Errors are those of Submit.
func (s Sample) Discard() error { return s.commit(true) }

func (s Sample) commit(discard bool) error {
	p := s.p
	if p == nil {
		return errZeroSample
	}
	if !p.isClosed() && p.r.commit(s.pos, uint32(s.size), discard) {
		return nil
	}
	switch {
	case p.isClosed() && discard:
		return errClosedDisc
	case p.isClosed():
		return errClosedSub
	case discard:
		return errTwiceDisc
	}
	return errTwiceSub
}

func (p *Producer) isClosed() bool { return p.r.next.Load()&closedBit != 0 }

// Close stops the Producer: blocked ReserveBlocking calls return at once,
// later calls fail with an error wrapping os.ErrClosed, and samples still
// reserved are discarded, so the ring is left consistent for a later
// producer. A map is unmapped from the ring (any stray writes into a
// sample's bytes after Close land in private memory) and its descriptor
// closed. Close is idempotent: the first call returns the error of
// releasing the ring, if any, and later calls return nil, as for
// ringbuf's Reader.
func (p *Producer) Close() error {
	var err error
	p.closeOnce.Do(func() {
		var next uint64
		for {
			next = p.r.next.Load()
			if p.r.next.CompareAndSwap(next, next|closedBit) {
				break
			}
		}
		// Let reservations that won their position publish it (they
		// are never blocked; the bound only guards against a foreign
		// writer of the producer position).
		for start := time.Now(); atomic.LoadUint64(p.r.prod) < next && !p.r.foreign.Load() && !p.r.abandoned.Load() && time.Since(start) < foreignAfter; {
			runtime.Gosched()
		}
		p.r.discardBusy()
		p.stopWaiting()
		if p.fd != nil {
			err = p.detach()
			releaseMap(p.mapID)
			if cerr := p.fd.Close(); err == nil {
				err = cerr
			}
		}
	})
	return err
}

// detach replaces the mapped ring with private anonymous memory of the same
// size, in place, so that the map is no longer mapped but addresses that
// callers may still hold stay valid. The finalizer unmaps it.
func (p *Producer) detach() error {
	const flags = unix.MAP_PRIVATE | unix.MAP_ANONYMOUS | unix.MAP_FIXED | unix.MAP_NORESERVE
	_, err := unix.MmapPtr(-1, 0, p.consMem, uintptr(p.pageSize), unix.PROT_READ, flags)
	if err == nil {
		_, err = unix.MmapPtr(-1, 0, p.prodMem, uintptr(p.pageSize)+2*uintptr(p.r.size), unix.PROT_READ|unix.PROT_WRITE, flags)
	}
	if err != nil {
		return fmt.Errorf("userringbuf: close: unmap ring: %w", err)
	}
	return nil
}

// finalize runs when no Sample can refer to the ring's memory any more:
// it releases what Close did not.
func (p *Producer) finalize() {
	if !p.isClosed() {
		releaseMap(p.mapID)
		p.stopWaiting()
	}
	p.unmap()
}

// claimMap records the live Producer of the map id, or fails with EBUSY.
func claimMap(id uint32) error {
	return ringproto.Claim(id, "Producer", "two producers would corrupt each other's samples")
}

func releaseMap(id uint32) { ringproto.Release(id) }

// unmap releases the address space of a mapped ring.
func (p *Producer) unmap() {
	if p.consMem != nil {
		unix.MunmapPtr(p.consMem, uintptr(p.pageSize))
		unix.MunmapPtr(p.prodMem, uintptr(p.pageSize)+2*uintptr(p.r.size))
		p.consMem, p.prodMem = nil, nil
	}
}
