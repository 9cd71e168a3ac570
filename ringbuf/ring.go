package ringbuf

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"github.com/bpfmaps/bpfmaps/internal/ringproto"
)

// hdrSize is the record header's size, shared with userringbuf.
const hdrSize = ringproto.HdrSize

// ErrCorrupt is wrapped by the error a consumer returns when the ring's
// memory breaks the protocol: a misaligned consumer position, a producer
// position more than the ring's size ahead, or a record longer than what
// the producer published. The consumer stops at the bad record and reads
// nothing outside the ring.
var ErrCorrupt = errors.New("ring memory is corrupt")

// ring is the BPF ring buffer protocol over some memory, shared by the
// kernel Reader and the in-memory Producer. cons and prod point at the two
// 64-bit positions; data is the data area of size bytes followed by a
// second view of it (the kernel maps it twice in a row, so a record that
// wraps past the end is contiguous). Over ordinary memory data is 2*size
// bytes and the producer writes a wrapping record into the second half,
// where the consumer reads it: both address records the same way.
//
// Positions only grow; a position's byte offset is pos & (size-1). Every
// record starts 8-byte aligned with an 8-byte header whose first 32-bit
// word holds the payload length, the busy bit and the discard bit, and
// occupies ringproto.Round8(len+8) bytes.
type ring struct {
	cons *uint64
	prod *uint64
	data unsafe.Pointer
	size uint64
}

// hdr returns the address of the header of the record at pos.
func (r *ring) hdr(pos uint64) unsafe.Pointer {
	return unsafe.Add(r.data, pos&(r.size-1))
}

// word loads the length word of the record at pos (acquire).
func (r *ring) word(pos uint64) ringproto.Word {
	return ringproto.LoadWord(r.hdr(pos))
}

// bytes returns n bytes of the data area from pos's offset on.
func (r *ring) bytes(pos, n uint64) []byte {
	return unsafe.Slice((*byte)(unsafe.Add(r.data, pos&(r.size-1))), n)
}

// payloadPtr returns the address of the payload of the record at pos.
func (r *ring) payloadPtr(pos uint64) *byte {
	return (*byte)(unsafe.Add(r.data, (pos+hdrSize)&(r.size-1)))
}

// reserve writes the header of a busy record of n bytes at the producer
// position and publishes it, as bpf_ringbuf_reserve does, and returns its
// position. It fails (false) when the record would overrun the consumer
// or the oldest record still busy, *pending, which it first moves past
// the records committed since. Callers serialise reservations.
func (r *ring) reserve(pending *uint64, n uint64) (uint64, bool) {
	prod := atomic.LoadUint64(r.prod)
	cons := atomic.LoadUint64(r.cons)
	for *pending < prod {
		w := r.word(*pending)
		if w.Busy() {
			break
		}
		*pending += w.Total()
	}
	next := prod + ringproto.Round8(n+hdrSize)
	if next-cons > r.size-1 || next-*pending > r.size-1 {
		return 0, false
	}
	hdr := r.hdr(prod)
	*(*uint32)(unsafe.Add(hdr, 4)) = uint32(prod & (r.size - 1)) // the kernel's page offset word; consumers ignore it
	ringproto.StoreWord(hdr, ringproto.MakeWord(uint32(n), ringproto.Busy))
	atomic.StoreUint64(r.prod, next)
	return prod, true
}

// commit clears the busy bit of the record of n bytes at pos and sets
// bits (0 or ringproto.Discard), as bpf_ringbuf_submit and _discard do. It
// fails (false) when that record is not busy, or not of n bytes.
func (r *ring) commit(pos uint64, n int, bits ringproto.Word) bool {
	return atomic.CompareAndSwapUint32((*uint32)(r.hdr(pos)),
		uint32(ringproto.MakeWord(uint32(n), ringproto.Busy)), uint32(ringproto.MakeWord(uint32(n), bits)))
}

// consumerAt reports whether the consumer position is at pos's offset: the
// kernel's adaptive wake-up rule.
func (r *ring) consumerAt(pos uint64) bool {
	return atomic.LoadUint64(r.cons)&(r.size-1) == pos&(r.size-1)
}

// cursor is a consumer's private view of a ring: the position it has
// reached (pos), the last producer position it loaded (end) and the last
// position it published (pub). Records between pos and end are known to
// be there; only the busy bit of each header still has to be checked.
type cursor struct {
	pos, end, pub uint64
}

// load starts a cursor at the published consumer position.
func (r *ring) load() cursor {
	p := atomic.LoadUint64(r.cons)
	return cursor{pos: p, end: p, pub: p}
}

// refresh loads the producer position into c and checks it against c.pos.
func (r *ring) refresh(c *cursor) error {
	end := atomic.LoadUint64(r.prod)
	if c.pos&7 != 0 {
		return fmt.Errorf("consumer position %#x is not 8-byte aligned: %w", c.pos, ErrCorrupt)
	}
	if end-c.pos > r.size {
		return fmt.Errorf("producer position %#x is not within %d bytes after consumer position %#x: %w",
			end, r.size, c.pos, ErrCorrupt)
	}
	c.end = end
	return nil
}

