package ringbuf

import (
	"context"
	"errors"
	"fmt"
	"os"
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

// claimMap records the live Reader of the map id, or fails with EBUSY.
func claimMap(id uint32) error {
	return ringproto.Claim(id, "Reader", "two consumers would each get the same records")
}

func releaseMap(id uint32) { ringproto.Release(id) }

// Record is one record read from a ring.
type Record struct {
	// Sample holds the record's bytes. ReadInto and ReadBatch reuse its
	// capacity.
	Sample []byte
	// Remaining is how many bytes of later records the reader had already
	// seen in the ring when it returned this one.
	Remaining int
}

// Reader consumes the records BPF programs write to a BPF_MAP_TYPE_RINGBUF
// map, or that a Producer writes to an in-memory ring.
//
// Read and ReadInto copy one record out, ReadBatch as many as a slice
// holds; Consume and ConsumeN hand records to a function in place, with no
// copy. Each call takes the Reader's lock once, whatever the number of
// records, and the consumer position is published once per batch, so the
// batch forms are the cheap ones for a busy ring. Records already in the
// ring are always returned before any wait, so records written with
// BPF_RB_NO_WAKEUP are never left behind. All methods are safe for
// concurrent use; each record goes to exactly one caller. Close wakes
// every blocked call at once.
//
// A ring has one consumer position, so it has one consumer. In this
// process NewReader (and Poller.Add) refuses a second Reader of a map
// while the first is open, whatever descriptor it is given. Nothing can
// stop a consumer in another process: two processes reading one ring
// each get the same records, and each moves the consumer position over
// records the other has not read yet, which lets the kernel overwrite
// them. Hand a ring from one process to the next (close, then open) or
// keep a single consumer. Records a closed Reader returned are consumed:
// the next Reader, in this process or another, starts after them.
type Reader struct {
	mu     sync.Mutex // held while a read uses the cursor and the ring memory
	ring   ring
	cur    cursor       // under mu
	mapped bool         // under mu: false once the memory is freed
	free   func() error // frees the memory and the map descriptor

	// life counts the position methods using the ring memory: they do
	// not take mu, so that a Consume callback may call them. The memory
	// is freed by the last one out of a closed Reader, mu holder or
	// position method.
	life sys.Lifetime

	poll         *epoll.Poller
	notify       int    // the descriptor the producer signals
	notifyEvents uint32 // what to wait for on it
}

// NewReader returns a Reader of m, a BPF_MAP_TYPE_RINGBUF map, as
// mapops.Create, Open or OpenID return it: every consumer of a map takes
// the same handle. It works on its own duplicate of m's descriptor: the
// caller keeps m and may close it. It needs no capability, only a
// read-write descriptor of the map. It fails with an error wrapping
// unix.EBUSY while another Reader of the same map is open in this process
// (until its Close, or until the calls it has in flight return).
// It maps the consumer page read-write (exactly one page at offset 0) and
// the producer page with the data area, which the kernel maps twice in a
// row, read-only.
func NewReader(m *mapops.Map) (*Reader, error) {
	const op = "ringbuf: new reader"
	// The map's own type is the feature probe: a map that exists proves
	// its type is supported, and a probe that creates a map would refuse
	// a caller without CAP_BPF who holds a descriptor (a 0666 pin). The
	// Map learnt the type, size and id when it was opened.
	if m == nil {
		return nil, fmt.Errorf("%s: nil map: %w", op, os.ErrInvalid)
	}
	if m.Type() != unix.BPF_MAP_TYPE_RINGBUF {
		return nil, fmt.Errorf("%s: %s is not a ringbuf: %w", op, m, unix.EINVAL)
	}
	size := uint64(m.MaxEntries())
	if err := ringproto.CheckSize(size); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", op, m, err)
	}
	id := m.ID()
	if err := claimMap(id); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	page := os.Getpagesize()
	fd, err := m.FD().Dup()
	if err != nil {
		releaseMap(id)
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	raw, err := fd.Acquire()
	if err != nil {
		fd.Close()
		releaseMap(id)
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer fd.Release()
	if err := ringproto.CheckReadWrite(raw, "consumer", "the consumer writes the consumer position, the kernel never does"); err != nil {
		fd.Close()
		releaseMap(id)
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	consPage, err := unix.Mmap(raw, 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		fd.Close()
		releaseMap(id)
		return nil, fmt.Errorf("%s: map consumer page: %w", op, err)
	}
	prodData, err := unix.Mmap(raw, int64(page), page+2*int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		unix.Munmap(consPage)
		fd.Close()
		releaseMap(id)
		return nil, fmt.Errorf("%s: map producer page and data: %w", op, err)
	}
	free := func() error {
		err := errors.Join(unix.Munmap(prodData), unix.Munmap(consPage), fd.Close())
		releaseMap(id)
		return err
	}
	rg := ring{
		cons: (*uint64)(unsafe.Pointer(&consPage[0])),
		prod: (*uint64)(unsafe.Pointer(&prodData[0])),
		data: unsafe.Pointer(&prodData[page]),
		size: size,
	}
	r, err := newReader(rg, free, raw, unix.EPOLLIN)
	if err != nil {
		free()
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return r, nil
}

// newReader builds a Reader over rg that waits for notify, a descriptor
// that epoll reports with events when the producer signals.
func newReader(rg ring, free func() error, notify int, events uint32) (*Reader, error) {
	poll, err := epoll.New()
	if err != nil {
		return nil, err
	}
	if err := poll.Add(notify, 0, events); err != nil {
		poll.Close()
		return nil, err
	}
	r := &Reader{ring: rg, mapped: true, free: free, poll: poll, notify: notify, notifyEvents: events}
	r.cur = rg.load()
	return r, nil
}

func (r *Reader) isClosed() bool { return r.life.Closed() }

// leavePosition ends a position method's use of the ring memory, begun
// by a successful r.life.Acquire.
func (r *Reader) leavePosition() {
	if r.life.Release() {
		r.release()
	}
}

// release frees the memory of a closed Reader unless a call is using it;
// every such call calls release again when it is done. It returns the
// error of freeing, when this call freed.
func (r *Reader) release() error {
	for {
		if !r.mu.TryLock() {
			return nil // the holder releases when it is done
		}
		if r.life.Idle() {
			var err error
			if r.mapped {
				r.mapped = false
				err = r.free()
			}
			r.mu.Unlock()
			return err
		}
		r.mu.Unlock()
		// A position method was in. If it left meanwhile, its release
		// may have found mu held: try again.
		if !r.life.Idle() {
			return nil
		}
	}
}

// Read waits for the next record and returns a copy of it. It fails when
// ctx ends (with ctx.Err()), when the deadline set by SetDeadline passes
// (with an error wrapping os.ErrDeadlineExceeded) or when the Reader is
// closed (wrapping os.ErrClosed). A record already in the ring is returned
// even if ctx has ended.
func (r *Reader) Read(ctx context.Context) (Record, error) {
	var rec Record
	err := r.ReadInto(ctx, &rec)
	return rec, err
}

// ReadInto is Read into rec, reusing the capacity of rec.Sample, so that a
// loop over records allocates nothing. Like every read, it publishes the
// consumer position before it returns: the record is consumed in the
// ring, and a Reader opened after this one (here or in another process)
// starts after it. Each call takes the Reader's lock and publishes once;
// to drain many records, ReadBatch does both once for all of them.
func (r *Reader) ReadInto(ctx context.Context, rec *Record) error {
	_, err := r.ReadBatch(ctx, unsafe.Slice(rec, 1))
	return err
}

var errClosedRead = fmt.Errorf("ringbuf: read: %w", os.ErrClosed)

// ReadBatch waits, like ReadInto, until the ring holds a record, then
// copies up to len(recs) of the records in the ring into recs, reusing the
// capacity of each Sample, and returns how many it copied. It takes the
// Reader's lock once per call, not once per record, so it is the cheapest
// copying read: use it to drain a busy ring. Like an io.Reader, it may
// return n > 0 records together with an error (a corrupt record after
// them); handle the records first. An empty recs returns 0, nil.
func (r *Reader) ReadBatch(ctx context.Context, recs []Record) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	return r.waitFor(ctx, "ringbuf: read", func() (int, error) { return r.tryReadBatch(recs) })
}

// tryReadBatch copies the records in the ring into recs, up to len(recs),
// without waiting.
func (r *Reader) tryReadBatch(recs []Record) (int, error) {
	r.mu.Lock()
	if !r.mapped {
		r.mu.Unlock()
		return 0, errClosedRead
	}
	n, err := r.ring.readBatch(&r.cur, recs)
	r.mu.Unlock()
	if r.isClosed() {
		r.release()
	}
	if err != nil {
		err = fmt.Errorf("ringbuf: read: %w", err)
	}
	return n, err
}

// Consume hands every record in the ring to fn, in place and without
// waiting, and returns how many it handed over. sample is valid only
// during the call: the producer may overwrite it afterwards. The consumer
// position is published once per batch of records, not per record. If fn
// returns an error, Consume stops and returns it wrapped; that record
// counts as consumed. A corrupt ring gives an error wrapping ErrCorrupt.
// fn may call AvailableBytes, Size and the position methods, but not the
// Reader's reading methods: they would wait for the lock Consume holds.
func (r *Reader) Consume(fn func(sample []byte) error) (int, error) {
	return r.ConsumeN(int(^uint(0)>>1), fn)
}

var errNilHandler = fmt.Errorf("ringbuf: consume: nil handler: %w", unix.EINVAL)

// ConsumeN is Consume that stops after n records; n <= 0 consumes nothing.
func (r *Reader) ConsumeN(n int, fn func(sample []byte) error) (int, error) {
	if fn == nil {
		return 0, errNilHandler
	}
	if n <= 0 {
		return 0, nil
	}
	r.mu.Lock()
	if !r.mapped {
		r.mu.Unlock()
		return 0, fmt.Errorf("ringbuf: consume: %w", os.ErrClosed)
	}
	got, err := r.ring.consume(&r.cur, n, fn)
	r.mu.Unlock()
	if r.isClosed() {
		r.release()
	}
	if err != nil {
		err = fmt.Errorf("ringbuf: consume: %w", err)
	}
	return got, err
}

// ConsumeWait is Consume that first waits, like Read, until the ring holds
// at least one record for fn. It returns after a batch of at least one
// record, or with the error that ended the wait.
func (r *Reader) ConsumeWait(ctx context.Context, fn func(sample []byte) error) (int, error) {
	return r.waitFor(ctx, "ringbuf: consume", func() (int, error) { return r.Consume(fn) })
}

// SkipBacklog drops the records in the ring without reading them and
// returns how many it dropped: the consumer position moves up to the
// producer position, as if every record written so far had been read.
// It is for a program that restarts and wants only the events written
// from now on, not those its previous run left unread. It stops early at
// a record a BPF program has reserved but not yet submitted (the kernel
// may still be writing it); the records after it are read as usual. A
// corrupt ring gives an error wrapping ErrCorrupt, with the records
// before the bad one dropped.
func (r *Reader) SkipBacklog() (int, error) {
	r.mu.Lock()
	if !r.mapped {
		r.mu.Unlock()
		return 0, fmt.Errorf("ringbuf: skip backlog: %w", os.ErrClosed)
	}
	n, err := r.ring.skip(&r.cur)
	r.mu.Unlock()
	if r.isClosed() {
		r.release()
	}
	if err != nil {
		err = fmt.Errorf("ringbuf: skip backlog: %w", err)
	}
	return n, err
}

// SetDeadline sets the time after which blocked and future Read,
// ReadInto, ReadBatch and ConsumeWait calls fail with an error wrapping
// os.ErrDeadlineExceeded, as for an os.File. The zero time means no
// deadline.
func (r *Reader) SetDeadline(t time.Time) error {
	if r.isClosed() {
		return fmt.Errorf("ringbuf: set deadline: %w", os.ErrClosed)
	}
	r.poll.SetDeadline(t)
	return nil
}

// AvailableBytes returns how many bytes of records the ring holds that the
// consumer has not consumed: producer position minus consumer position. It
// is a snapshot; the producer may add more at any time. It returns 0 once
// the Reader is closed.
func (r *Reader) AvailableBytes() int {
	if !r.life.Acquire() {
		return 0
	}
	defer r.leavePosition()
	return int(r.ring.available())
}

// Size returns the size of the ring's data area in bytes.
func (r *Reader) Size() int { return int(r.ring.size) }

// ConsumerPosition returns the consumer position as published in the
// ring, or 0 once the Reader is closed.
func (r *Reader) ConsumerPosition() uint64 {
	if !r.life.Acquire() {
		return 0
	}
	defer r.leavePosition()
	return atomic.LoadUint64(r.ring.cons)
}

// ProducerPosition returns the producer position: the end of all reserved
// space, committed or not; 0 once the Reader is closed.
func (r *Reader) ProducerPosition() uint64 {
	if !r.life.Acquire() {
		return 0
	}
	defer r.leavePosition()
	return atomic.LoadUint64(r.ring.prod)
}

// Close wakes every blocked call, which then fails with an error wrapping
// os.ErrClosed, and releases the ring. Memory that a call is still using is
// released when that call returns. Close is idempotent: the first call
// returns the error of releasing the ring, if it released it, and later
// calls return nil, as for userringbuf's Producer.
func (r *Reader) Close() error {
	if first, _ := r.life.Close(); !first {
		return nil
	}
	err := r.poll.Close()
	if rerr := r.release(); rerr != nil {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return fmt.Errorf("ringbuf: close: %w", err)
	}
	return nil
}

// waitFor calls try until it returns records or an error, waiting in
// between for the producer: the blocking forms' loop. try looks at the
// ring before every wait, so records already there are never left
// behind a wait.
func (r *Reader) waitFor(ctx context.Context, op string, try func() (int, error)) (int, error) {
	for {
		gen := r.poll.Gen()
		n, err := try()
		if n > 0 || err != nil {
			return n, err
		}
		if err := r.wait(ctx, op, gen); err != nil {
			return 0, err
		}
	}
}

// wait blocks until the producer signals (or may have since gen), the
// deadline passes, ctx ends or the Reader is closed.
func (r *Reader) wait(ctx context.Context, op string, gen uint64) error {
	_, err := r.poll.Wait(ctx, gen, nil)
	if err == nil {
		return nil
	}
	if errors.Is(err, os.ErrClosed) || r.isClosed() {
		return fmt.Errorf("%s: %w", op, os.ErrClosed)
	}
	return fmt.Errorf("%s: %w", op, err)
}
