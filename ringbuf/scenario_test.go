package ringbuf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

func pattern(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + seed)
	}
	return b
}

// TestSizes writes records of every size from 1 to 4000 bytes with
// bpf_ringbuf_output, and a selection with reserve+submit and
// reserve+discard, and reads each back byte for byte.
func TestSizes(t *testing.T) {
	forEachSource(t, 16384, func(t *testing.T, s *source) {
		ctx := context.Background()
		var rec Record
		for size := 1; size <= 4000; size++ {
			want := pattern(size, size)
			if s.output(t, want, size, 0) {
				t.Fatalf("output of %d bytes dropped", size)
			}
			if err := s.r.ReadInto(ctx, &rec); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(rec.Sample, want) {
				t.Fatalf("record of %d bytes: got %x...", size, rec.Sample[:min(len(rec.Sample), 16)])
			}
		}
		for _, size := range []int{1, 7, 8, 9, 63, 64, 65, 1000, 4000} {
			want := pattern(size, 3)
			s.reserve(t, pattern(size, 99), size, true, 0) // skipped by the reader
			if s.reserve(t, want, size, false, 0) {
				t.Fatalf("reserve of %d bytes dropped", size)
			}
			var got [][]byte
			n, err := s.r.Consume(func(b []byte) error { got = append(got, bytes.Clone(b)); return nil })
			if err != nil || n != 1 || !bytes.Equal(got[0], want) {
				t.Fatalf("reserve+submit of %d bytes: Consume = %d, %v, %x", size, n, err, got)
			}
		}
		if s.r.AvailableBytes() != 0 {
			t.Fatalf("AvailableBytes = %d after draining", s.r.AvailableBytes())
		}
	})
}

// TestReadBatch reads a stream of records of mixed sizes, with discarded
// ones among them and wrapping round a one-page ring, in batches of 1, 3
// and 64: every committed record arrives once, in order and intact, with
// Remaining counting the bytes behind it, and the consumer position is
// published when a batch reaches the producer position.
func TestReadBatch(t *testing.T) {
	forEachSource(t, os.Getpagesize(), func(t *testing.T, s *source) {
		ctx := context.Background()
		if n, err := s.r.ReadBatch(ctx, nil); n != 0 || err != nil {
			t.Fatalf("ReadBatch(nil) = %d, %v", n, err)
		}
		recs := make([]Record, 64)
		seq := 0
		for round := 0; round < 40; round++ {
			var want [][]byte
			for k := 0; k < 7; k++ {
				size := 1 + (seq*37)%300
				if k%3 == 1 {
					s.reserve(t, pattern(size, 1), size, true, 0) // discarded
				}
				rec := pattern(size, seq)
				if s.output(t, rec, size, 0) {
					t.Fatalf("round %d: record %d dropped", round, k)
				}
				want = append(want, rec)
				seq++
			}
			batch := []int{1, 3, 64}[round%3]
			for len(want) > 0 {
				n, err := s.r.ReadBatch(ctx, recs[:batch])
				if err != nil || n == 0 || n > min(batch, len(want)) {
					t.Fatalf("round %d: ReadBatch of %d = %d, %v with %d records waiting", round, batch, n, err, len(want))
				}
				for i, rec := range recs[:n] {
					if !bytes.Equal(rec.Sample, want[i]) {
						t.Fatalf("round %d: record %d of the batch differs: %x", round, i, rec.Sample[:min(len(rec.Sample), 8)])
					}
				}
				want = want[n:]
				if rest := recs[n-1].Remaining; (rest == 0) != (len(want) == 0) {
					t.Fatalf("round %d: Remaining %d with %d records left", round, rest, len(want))
				}
			}
			if cons, prod := s.r.ConsumerPosition(), s.r.ProducerPosition(); cons != prod {
				t.Fatalf("round %d: consumer position %d not published up to producer position %d", round, cons, prod)
			}
		}
		if pos := s.r.ConsumerPosition(); pos < uint64(5*s.r.Size()) {
			t.Fatalf("consumer position %d: the ring did not wrap several times", pos)
		}
	})
}

