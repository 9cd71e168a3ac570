package userringbuf

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/ringproto"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

const page = 4096

// Samples of 8 to 4000 bytes, in an order that makes records wrap around
// the end of the ring many times, each drained and checked byte for byte
// at both ends.
func TestSizesAndWrapAround(t *testing.T) {
	testutil.CheckLeaks(t)
	sizes := []int{8, 9, 15, 16, 17, 33, 64, 100, 255, 256, 1000, 1023, 2047, 3000, 4000}
	forEachTarget(t, 2*page, func(t *testing.T, tg *target) {
		var w want
		wraps := 0
		for i := range 300 {
			size := sizes[(i*7)%len(sizes)]
			s, err := tg.p.Reserve(size)
			if errors.Is(err, unix.ENOSPC) {
				w.check(t, tg.drain(t))
				s, err = tg.p.Reserve(size)
			}
			if err != nil {
				t.Fatalf("sample %d of %d bytes: %v", i, size, err)
			}
			start := s.pos & (s.p.r.size - 1)
			if start+hdrSize+uint64(size) > s.p.r.size {
				wraps++
			}
			w.fill(s.Bytes(), uint32(i))
			if err := s.Submit(); err != nil {
				t.Fatal(err)
			}
		}
		r := tg.drain(t)
		w.check(t, r)
		if wraps < 10 {
			t.Fatalf("only %d samples wrapped around the end of the ring", wraps)
		}
		if cons, prod := positions(tg.p); cons != prod {
			t.Fatalf("consumer position %d, producer %d: want all consumed", cons, prod)
		}
	})
}

// A header in the last 8 bytes of the ring has its payload at offset 0,
// and a payload that runs past the end continues at the start.
func TestWrapEdges(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var w want
		w.put(t, tg.p, page-16, 0) // 4088 bytes: the next header sits at 4088
		w.check(t, tg.drain(t))
		w.put(t, tg.p, 100, 1) // payload at offset 0
		w.put(t, tg.p, 3000, 2)
		w.check(t, tg.drain(t))
		w.put(t, tg.p, 2000, 3) // starts near 3200, runs past the end
		w.check(t, tg.drain(t))
	})
}

// The producer may use the whole ring: one sample of size-8 bytes, or
// size/16 samples of 8 bytes; then nothing fits, not even 0 bytes, until
// a drain.
func TestFullRing(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var w want
		w.put(t, tg.p, page-8, 0)
		if _, err := tg.p.Reserve(0); !errors.Is(err, unix.ENOSPC) {
			t.Fatalf("reserve in a full ring: %v, want ENOSPC", err)
		}
		if r := tg.drain(t); r.Ret != 1 {
			t.Fatalf("drain returned %d, want 1", r.Ret)
		}
		w.check(t, tg.drain(t))
		for i := range page / 16 {
			w.put(t, tg.p, 8, uint32(i+1))
		}
		if err := tg.p.Write(make([]byte, 8)); !errors.Is(err, unix.ENOSPC) {
			t.Fatalf("write into a full ring: %v, want ENOSPC", err)
		}
		if r := tg.drain(t); r.Ret != page/16 {
			t.Fatalf("drain returned %d, want %d", r.Ret, page/16)
		}
		w.check(t, tg.drain(t))
	})
}

// selftest overfill: 40-byte records written until the ring refuses; a
// drain then sees all 102 and frees the space.
func TestOverfill(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var w want
		written := 0
		for i := range 5 * 102 {
			s, err := tg.p.Reserve(32)
			if errors.Is(err, unix.ENOSPC) {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			w.fill(s.Bytes(), uint32(i))
			s.Submit()
			written++
		}
		if written != page/40 {
			t.Fatalf("wrote %d samples before ENOSPC, want %d", written, page/40)
		}
		w.check(t, tg.drain(t))
		w.put(t, tg.p, 32, 999)
		w.check(t, tg.drain(t))
	})
}

