package userringbuf

import (
	"context"
	"fmt"
	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/ringproto"
)

// WriteBatch copies samples into the ring, in order, with one check for
// room and one publication of the producer position for all of them, and
// returns how many went in. It does not wait. When the ring has no room
// for all of them it writes the longest prefix that fits and returns its
// length with an error wrapping sys.ErrFull and unix.ENOSPC; a sample that can never fit
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
	if werr := p.waitFor(ctx, nil, func() bool {
		var n int
		n, err = p.WriteBatch(samples[done:])
		done += n
		return err != errNoSpace
	}); werr != nil {
		return done, werr
	}
	return done, err
}

// ReserveBatch reserves room for len(sizes) samples at once, with one
// check for room and one publication of the producer position, and fills
// dst[i] with the sample of sizes[i]; dst must be at least as long as
// sizes. Fill each sample's Bytes in place, then Submit or Discard each
// one, as for Reserve: every sample still costs one atomic operation to
// commit, but the reservation costs one for the batch. When the ring has
// no room for all of them it reserves the longest prefix that fits and
// returns its length with an error wrapping sys.ErrFull and unix.ENOSPC (E2BIG for a size
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
		p.r.markBusy(at, size)
		dst[i] = Sample{p: p, data: p.r.payloadPtr(at), pos: at, size: size}
		at += ringproto.Round8(uint64(size) + hdrSize)
	}
	if perr := p.r.publish(pos, at); perr != nil {
		return 0, perr
	}
	return n, err
}
