package userringbuf

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// batchOf returns count samples of size bytes in the test format, numbered
// from seq on, and records them in w.
func batchOf(w *want, count, size int, seq uint32) [][]byte {
	b := make([][]byte, count)
	for i := range b {
		b[i] = make([]byte, size)
		w.fill(b[i], seq+uint32(i))
	}
	return b
}

// A batch that wraps around the end of the ring arrives whole and in
// order at the kernel's drain and the in-memory one.
func TestBatchWrapAround(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var w want
		w.put(t, tg.p, 3000, 0) // the next sample starts at 3008
		w.check(t, tg.drain(t))
		for round := range 20 {
			batch := batchOf(&w, 10, 100+round, uint32(round*10+1))
			if n, err := tg.p.WriteBatch(batch); n != 10 || err != nil {
				t.Fatalf("round %d: WriteBatch = %d, %v", round, n, err)
			}
			w.check(t, tg.drain(t))
		}
		if cons, prod := positions(tg.p); cons != prod || cons < 4*page {
			t.Fatalf("consumer position %d, producer %d: want equal and several times round", cons, prod)
		}
	})
}

// A batch that exactly fills the ring goes in whole; then not even an
// empty sample fits until a drain.
func TestBatchExactlyFills(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var w want
		batch := batchOf(&w, page/64, 56, 0) // 64 bytes each with the header
		if n, err := tg.p.WriteBatch(batch); n != len(batch) || err != nil {
			t.Fatalf("WriteBatch = %d, %v, want %d, nil", n, err, len(batch))
		}
		if _, err := tg.p.Reserve(0); !errors.Is(err, unix.ENOSPC) || !errors.Is(err, sys.ErrFull) {
			t.Fatalf("Reserve(0) in a full ring: %v, want ENOSPC and sys.ErrFull", err)
		}
		if n, err := tg.p.WriteBatch([][]byte{nil}); n != 0 || !errors.Is(err, unix.ENOSPC) {
			t.Fatalf("WriteBatch into a full ring = %d, %v, want 0, ENOSPC", n, err)
		}
		w.check(t, tg.drain(t))
		sizes := make([]int, page/16)
		dst := make([]Sample, len(sizes))
		for i := range sizes {
			sizes[i] = 8
		}
		if n, err := tg.p.ReserveBatch(sizes, dst); n != len(sizes) || err != nil {
			t.Fatalf("ReserveBatch of %d 8-byte samples = %d, %v", len(sizes), n, err)
		}
		for i, s := range dst {
			w.fill(s.Bytes(), uint32(1000+i))
			if err := s.Submit(); err != nil {
				t.Fatal(err)
			}
		}
		w.check(t, tg.drain(t))
	})
}

// A batch larger than the ring: WriteBatch writes the prefix that fits and
// says how many; the rest goes in after a drain; WriteBatchBlocking writes
// all of it while the consumer drains.
func TestBatchLargerThanRing(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var w want
		batch := batchOf(&w, 100, 56, 0)
		n, err := tg.p.WriteBatch(batch)
		if n != page/64 || !errors.Is(err, unix.ENOSPC) {
			t.Fatalf("WriteBatch of %d = %d, %v, want %d, ENOSPC", len(batch), n, err, page/64)
		}
		tg.drain(t) // w covers all 100: check after the rest
		if m, err := tg.p.WriteBatch(batch[n:]); m != len(batch)-n || err != nil {
			t.Fatalf("WriteBatch of the rest = %d, %v", m, err)
		}
		w.check(t, tg.drain(t))

		// Blocking: 1000 samples through a ring that takes 64.
		big := batchOf(&w, 1000, 56, 100)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		type result struct {
			n   int
			err error
		}
		done := make(chan result, 1)
		go func() {
			n, err := tg.p.WriteBatchBlocking(ctx, big)
			done <- result{n, err}
		}()
		for {
			select {
			case r := <-done:
				if r.n != len(big) || r.err != nil {
					t.Fatalf("WriteBatchBlocking = %d, %v, want %d, nil", r.n, r.err, len(big))
				}
				w.check(t, tg.drain(t))
				return
			case <-ctx.Done():
				t.Fatal("WriteBatchBlocking still blocked")
			default:
				tg.drain(t)
				time.Sleep(100 * time.Microsecond)
			}
		}
	})
}

