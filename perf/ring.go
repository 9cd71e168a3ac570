package perf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrCorrupt is wrapped by the error a read returns when a CPU's ring
// breaks the perf protocol: a head more than the ring's size ahead of the
// tail, a record header whose size is below the header's or past the
// head, or a sample whose raw size does not fit its record. The reader
// stops at the bad record of that CPU and reads nothing outside the ring.
var ErrCorrupt = errors.New("perf ring memory is corrupt")

// The perf record layout (include/uapi/linux/perf_event.h).
const (
	hdrSize    = 8 // struct perf_event_header { u32 type; u16 misc; u16 size; }
	sampleMin  = hdrSize + 4
	lostSize   = hdrSize + 16 // header, u64 id, u64 lost
	recSample  = unix.PERF_RECORD_SAMPLE
	recLost    = unix.PERF_RECORD_LOST
	headOffset = int(unsafe.Offsetof(unix.PerfEventMmapPage{}.Data_head))
	tailOffset = int(unsafe.Offsetof(unix.PerfEventMmapPage{}.Data_tail))
)

// ring is one CPU's perf ring over some memory: the data_head and
// data_tail words of the metadata page (struct perf_event_mmap_page) and
// the data area of size bytes, a power of two. The kernel writes records
// at data_head and publishes it (load it with acquire); the reader
// publishes data_tail (store with release) to free space. Positions only
// grow; a position's byte offset is pos & (size-1). The data area is
// mapped once, so a record may wrap around its end: it is read in two
// pieces.
type ring struct {
	head *uint64
	tail *uint64
	data unsafe.Pointer
	size uint64
	cpu  int

	pos, end, pub uint64 // the reader's cursor: reached, head last seen, tail published

	lost atomic.Uint64 // lost samples reported by PERF_RECORD_LOST records read
}

// newRing returns the ring of cpu whose metadata page is meta and whose
// data area is data (its length a power of two), with the cursor at the
// published tail.
func newRing(meta, data []byte, cpu int) *ring {
	r := &ring{
		head: (*uint64)(unsafe.Pointer(&meta[headOffset])),
		tail: (*uint64)(unsafe.Pointer(&meta[tailOffset])),
		data: unsafe.Pointer(unsafe.SliceData(data)),
		size: uint64(len(data)),
		cpu:  cpu,
	}
	r.pos = atomic.LoadUint64(r.tail)
	r.end, r.pub = r.pos, r.pos
	return r
}

// copyAt copies len(dst) bytes of the data area from pos on into dst,
// wrapping around the end. len(dst) is at most size.
func (r *ring) copyAt(dst []byte, pos uint64) {
	off := pos & (r.size - 1)
	n := copy(dst, unsafe.Slice((*byte)(unsafe.Add(r.data, off)), r.size-off))
	if n < len(dst) {
		copy(dst[n:], unsafe.Slice((*byte)(r.data), r.size))
	}
}

// refresh loads the head (acquire) and checks it against the cursor.
func (r *ring) refresh() error {
	end := atomic.LoadUint64(r.head)
	if end-r.pos > r.size {
		return fmt.Errorf("cpu %d: head %#x is not within %d bytes after tail %#x: %w", r.cpu, end, r.size, r.pos, ErrCorrupt)
	}
	r.end = end
	return nil
}

// publish stores the cursor as data_tail if it moved (release): the
// kernel may then reuse the space of the records read.
func (r *ring) publish() {
	if r.pos != r.pub {
		atomic.StoreUint64(r.tail, r.pos)
		r.pub = r.pos
	}
}

// read reads the next sample or lost record of the ring into rec, reusing
// the capacity of rec.RawSample, steps over records of other types, and
// publishes the tail. ok is false when the ring holds no such record.
func (r *ring) read(rec *Record) (ok bool, err error) {
	ok, err = r.next(rec, nil)
	r.publish()
	return ok, err
}

// consume hands the records of the ring to fn, up to max (> 0), the
// samples in place: rec.RawSample points into the ring where the sample
// is contiguous, into *scratch where it wraps. The tail is published
// before it returns, after fn is done with the records. A record for
// which fn returns an error counts as consumed.
func (r *ring) consume(rec *Record, scratch *[]byte, max int, fn func(*Record) error) (int, error) {
	defer r.publish()
	n := 0
	for n < max {
		ok, err := r.next(rec, scratch)
		if !ok || err != nil {
			return n, err
		}
		n++
		if err := fn(rec); err != nil {
			return n, fmt.Errorf("handler: %w", err)
		}
	}
	return n, nil
}

// next reads the record at the cursor into rec and moves past it. With
// scratch nil it copies the sample into rec.RawSample; otherwise
// rec.RawSample points into the ring, or into *scratch (grown as needed)
// when the sample wraps around the end.
func (r *ring) next(rec *Record, scratch *[]byte) (bool, error) {
	for {
		if r.pos == r.end {
			if err := r.refresh(); err != nil {
				return false, err
			}
			if r.pos == r.end {
				return false, nil
			}
		}
		var h [lostSize]byte
		r.copyAt(h[:hdrSize], r.pos)
		typ := binary.NativeEndian.Uint32(h[0:])
		size := uint64(binary.NativeEndian.Uint16(h[6:]))
		if size < hdrSize || size > r.end-r.pos {
			return false, r.corrupt(fmt.Sprintf("record of type %d and size %d", typ, size))
		}
		switch typ {
		case recSample:
			if size < sampleMin {
				return false, r.corrupt(fmt.Sprintf("sample record of size %d", size))
			}
			r.copyAt(h[hdrSize:sampleMin], r.pos+hdrSize)
			n := uint64(binary.NativeEndian.Uint32(h[hdrSize:]))
			if n > size-sampleMin {
				return false, r.corrupt(fmt.Sprintf("sample of %d raw bytes in a record of size %d", n, size))
			}
			switch off := (r.pos + sampleMin) & (r.size - 1); {
			case scratch != nil && off+n <= r.size:
				rec.RawSample = unsafe.Slice((*byte)(unsafe.Add(r.data, off)), n)
			case scratch != nil:
				if uint64(cap(*scratch)) < n {
					*scratch = make([]byte, n)
				}
				rec.RawSample = (*scratch)[:n]
				r.copyAt(rec.RawSample, r.pos+sampleMin)
			default:
				if uint64(cap(rec.RawSample)) >= n {
					rec.RawSample = rec.RawSample[:n]
				} else {
					rec.RawSample = make([]byte, n)
				}
				r.copyAt(rec.RawSample, r.pos+sampleMin)
			}
			rec.CPU, rec.LostSamples = r.cpu, 0
			r.pos += size
			return true, nil
		case recLost:
			if size < lostSize {
				return false, r.corrupt(fmt.Sprintf("lost record of size %d", size))
			}
			r.copyAt(h[hdrSize:], r.pos+hdrSize)
			n := binary.NativeEndian.Uint64(h[16:])
			r.lost.Add(n)
			rec.CPU, rec.LostSamples = r.cpu, n
			if scratch != nil {
				rec.RawSample = nil // it may point into the ring
			} else {
				rec.RawSample = rec.RawSample[:0] // keeps the caller's capacity
			}
			r.pos += size
			return true, nil
		}
		r.pos += size // a record type the reader did not ask for: step over it
	}
}

// corrupt is next's error, kept out of line.
//
//go:noinline
func (r *ring) corrupt(what string) error {
	return fmt.Errorf("cpu %d: %s at position %#x, head %#x: %w", r.cpu, what, r.pos, r.end, ErrCorrupt)
}