// selftests basic and post_alignment_autoadjust.
func TestBasicAndOddSizes(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var w want
		if r := tg.drain(t); r.Samples != 0 || r.Ret != 0 {
			t.Fatalf("empty ring drained: %+v", r)
		}
		w.put(t, tg.p, 32, 1)
		w.put(t, tg.p, 32, 2)
		w.check(t, tg.drain(t))
		w.put(t, tg.p, 33, 3)
		if _, prod := positions(tg.p); prod%8 != 0 {
			t.Fatalf("producer position %d not 8-byte aligned after a 33-byte sample", prod)
		}
		w.check(t, tg.drain(t))
	})
}

// Discarded samples never reach the consumer and free their space
// (selftest discards_properly_ignored), also between submitted ones.
func TestDiscard(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		n := 0
		for ; ; n++ {
			s, err := tg.p.Reserve(8)
			if errors.Is(err, unix.ENOSPC) {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			if err := s.Discard(); err != nil {
				t.Fatal(err)
			}
		}
		if n != page/16 {
			t.Fatalf("discarded %d samples before the ring filled, want %d", n, page/16)
		}
		var w want
		r := tg.drain(t)
		if r.Ret != 0 {
			t.Fatalf("drain of discarded samples returned %d, want 0", r.Ret)
		}
		w.check(t, r)
		if cons, prod := positions(tg.p); cons != prod {
			t.Fatalf("discarded samples not consumed: consumer %d, producer %d", cons, prod)
		}
		w.put(t, tg.p, 64, 1)
		s, err := tg.p.Reserve(64)
		if err != nil {
			t.Fatal(err)
		}
		s.Discard()
		w.put(t, tg.p, 64, 3)
		r = tg.drain(t)
		if r.Ret != 2 {
			t.Fatalf("drain returned %d, want 2", r.Ret)
		}
		w.check(t, r)
	})
}

// A reserved sample holds back later ones, even submitted ones, until it
// is committed; samples may be committed out of order.
func TestBusyHoldsBack(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var w want
		first, err := tg.p.Reserve(16)
		if err != nil {
			t.Fatal(err)
		}
		var later want
		later.put(t, tg.p, 24, 2)
		if r := tg.drain(t); r.Ret != 0 || r.Samples != 0 {
			t.Fatalf("drain passed a busy sample: %+v", r)
		}
		w.fill(first.Bytes(), 1)
		first.Submit()
		w.samples, w.bytes, w.tailSum, w.first = w.samples+1, w.bytes+24, w.tailSum+later.tailSum, later.first
		r := tg.drain(t)
		if r.Ret != 2 {
			t.Fatalf("drain returned %d, want 2", r.Ret)
		}
		w.check(t, r)
	})
}

// selftest loop: 8192 samples in batches of up to 102, drained after each.
func TestManyBatches(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var w want
		for seq := 0; seq < 8192; {
			for i := 0; i < 102 && seq < 8192; i++ {
				w.put(t, tg.p, 32, uint32(seq))
				seq++
			}
			w.check(t, tg.drain(t))
		}
	})
}

// One drain looks at DrainLimit samples at most, discarded ones included.
func TestDrainLimit(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, 4<<20, func(t *testing.T, tg *target) {
		for range DrainLimit {
			s, err := tg.p.Reserve(8)
			if err != nil {
				t.Fatal(err)
			}
			s.Discard()
		}
		var w want
		for i := range 10 {
			w.put(t, tg.p, 8, uint32(i))
		}
		if r := tg.drain(t); r.Ret != 0 || r.Samples != 0 {
			t.Fatalf("first drain: returned %d with %d samples, want 0 (limit reached on discarded samples)", r.Ret, r.Samples)
		}
		r := tg.drain(t)
		if r.Ret != 10 {
			t.Fatalf("second drain returned %d, want 10", r.Ret)
		}
		w.check(t, r)

		for i := range DrainLimit + 5 {
			w.put(t, tg.p, 8, uint32(i))
		}
		if r := tg.drain(t); r.Ret != DrainLimit {
			t.Fatalf("drain returned %d, want the limit %d", r.Ret, DrainLimit)
		}
		if r := tg.drain(t); r.Ret != 5 {
			t.Fatalf("drain returned %d, want the 5 left", r.Ret)
		}
	})
}

