package userringbuf

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// WriteBatch copies samples into the ring, in order, with one check for
// room and one publication of the producer position for all of them, and
// returns how many went in. It does not wait. When the ring has no room
// for all of them it writes the longest prefix that fits and returns its
// length with an error wrapping unix.ENOSPC; a sample that can never fit
// stops the batch before it with an error wrapping unix.E2BIG (as Reserve
// says). So n < len(samples) exactly when err != nil, and the caller
// retries with samples[n:].
//
// The samples become visible to the consumer together. Unlike Reserve,
// they are never seen busy: they are complete before they are published.
// It is safe for concurrent use with every other method.
func (p *Producer) WriteBatch(samples [][]byte) (int, error) {
	pos, n, err := p.r.reserveMany(samples, nil)
	if n > 0 {
		p.r.fill(pos, samples[:n])
		if perr := p.r.publish(pos, pos+batchBytes(samples[:n])); perr != nil {
			return 0, perr
		}
	}
	return n, err
}

// WriteBatchBlocking is WriteBatch that waits for a consumer to free space
// until every sample is written. A batch larger than the ring goes in as
// pieces, each written as soon as there is room for it. It returns how
// many samples went in: len(samples) with a nil error, or fewer with the
// error that stopped it (ctx.Err(), one wrapping os.ErrClosed, or E2BIG
// for a sample that can never fit).
func (p *Producer) WriteBatchBlocking(ctx context.Context, samples [][]byte) (int, error) {
	done, err := p.WriteBatch(samples)
	if err != errNoSpace {
		return done, err
	}
	w, err := p.newWaiter(ctx, time.Time{})
	if err != nil {
		return done, err
	}
	defer w.close()
	for {
		// A drain that frees space after this attempt wakes w.
		n, err := p.WriteBatch(samples[done:])
		done += n
		if err != errNoSpace {
			return done, err
		}
		if werr := w.wait(); werr != nil {
			switch {
			case p.isClosed():
				return done, errClosedRsv
			case ctx.Err() != nil:
				return done, ctx.Err()
			}
			return done, fmt.Errorf("userringbuf: write batch: wait: %w", werr)
		}
	}
}

// ReserveBatch reserves room for len(sizes) samples at once, with one
// check for room and one publication of the producer position, and fills
// dst[i] with the sample of sizes[i]; dst must be at least as long as
// sizes. Fill each sample's Bytes in place, then Submit or Discard each
// one, as for Reserve: every sample still costs one atomic operation to
// commit, but the reservation costs one for the batch. When the ring has
// no room for all of them it reserves the longest prefix that fits and
// returns its length with an error wrapping unix.ENOSPC (E2BIG for a size
// that can never fit); only dst[:n] are reserved.
func (p *Producer) ReserveBatch(sizes []int, dst []Sample) (int, error) {
	if len(dst) < len(sizes) {
		return 0, fmt.Errorf("userringbuf: reserve batch: %d sizes but room for %d samples: %w", len(sizes), len(dst), unix.EINVAL)
	}
	pos, n, err := p.r.reserveMany(nil, sizes)
	if n == 0 {
		return 0, err
	}
	at := pos
	for i, size := range sizes[:n] {
		*p.r.header(at) = packHeader(uint32(size)|busyBit, tag(at))
		dst[i] = Sample{p: p, data: p.r.payloadPtr(at), pos: at, size: size}
		at += round8(uint64(size) + hdrSize)
	}
	if perr := p.r.publish(pos, at); perr != nil {
		return 0, perr
	}
	return n, err
}

// batchBytes is the room samples take in the ring.
func batchBytes(samples [][]byte) uint64 {
	total := uint64(0)
	for _, s := range samples {
		total += round8(uint64(len(s)) + hdrSize)
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
			need := round8(uint64(size) + hdrSize)
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
		*r.header(pos) = packHeader(uint32(len(s)), tag(pos))
		copy(unsafe.Slice(r.payloadPtr(pos), len(s)), s)
		pos += round8(uint64(len(s)) + hdrSize)
	}
}