// TestWrapAround writes records that straddle the end of a one-page data
// area, many times round, and checks each arrives contiguous and intact.
func TestWrapAround(t *testing.T) {
	forEachSource(t, os.Getpagesize(), func(t *testing.T, s *source) {
		seq := 0
		for round := 0; round < 60; round++ {
			for k := 0; k < 3; k++ {
				size := 100 + 37*k
				if s.output(t, pattern(size, seq+k), size, 0) {
					t.Fatalf("round %d: dropped", round)
				}
			}
			k := 0
			_, err := s.r.Consume(func(b []byte) error {
				if want := pattern(100+37*k, seq+k); !bytes.Equal(b, want) {
					return fmt.Errorf("record %d of round %d differs", k, round)
				}
				k++
				return nil
			})
			if err != nil || k != 3 {
				t.Fatalf("round %d: %d records, %v", round, k, err)
			}
			seq += 3
		}
		if pos := s.r.ConsumerPosition(); pos < uint64(5*s.r.Size()) {
			t.Fatalf("consumer position %d: the ring did not wrap several times", pos)
		}
	})
}

// TestFull fills a ring until writes fail: a ring of S bytes takes S-8
// bytes of records, later records are dropped and counted, and reading
// makes room again.
func TestFull(t *testing.T) {
	forEachSource(t, os.Getpagesize(), func(t *testing.T, s *source) {
		const size = 48 // 56 bytes with the header
		fit := (s.r.Size() - 8) / 56
		for i := 0; i < fit+10; i++ {
			dropped := s.output(t, pattern(size, i), size, 0)
			if dropped != (i >= fit) {
				t.Fatalf("write %d: dropped = %v, want %v (ring takes %d)", i, dropped, i >= fit, fit)
			}
		}
		if d := s.dropped(t); d != 10 {
			t.Fatalf("dropped %d, want 10", d)
		}
		n, err := s.r.Consume(func(b []byte) error { return nil })
		if n != fit || err != nil {
			t.Fatalf("Consume = %d, %v, want %d", n, err, fit)
		}
		if s.output(t, nil, size, 0) {
			t.Fatal("write after draining dropped")
		}
		// A record of S-16 bytes fits an empty ring, S-8 never does.
		s.r.Consume(func([]byte) error { return nil })
		if s.reserve(t, nil, s.r.Size()-8, false, 0) == false {
			t.Fatal("record of size-8 bytes accepted")
		}
		if s.output(t, nil, s.r.Size()-16, 0) {
			t.Fatal("record of size-16 bytes refused by an empty ring")
		}
	})
}