// A callback that returns 1 stops the drain after its sample.
func TestCallbackStops(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var w want
		for i := range 5 {
			w.put(t, tg.p, 16, uint32(i))
		}
		tg.setStopAt(t, 2)
		for _, ret := range []int64{2, 1, 1, 1, 0} {
			if r := tg.drain(t); r.Ret != ret {
				t.Fatalf("drain returned %d, want %d", r.Ret, ret)
			}
		}
		tg.setStopAt(t, 0)
		w.check(t, tg.drain(t))
	})
}

// A small message protocol: 16-byte messages {length, op, operand}; the
// consumer sums operands (the last 8 bytes) and the producer checks the
// sum after every batch of 8 messages.
func TestMessageProtocol(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var sum uint64
		for i := range 64 {
			operand := uint64(4)
			if i%2 == 1 {
				operand = 2
			}
			s, err := tg.p.ReserveBlocking(context.Background(), 16)
			if err != nil {
				t.Fatal(err)
			}
			b := s.Bytes()
			*(*uint32)(unsafe.Pointer(&b[0])) = 16
			*(*uint32)(unsafe.Pointer(&b[4])) = uint32(i % 4)
			*(*uint64)(unsafe.Pointer(&b[8])) = operand
			sum += operand
			s.Submit()
			if i%8 == 7 {
				if r := tg.drain(t); r.TailSum != sum || r.Samples != uint64(i+1) || r.Bad != 0 {
					t.Fatalf("after message %d the consumer summed %d over %d messages (%d bad), want %d over %d",
						i, r.TailSum, r.Samples, r.Bad, sum, i+1)
				}
			}
		}
	})
}

// Malformed rings (selftests post_misaligned, post_producer_wrong_offset,
// post_larger_than_ringbuf_sz): the drain refuses them and consumes
// nothing; written here straight into the producer's memory.
func TestMalformed(t *testing.T) {
	testutil.CheckLeaks(t)
	cases := []struct {
		name      string
		length    uint32
		prod      uint64
		wantErrno unix.Errno
	}{
		{"misaligned producer position", 39, 39 + 8, unix.EINVAL},
		{"producer position short of the header", 32, 24 + 8, unix.EINVAL},
		{"header longer than the ring", page, page + 8, unix.E2BIG},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			forEachTarget(t, page, func(t *testing.T, tg *target) {
				*tg.p.r.header(0) = ringproto.Header(ringproto.Word(c.length), 0)
				atomic.StoreUint64(tg.p.r.prod, c.prod)
				for range 2 { // the bad sample is not skipped
					r := tg.drain(t)
					if r.Ret != -int64(c.wantErrno) || r.Samples != 0 {
						t.Fatalf("drain returned %d with %d samples, want %d (-%v) and none", r.Ret, r.Samples, -int64(c.wantErrno), c.wantErrno)
					}
				}
				if cons, _ := positions(tg.p); cons != 0 {
					t.Fatalf("consumer position moved to %d", cons)
				}
				atomic.StoreUint64(tg.p.r.prod, 0) // let Close walk an empty ring
			})
		})
	}
	// Busy and discard together: discard is checked first, so the sample
	// is skipped, not waited for.
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var w want
		*tg.p.r.header(0) = ringproto.Header(ringproto.MakeWord(8, ringproto.Busy|ringproto.Discard), 0)
		atomic.StoreUint64(tg.p.r.prod, 16)
		tg.p.r.next.Store(16)
		w.put(t, tg.p, 8, 1)
		r := tg.drain(t)
		if r.Ret != 1 {
			t.Fatalf("drain returned %d, want 1 (busy+discard skipped)", r.Ret)
		}
		w.check(t, r)
	})
	// After k good samples the bad one stops the drain; the k stay consumed.
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var w want
		w.put(t, tg.p, 16, 1)
		w.put(t, tg.p, 16, 2)
		_, prod := positions(tg.p)
		*tg.p.r.header(prod) = ringproto.Header(ringproto.MakeWord(64, 0), 0)
		atomic.StoreUint64(tg.p.r.prod, prod+16)
		r := tg.drain(t)
		if r.Ret != -int64(unix.EINVAL) {
			t.Fatalf("drain returned %d, want -EINVAL", r.Ret)
		}
		w.check(t, r)
		if cons, _ := positions(tg.p); cons != prod {
			t.Fatalf("consumer position %d, want %d (good samples consumed)", cons, prod)
		}
		atomic.StoreUint64(tg.p.r.prod, prod)
	})
}