// Discards mixed in: samples of a ReserveBatch discarded among submitted
// ones, around WriteBatch and Reserve; the consumer skips exactly the
// discarded ones. A size that can never fit stops a batch before it.
func TestBatchDiscardsMixed(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, 2*page, func(t *testing.T, tg *target) {
		var w want
		seq := uint32(0)
		for round := range 30 {
			sizes := []int{8, 40, 100, 16, 64, 200, 8}
			dst := make([]Sample, len(sizes))
			if n, err := tg.p.ReserveBatch(sizes, dst); n != len(sizes) || err != nil {
				t.Fatalf("round %d: ReserveBatch = %d, %v", round, n, err)
			}
			batch := batchOf(&w, 3, 24+round, seq) // reserved after, committed before
			seq += 3
			if n, err := tg.p.WriteBatch(batch); n != 3 || err != nil {
				t.Fatalf("round %d: WriteBatch = %d, %v", round, n, err)
			}
			for i := len(dst) - 1; i >= 0; i-- { // commit out of order
				s := dst[i]
				if (i+round)%3 == 0 {
					fill(s.Bytes())
					if err := s.Discard(); err != nil {
						t.Fatal(err)
					}
					continue
				}
				w.fill(s.Bytes(), seq)
				seq++
				if err := s.Submit(); err != nil {
					t.Fatal(err)
				}
			}
			w.put(t, tg.p, 48, seq)
			seq++
			w.check(t, tg.drain(t))
		}
		n, err := tg.p.WriteBatch([][]byte{make([]byte, 8), make([]byte, 2*page)})
		if n != 1 || !errors.Is(err, unix.E2BIG) {
			t.Fatalf("WriteBatch with a sample larger than the ring = %d, %v, want 1, E2BIG", n, err)
		}
		dst := make([]Sample, 2)
		if n, err := tg.p.ReserveBatch([]int{8, -1}, dst); n != 1 || !errors.Is(err, unix.EINVAL) {
			t.Fatalf("ReserveBatch with a negative size = %d, %v, want 1, EINVAL", n, err)
		}
		if err := dst[0].Discard(); err != nil {
			t.Fatal(err)
		}
		if _, err := tg.p.ReserveBatch([]int{8, 8}, dst[:1]); !errors.Is(err, unix.EINVAL) {
			t.Fatalf("ReserveBatch with a short dst: %v, want EINVAL", err)
		}
	})
}

// fill writes junk that a consumer must never see.
func fill(b []byte) {
	for i := range b {
		b[i] = 0xee
	}
}

// WriteBatchBlocking on a full ring ends with ctx's error or ErrClosed,
// saying how many samples went in before.
func TestBatchBlockingEnds(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var w want
		batch := batchOf(&w, 70, 56, 0) // 64 fit
		ctx, cancel := context.WithCancel(context.Background())
		type result struct {
			n   int
			err error
		}
		done := make(chan result, 1)
		go func() { n, err := tg.p.WriteBatchBlocking(ctx, batch); done <- result{n, err} }()
		time.Sleep(20 * time.Millisecond)
		cancel()
		select {
		case r := <-done:
			if r.n != 64 || !errors.Is(r.err, context.Canceled) {
				t.Fatalf("cancelled WriteBatchBlocking = %d, %v, want 64, context.Canceled", r.n, r.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("WriteBatchBlocking still blocked after cancel")
		}
		go func() { n, err := tg.p.WriteBatchBlocking(context.Background(), batch); done <- result{n, err} }()
		time.Sleep(20 * time.Millisecond)
		tg.p.Close()
		select {
		case r := <-done:
			if r.n != 0 || !errors.Is(r.err, os.ErrClosed) {
				t.Fatalf("WriteBatchBlocking at Close = %d, %v, want 0, ErrClosed", r.n, r.err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("WriteBatchBlocking still blocked after Close")
		}
	})
}