// TestNoWakeupReadAtOnce: records written with BPF_RB_NO_WAKEUP before the
// read are returned without waiting for a notification that never comes.
func TestNoWakeupReadAtOnce(t *testing.T) {
	forEachSource(t, os.Getpagesize(), func(t *testing.T, s *source) {
		for i := 0; i < 3; i++ {
			s.output(t, []byte{byte(i)}, 1, NoWakeup)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := 0; i < 3; i++ {
			rec, err := s.r.Read(ctx)
			if err != nil || rec.Sample[0] != byte(i) {
				t.Fatalf("Read %d = %v, %v", i, rec.Sample, err)
			}
		}
		s.output(t, []byte{9}, 1, NoWakeup)
		n, err := s.r.ConsumeWait(ctx, func([]byte) error { return nil })
		if n != 1 || err != nil {
			t.Fatalf("ConsumeWait = %d, %v", n, err)
		}
	})
}

// TestNotifications re-creates the selftest's wake-up steps: a consumer
// blocked in another goroutine is not woken by NO_WAKEUP records, nor by
// adaptive ones while it is behind, and is woken by FORCE_WAKEUP; an
// adaptive record at the consumer's position wakes it.
func TestNotifications(t *testing.T) {
	forEachSource(t, os.Getpagesize(), func(t *testing.T, s *source) {
		type result struct {
			n   int
			err error
		}
		block := func() chan result {
			ch := make(chan result, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				// Wait as ring_buffer__poll does, until a wake-up finds
				// records: epoll_wait may also end early (EINTR from the
				// runtime's preemption signal), which finds none.
				var n int
				var err error
				for n == 0 && err == nil {
					if _, err = s.r.poll.Wait(ctx, s.r.poll.Gen(), nil); err == nil {
						n, err = s.r.Consume(func([]byte) error { return nil })
					}
				}
				ch <- result{n, err}
			}()
			time.Sleep(50 * time.Millisecond)
			return ch
		}
		stillBlocked := func(ch chan result, what string) {
			t.Helper()
			time.Sleep(50 * time.Millisecond)
			select {
			case r := <-ch:
				t.Fatalf("%s woke the consumer: %+v", what, r)
			default:
			}
		}
		woken := func(ch chan result, what string) int {
			t.Helper()
			select {
			case r := <-ch:
				if r.err != nil {
					t.Fatalf("%s: %v", what, r.err)
				}
				return r.n
			case <-time.After(5 * time.Second):
				t.Fatalf("%s did not wake the consumer", what)
				return 0
			}
		}
		// Adaptive record at the consumer's position: wakes.
		ch := block()
		s.output(t, []byte{1}, 8, 0)
		if n := woken(ch, "adaptive record at the consumer position"); n != 1 {
			t.Fatalf("woken with %d records", n)
		}
		// NO_WAKEUP: no wake-up; adaptive while behind: none either.
		ch = block()
		s.output(t, []byte{2}, 8, NoWakeup)
		s.output(t, []byte{3}, 8, NoWakeup)
		stillBlocked(ch, "NO_WAKEUP records")
		s.output(t, []byte{4}, 8, 0)
		s.reserve(t, []byte{5}, 8, true, 0)
		stillBlocked(ch, "adaptive records while the consumer is behind")
		s.output(t, []byte{6}, 8, ForceWakeup)
		if n := woken(ch, "FORCE_WAKEUP"); n != 4 {
			t.Fatalf("woken with %d records, want 4", n)
		}
	})
}

// TestQueryAndHandlerError re-creates the selftest's first steps: one
// submitted record and a copied-then-discarded one per trigger; the query
// values agree on both sides; a handler error stops consumption, is
// returned and its record counts as consumed.
func TestQueryAndHandlerError(t *testing.T) {
	forEachSource(t, os.Getpagesize(), func(t *testing.T, s *source) {
		errDone := errors.New("done")
		trigger := func(value byte, seq int) {
			if seq%2 == 1 {
				s.output(t, []byte{value, byte(seq)}, 32, 0)
				s.reserve(t, []byte{value, byte(seq)}, 32, true, 0)
			} else {
				s.reserve(t, []byte{value, byte(seq)}, 32, false, 0)
			}
		}
		trigger(33, 0)
		trigger(77, 1)
		q := s.query(t)
		if want := [4]uint64{120, uint64(s.r.Size()), 0, 120}; q != want {
			t.Fatalf("producer query = %v, want %v", q, want)
		}
		if got := [4]uint64{uint64(s.r.AvailableBytes()), uint64(s.r.Size()), s.r.ConsumerPosition(), s.r.ProducerPosition()}; got != q {
			t.Fatalf("reader query = %v, producer's %v", got, q)
		}
		var seen [][]byte
		n, err := s.r.Consume(func(b []byte) error {
			seen = append(seen, bytes.Clone(b[:2]))
			if len(seen) == 2 {
				return errDone
			}
			return nil
		})
		if n != 2 || !errors.Is(err, errDone) || !bytes.Equal(seen[0], []byte{33, 0}) || !bytes.Equal(seen[1], []byte{77, 1}) {
			t.Fatalf("Consume = %d, %v, %v", n, err, seen)
		}
		if n, err := s.r.Consume(func([]byte) error { t.Error("record after the failed one"); return nil }); n != 0 || err != nil {
			t.Fatalf("second Consume = %d, %v", n, err)
		}
		trigger(1, 2)
		trigger(2, 3)
		if q := s.query(t); q[2] != 120 {
			t.Fatalf("producer sees consumer at %d, want 120", q[2])
		}
		if n, err := s.r.Consume(func([]byte) error { return nil }); n != 2 || err != nil {
			t.Fatalf("Consume = %d, %v", n, err)
		}
	})
}

// TestConsumeN re-creates ringbuf_n: 32 records, eight ConsumeN(4) calls
// of exactly 4; ConsumeN(0) consumes nothing.
func TestConsumeN(t *testing.T) {
	forEachSource(t, os.Getpagesize(), func(t *testing.T, s *source) {
		for i := 0; i < 32; i++ {
			s.reserve(t, []byte{42}, 32, false, 0)
		}
		if n, err := s.r.ConsumeN(0, func([]byte) error { return nil }); n != 0 || err != nil {
			t.Fatalf("ConsumeN(0) = %d, %v", n, err)
		}
		for i := 0; i < 8; i++ {
			n, err := s.r.ConsumeN(4, func(b []byte) error {
				if b[0] != 42 {
					return fmt.Errorf("value %d", b[0])
				}
				return nil
			})
			if n != 4 || err != nil {
				t.Fatalf("ConsumeN(4) #%d = %d, %v", i, n, err)
			}
		}
		if s.r.AvailableBytes() != 0 {
			t.Fatal("records left")
		}
	})
}

// TestCloseAndCancelWake: blocked reads return promptly on Close, context
// cancellation and deadline, with the documented errors.
func TestCloseAndCancelWake(t *testing.T) {
	forEachSource(t, os.Getpagesize(), func(t *testing.T, s *source) {
		goroutines := runtime.NumGoroutine()
		within := func(what string, ch chan error, want error) {
			t.Helper()
			select {
			case err := <-ch:
				if !errors.Is(err, want) {
					t.Fatalf("%s: %v, want %v", what, err, want)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: read still blocked", what)
			}
		}
		// Context cancel.
		ctx, cancel := context.WithCancel(context.Background())
		ch := make(chan error, 1)
		go func() { _, err := s.r.Read(ctx); ch <- err }()
		time.Sleep(20 * time.Millisecond)
		cancel()
		within("cancel", ch, context.Canceled)
		// Deadline, set while blocked.
		go func() { _, err := s.r.Read(context.Background()); ch <- err }()
		time.Sleep(20 * time.Millisecond)
		s.r.SetDeadline(time.Now().Add(10 * time.Millisecond))
		within("deadline", ch, os.ErrDeadlineExceeded)
		s.r.SetDeadline(time.Time{})
		// A record still arrives after all that.
		s.output(t, []byte{7}, 1, 0)
		if rec, err := s.r.Read(context.Background()); err != nil || rec.Sample[0] != 7 {
			t.Fatalf("Read = %v, %v", rec, err)
		}
		// Close wakes several blocked readers at once.
		const readers = 4
		all := make(chan error, readers)
		for i := 0; i < readers; i++ {
			go func() { _, err := s.r.Read(context.Background()); all <- err }()
		}
		go func() { _, err := s.r.ConsumeWait(context.Background(), func([]byte) error { return nil }); all <- err }()
		go func() { _, err := s.r.ReadBatch(context.Background(), make([]Record, 4)); all <- err }()
		time.Sleep(50 * time.Millisecond)
		s.r.Close()
		for i := 0; i < readers+2; i++ {
			within("close", all, os.ErrClosed)
		}
		if _, err := s.r.Consume(func([]byte) error { return nil }); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Consume after Close: %v", err)
		}
		if _, err := s.r.ReadBatch(context.Background(), make([]Record, 4)); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("ReadBatch after Close: %v", err)
		}
		// Every goroutine this test started has returned; the Reader left
		// none of its own behind.
		for start := time.Now(); runtime.NumGoroutine() > goroutines; {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("%d goroutines, %d before the test", runtime.NumGoroutine(), goroutines)
			}
			time.Sleep(time.Millisecond)
		}
	})
}