// A blocked ReserveBlocking wakes when a drain frees space, without a
// poll interval.
func TestReserveBlockingWokenByDrain(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var w want
		for i := range page / 16 {
			w.put(t, tg.p, 8, uint32(i))
		}
		if _, err := tg.p.ReserveTimeout(8, 100*time.Millisecond); !errors.Is(err, unix.ENOSPC) {
			t.Fatalf("reserve with timeout in a full ring: %v, want ENOSPC", err)
		}
		got := make(chan error, 1)
		go func() {
			s, err := tg.p.ReserveBlocking(context.Background(), 8)
			if err == nil {
				err = s.Discard()
			}
			got <- err
		}()
		select {
		case err := <-got:
			t.Fatalf("ReserveBlocking returned %v before any drain", err)
		case <-time.After(50 * time.Millisecond):
		}
		r := tg.drain(t)
		if r.Ret <= 0 {
			t.Fatalf("drain returned %d", r.Ret)
		}
		select {
		case err := <-got:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("ReserveBlocking not woken by the drain")
		}
		w.check(t, r)
	})
}

// A ring with a few free bytes, but not enough, reports EPOLLOUT; the
// waiter must still wait for a drain and then succeed.
func TestReserveBlockingNotEnoughRoom(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var w want
		for i := range page/16 - 1 {
			w.put(t, tg.p, 8, uint32(i))
		}
		got := make(chan error, 1)
		go func() {
			s, err := tg.p.ReserveBlocking(context.Background(), 64)
			if err == nil {
				w.fill(s.Bytes(), 999)
				err = s.Submit()
			}
			got <- err
		}()
		select {
		case err := <-got:
			t.Fatalf("ReserveBlocking(64) with 16 bytes free returned %v before any drain", err)
		case <-time.After(50 * time.Millisecond):
		}
		tg.drain(t) // frees the room ReserveBlocking waits for
		select {
		case err := <-got:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("ReserveBlocking not woken by the drain")
		}
		r := tg.drain(t)
		w.check(t, r)
	})
}