// next returns the record at c.pos and advances c past it. ok is false,
// with c unchanged, when c.pos reached c.end or the record is still busy.
// A discarded record is returned with discarded set and no payload.
func (r *ring) next(c *cursor) (payload []byte, discarded, ok bool, err error) {
	if c.pos == c.end {
		return nil, false, false, nil
	}
	word := r.word(c.pos)
	if word.Busy() {
		return nil, false, false, nil
	}
	n, total := uint64(word.Len()), word.Total()
	if total > c.end-c.pos {
		return nil, false, false, overrun(c, n)
	}
	at := c.pos
	c.pos += total
	if word.Discarded() {
		return nil, true, true, nil
	}
	// The header is 8-byte aligned and total <= size, so the payload ends
	// within the two views: offset+8+n <= 2*size, or, for a header in the
	// last 8 bytes, the payload starts at offset 0.
	return r.bytes(at+hdrSize, n), false, true, nil
}

// overrun is next's error, kept out of line so that next inlines.
//
//go:noinline
func overrun(c *cursor, n uint64) error {
	return fmt.Errorf("record of %d bytes at position %#x runs past producer position %#x: %w",
		n, c.pos, c.end, ErrCorrupt)
}

// publish stores c.pos as the consumer position if it moved. The store is
// sequentially consistent: it is ordered before the next load of the
// producer position, so a wake-up the producer decides on from it cannot
// be lost.
func (r *ring) publish(c *cursor) {
	if c.pos != c.pub {
		atomic.StoreUint64(r.cons, c.pos)
		c.pub = c.pos
	}
}

// consume hands up to max records to fn from c on (max > 0), skipping
// discarded ones (also those after the last record handed over), and
// publishes the consumer position once per look at the
// producer position: before looking again and before returning. A record
// for which fn returns an error counts as consumed; the error is returned
// wrapped. It returns the number of records fn was given.
func (r *ring) consume(c *cursor, max int, fn func([]byte) error) (int, error) {
	n := 0
	for {
		// next, written out: this loop is the zero-copy hot path.
		pos, end := c.pos, c.end
		for n < max && pos != end {
			word := r.word(pos)
			if word.Busy() {
				break
			}
			size, total := uint64(word.Len()), word.Total()
			if total > end-pos {
				c.pos = pos
				r.publish(c)
				return n, overrun(c, size)
			}
			at := pos
			pos += total
			if word.Discarded() {
				continue
			}
			n++
			if err := fn(r.bytes(at+hdrSize, size)); err != nil {
				c.pos = pos
				r.publish(c)
				return n, fmt.Errorf("handler: %w", err)
			}
		}
		c.pos = pos
		if n >= max {
			r.skipDiscarded(c)
		}
		r.publish(c)
		if n >= max || c.pos != c.end { // budget spent, or a busy record
			return n, nil
		}
		old := c.end
		if err := r.refresh(c); err != nil {
			return n, err
		}
		if c.end == old {
			return n, nil
		}
	}
}

// readBatch copies the records from c on into recs, up to len(recs),
// reusing the capacity of each Sample, and returns how many it copied. Its
// inner loop handles the common case, committed records already seen at
// the last look at the producer position; next handles the rest
// (discarded and busy records, corruption) and the position is refreshed
// when c reaches it. Discarded records after the last one copied are
// stepped over too, so that they never hold the producer back. The
// consumer position is published before each new look at the producer
// position and before it returns: a record handed to the caller is
// consumed in the ring.
func (r *ring) readBatch(c *cursor, recs []Record) (int, error) {
	n := 0
	var err error
	for n < len(recs) {
		pos, end := c.pos, c.end
		for ; n < len(recs) && pos != end; n++ {
			word := r.word(pos)
			size, total := uint64(word.Len()), word.Total()
			if !word.Ready() || total > end-pos {
				break
			}
			rec := &recs[n]
			if uint64(cap(rec.Sample)) >= size {
				rec.Sample = rec.Sample[:size] // stores the length only
				copy(rec.Sample, r.bytes(pos+hdrSize, size))
			} else {
				rec.Sample = append(rec.Sample[:0], r.bytes(pos+hdrSize, size)...)
			}
			pos += total
			rec.Remaining = int(end - pos)
		}
		c.pos = pos
		if n == len(recs) {
			break
		}
		b, discarded, ok, nerr := r.next(c)
		if nerr != nil {
			err = nerr
			break
		}
		if ok {
			if !discarded {
				recs[n].Sample = append(recs[n].Sample[:0], b...)
				recs[n].Remaining = int(c.end - c.pos)
				n++
			}
			continue
		}
		if c.pos != c.end { // a busy record: its commit wakes the consumer
			break
		}
		r.publish(c)
		old := c.end
		if err = r.refresh(c); err != nil || c.end == old {
			break
		}
	}
	if err == nil {
		r.skipDiscarded(c)
	}
	r.publish(c)
	return n, err
}

// skip moves c over the records up to the producer position as it is now,
// stopping early at a record still busy, and publishes the consumer
// position. It returns how many committed, not discarded, records it
// stepped over.
func (r *ring) skip(c *cursor) (int, error) {
	err := r.refresh(c)
	n := 0
	for err == nil {
		var ok, discarded bool
		_, discarded, ok, err = r.next(c)
		if !ok {
			break
		}
		if !discarded {
			n++
		}
	}
	r.publish(c)
	return n, err
}

// skipDiscarded steps c over the committed discarded records at c.pos, up
// to the producer position last seen.
func (r *ring) skipDiscarded(c *cursor) {
	for c.pos != c.end {
		word := r.word(c.pos)
		total := word.Total()
		if word.Bits() != ringproto.Discard || total > c.end-c.pos {
			return
		}
		c.pos += total
	}
}

// available returns producer - consumer, the bytes not yet consumed.
func (r *ring) available() uint64 {
	cons := atomic.LoadUint64(r.cons)
	return atomic.LoadUint64(r.prod) - cons
}