// TestBusyHeadBlocks: a record reserved but not committed hides the
// records after it until it is committed (in-memory producer; the kernel
// verifier makes a program commit before it ends).
func TestBusyHeadBlocks(t *testing.T) {
	p, r, err := NewInMemory(os.Getpagesize())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	first, _ := p.Reserve(8)
	if err := p.Write([]byte("later")); err != nil {
		t.Fatal(err)
	}
	if n, _ := r.Consume(func([]byte) error { return nil }); n != 0 {
		t.Fatalf("consumed %d records past a busy one", n)
	}
	// A reservation that would overlap the busy record fails even when a
	// bogus consumer position says there is room (the kernel's pending_pos
	// rule, selftest ringbuf_write).
	*p.r.cons = 32
	if _, err := p.Reserve(p.Size() - 40); !errors.Is(err, sys.ErrFull) || !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("Reserve over a busy record: %v", err)
	}
	*p.r.cons = 0
	copy(first.Bytes(), "first...")
	if err := first.Submit(); err != nil {
		t.Fatal(err)
	}
	if err := first.Submit(); !errors.Is(err, ErrCommitted) {
		t.Fatalf("second Submit of the same sample: %v, want ErrCommitted", err)
	}
	var got []string
	r.Consume(func(b []byte) error { got = append(got, string(b)); return nil })
	if len(got) != 2 || got[0] != "first..." || got[1] != "later" {
		t.Fatalf("got %q", got)
	}
	if err := p.WriteFlags(nil, 4); err == nil {
		t.Fatal("WriteFlags with unknown flags succeeded")
	}
}