// ReserveBlocking returns ctx.Err() on cancel and on deadline, and an
// error wrapping os.ErrClosed when the Producer closes under it.
func TestReserveBlockingCancelAndClose(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		if err := tg.p.Write(make([]byte, page-8)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		if _, err := tg.p.ReserveBlocking(ctx, 8); err != context.Canceled {
			t.Fatalf("cancelled ReserveBlocking: %v, want context.Canceled", err)
		}
		ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		if _, err := tg.p.ReserveBlocking(ctx, 8); err != context.DeadlineExceeded {
			t.Fatalf("ReserveBlocking past its deadline: %v, want context.DeadlineExceeded", err)
		}
		if _, err := tg.p.ReserveTimeout(8, 0); !errors.Is(err, unix.ENOSPC) {
			t.Fatalf("timeout 0: %v, want ENOSPC", err)
		}
		got := make(chan error, 3)
		go func() { _, err := tg.p.ReserveBlocking(context.Background(), 8); got <- err }()
		go func() { _, err := tg.p.ReserveTimeout(8, Forever); got <- err }()
		go func() { _, err := tg.p.ReserveTimeout(8, -time.Millisecond); got <- err }() // libbpf's -1
		time.Sleep(20 * time.Millisecond)
		tg.p.Close()
		for range 3 {
			select {
			case err := <-got:
				if !errors.Is(err, os.ErrClosed) {
					t.Fatalf("blocked reserve after Close: %v, want os.ErrClosed", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Close did not wake a blocked ReserveBlocking")
			}
		}
	})
}

// Errors a caller relies on.
func TestErrors(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		for _, size := range []int{page - 7, page, MaxSampleSize + 1, 1 << 30} {
			if _, err := tg.p.Reserve(size); !errors.Is(err, unix.E2BIG) {
				t.Errorf("reserve %d bytes in a %d-byte ring: %v, want E2BIG", size, page, err)
			}
		}
		if _, err := tg.p.Reserve(-1); !errors.Is(err, unix.EINVAL) {
			t.Errorf("reserve -1 bytes: %v, want EINVAL", err)
		}
		s, err := tg.p.Reserve(8)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Submit(); err != nil {
			t.Fatal(err)
		}
		if err := s.Submit(); !errors.Is(err, ErrCommitted) {
			t.Errorf("second submit: %v, want ErrCommitted", err)
		}
		if err := s.Discard(); !errors.Is(err, ErrCommitted) {
			t.Errorf("discard after submit: %v, want ErrCommitted", err)
		}
		if err := (Sample{}).Submit(); err == nil {
			t.Error("submit of a zero Sample succeeded")
		}
		tg.drain(t)
		// The old sample's memory is reused by a new one of the same
		// size: the stale Sample must not commit it.
		for range page / 16 {
			s2, err := tg.p.Reserve(8)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Submit(); !errors.Is(err, ErrCommitted) {
				t.Fatalf("stale submit: %v, want ErrCommitted", err)
			}
			s2.Submit()
			tg.drain(t)
		}

		held, err := tg.p.Reserve(8)
		if err != nil {
			t.Fatal(err)
		}
		if err := tg.p.Close(); err != nil {
			t.Fatal(err)
		}
		if err := tg.p.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		held.Bytes()[0] = 1 // still writable, harmlessly
		if err := held.Submit(); !errors.Is(err, os.ErrClosed) {
			t.Errorf("submit after Close: %v, want os.ErrClosed", err)
		}
		if _, err := tg.p.Reserve(8); !errors.Is(err, os.ErrClosed) {
			t.Errorf("reserve after Close: %v, want os.ErrClosed", err)
		}
		if err := tg.p.Write([]byte("x")); !errors.Is(err, os.ErrClosed) {
			t.Errorf("write after Close: %v, want os.ErrClosed", err)
		}
		if _, err := tg.p.ReserveBlocking(context.Background(), 8); !errors.Is(err, os.ErrClosed) {
			t.Errorf("ReserveBlocking after Close: %v, want os.ErrClosed", err)
		}
	})
}

// Close discards samples still reserved, so a later producer on the same
// map finds a ring the kernel can drain.
func TestCloseDiscardsReserved(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, progs.HaveUserRingBufDrain)
	tg := kernelTarget(t, page)
	var w want
	w.put(t, tg.p, 16, 1)
	if _, err := tg.p.Reserve(16); err != nil { // never committed
		t.Fatal(err)
	}
	tg.p.Close()
	p2, err := NewProducer(asMap(t, tg.m))
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	w.put(t, p2, 16, 3)
	r := tg.drain(t)
	if r.Ret != 2 {
		t.Fatalf("drain after a producer closed with a reserved sample returned %d, want 2", r.Ret)
	}
	w.check(t, r)
}

func TestNewProducer(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveUserRingBuf)
	arr, err := sys.MapCreate(&sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer arr.Close()
	if _, err := NewProducer(asMap(t, arr)); !errors.Is(err, unix.EINVAL) {
		t.Errorf("producer on an array: %v, want EINVAL", err)
	}
	if _, err := NewProducer(nil); !errors.Is(err, os.ErrInvalid) {
		t.Errorf("producer on a nil map: %v, want os.ErrInvalid", err)
	}
	m := asMap(t, newUserRingBuf(t, 2*page))
	p, err := NewProducer(m)
	if err != nil {
		t.Fatal(err)
	}
	if p.Size() != 2*page {
		t.Errorf("Size() = %d, want %d", p.Size(), 2*page)
	}
	p.Close()
	// The caller still owns m.
	if _, err := m.Info(); err != nil {
		t.Errorf("map unusable after the producer closed: %v", err)
	}
	m.Close()
	if _, err := NewProducer(m); !errors.Is(err, os.ErrClosed) {
		t.Errorf("producer on a closed descriptor: %v, want os.ErrClosed", err)
	}
	if _, _, err := NewInMemory(1000); !errors.Is(err, unix.EINVAL) {
		t.Errorf("in-memory ring of 1000 bytes: %v, want EINVAL", err)
	}
}

// selftest mappings: the consumer page is read-only for user space; the
// producer page and the data are writable; nothing is executable.
func TestMappingPermissions(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveUserRingBuf)
	m := newUserRingBuf(t, page)
	raw, err := m.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	mmap := func(off int64, n int, prot int) (unsafe.Pointer, error) {
		return unix.MmapPtr(raw, off, nil, uintptr(n), prot, unix.MAP_SHARED)
	}
	if _, err := mmap(0, page, unix.PROT_READ|unix.PROT_WRITE); !errors.Is(err, unix.EPERM) {
		t.Errorf("writable consumer page: %v, want EPERM", err)
	}
	cons, err := mmap(0, page, unix.PROT_READ)
	if err != nil {
		t.Fatalf("read-only consumer page: %v", err)
	}
	defer unix.MunmapPtr(cons, page)
	consBytes := unsafe.Slice((*byte)(cons), page)
	if err := unix.Mprotect(consBytes, unix.PROT_READ|unix.PROT_WRITE); err == nil {
		t.Error("mprotect of the consumer page to writable succeeded")
	}
	if err := unix.Mprotect(consBytes, unix.PROT_READ|unix.PROT_EXEC); err == nil {
		t.Error("mprotect of the consumer page to executable succeeded")
	}
	for _, c := range []struct {
		name string
		off  int64
		n    int
		prot int
	}{
		{"producer page", page, page, unix.PROT_READ | unix.PROT_WRITE},
		{"data page", 2 * page, page, unix.PROT_WRITE},
		{"producer page and doubled data", page, 3 * page, unix.PROT_READ | unix.PROT_WRITE},
	} {
		p, err := mmap(c.off, c.n, c.prot)
		if err != nil {
			t.Errorf("writable %s: %v", c.name, err)
			continue
		}
		if err := unix.Mprotect(unsafe.Slice((*byte)(p), c.n), unix.PROT_READ|unix.PROT_EXEC); err == nil {
			t.Errorf("mprotect of the %s to executable succeeded", c.name)
		}
		unix.MunmapPtr(p, uintptr(c.n))
	}
	if _, err := mmap(page, 4*page, unix.PROT_READ); err == nil {
		t.Error("mapping past the end of the ring succeeded")
	}
}

// TestNewProducerOnOldKernel runs where the kernel has no user ring
// buffers (before 6.1, as in the kernel matrix's 5.10): the constructor
// must say so, in words and through errors.Is.
func TestNewProducerOnOldKernel(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	if sys.HaveUserRingBuf() == nil {
		testutil.Skip(t, testutil.Kernel, "this kernel has user ring buffers; the error is checked on kernels before 6.1")
	}
	arr, err := sys.MapCreate(&sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 8, MaxEntries: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer arr.Close()
	_, err = NewProducer(asMap(t, arr))
	if !errors.Is(err, sys.ErrNotSupported) || !strings.Contains(err.Error(), "need Linux 6.1 or later") {
		t.Errorf("NewProducer on a kernel without user ring buffers: %v", err)
	}
}