// TestTrailingDiscardPublished: a record followed by a discarded one, read
// with Read, ReadInto or a one-record ReadBatch, leaves the consumer
// position past the discarded record, so that the producer gets the whole
// ring back: on a one-page ring, after a 100-byte record and an 8-byte
// discarded one, a reservation of size-32 bytes (4064 on a 4 KiB ring)
// must succeed. Before the fix the position stayed at 0 and the kernel
// refused it.
func TestTrailingDiscardPublished(t *testing.T) {
	reads := map[string]func(r *Reader) ([]byte, error){
		"Read": func(r *Reader) ([]byte, error) {
			rec, err := r.Read(context.Background())
			return rec.Sample, err
		},
		"ReadInto": func(r *Reader) ([]byte, error) {
			var rec Record
			err := r.ReadInto(context.Background(), &rec)
			return rec.Sample, err
		},
		"ReadBatch1": func(r *Reader) ([]byte, error) {
			recs := make([]Record, 1)
			n, err := r.ReadBatch(context.Background(), recs)
			if n != 1 {
				return nil, fmt.Errorf("ReadBatch returned %d records, %v", n, err)
			}
			return recs[0].Sample, err
		},
		"ConsumeN1": func(r *Reader) ([]byte, error) {
			var got []byte
			n, err := r.ConsumeN(1, func(b []byte) error { got = bytes.Clone(b); return nil })
			if n != 1 {
				return nil, fmt.Errorf("ConsumeN returned %d records, %v", n, err)
			}
			return got, err
		},
	}
	for name, read := range reads {
		t.Run(name, func(t *testing.T) {
			forEachSource(t, os.Getpagesize(), func(t *testing.T, s *source) {
				want := pattern(100, 1)
				if s.output(t, want, 100, 0) {
					t.Fatal("100-byte record dropped")
				}
				if s.reserve(t, nil, 8, true, 0) {
					t.Fatal("8-byte reservation dropped")
				}
				got, err := read(s.r)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("read = %x, %v", got, err)
				}
				if cons, prod := s.r.ConsumerPosition(), s.r.ProducerPosition(); cons != 128 || prod != 128 {
					t.Fatalf("consumer position %d, producer position %d after the read; want 128 and 128", cons, prod)
				}
				big := s.r.Size() - 32
				if s.reserve(t, nil, big, false, 0) {
					t.Fatalf("reservation of %d bytes refused: the discarded record was not stepped over", big)
				}
			})
		})
	}
}
