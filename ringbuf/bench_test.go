package ringbuf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/ringproto"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// BenchmarkDrain consumes kernel-produced records of 8, 64 and 1024 bytes.
// A program run with PROG_TEST_RUN fills the ring once, untimed; then the
// drain is timed over the same records again and again, the consumer
// position set back to their start before each pass (nothing produces
// meanwhile, so the records stay where they are). ns/op is per record:
//
//	Floor     a bare loop over the same mapping: load each length word,
//	          step over the record, store the consumer position once
//	CopyFloor the floor of a copying read: the bare loop, copying each
//	          record into a reused buffer
//	Consume   the zero-copy callback form (position published once per batch)
//	ReadInto  copying each record into a reused Record
//	ReadBatch copying records into a reused slice of 64 Records
//
// Each runs on a 256 KiB ring, which stays in this machine's L2 cache
// between passes, and on a 4 MiB ring, which does not: the floors show
// how much of a record's time is the memory, not the reader.
//
// Refilling the ring through the kernel costs far more per record than
// draining it, so it is done once per sub-benchmark, not per b.N: with
// default flags each of the 30 sub-benchmarks takes 1 to 3 s and the
// whole benchmark under two minutes on 2 cores (before, b.N grew until
// the untimed refills took minutes per sub-benchmark). For the README's
// table:
//
//	go test -run '^$' -bench Drain -benchmem -benchtime 2000000x -count 6 ./ringbuf/
func BenchmarkDrain(b *testing.B) {
	for _, size := range []int{8, 64, 1024} {
		for _, ring := range []int{256 << 10, 4 << 20} {
			b.Run(fmt.Sprintf("%dB/ring=%dKiB", size, ring>>10), func(b *testing.B) {
				benchDrainForms(b, size, ring)
			})
		}
	}
}

// benchDrainForms runs BenchmarkDrain's forms for one record and ring size.
func benchDrainForms(b *testing.B, size, ringSize int) {
	b.Run("Floor", func(b *testing.B) {
		benchDrain(b, size, ringSize, func(r *Reader, want int) int {
			rg := &r.ring
			pos := atomic.LoadUint64(rg.cons)
			end := atomic.LoadUint64(rg.prod)
			n := 0
			for ; n < want && pos < end; n++ {
				pos += rg.word(pos).Total()
			}
			atomic.StoreUint64(rg.cons, pos)
			r.cur = rg.load()
			return n
		})
	})
	b.Run("CopyFloor", func(b *testing.B) {
		var buf []byte
		benchDrain(b, size, ringSize, func(r *Reader, want int) int {
			rg := &r.ring
			pos := atomic.LoadUint64(rg.cons)
			end := atomic.LoadUint64(rg.prod)
			n := 0
			for ; n < want && pos < end; n++ {
				word := rg.word(pos)
				buf = append(buf[:0], rg.bytes(pos+hdrSize, uint64(word.Len()))...)
				pos += word.Total()
			}
			atomic.StoreUint64(rg.cons, pos)
			r.cur = rg.load()
			return n
		})
	})
	b.Run("Consume", func(b *testing.B) {
		var sum byte
		benchDrain(b, size, ringSize, func(r *Reader, want int) int {
			n, err := r.ConsumeN(want, func(s []byte) error { sum += s[0]; return nil })
			if err != nil {
				b.Fatal(err)
			}
			return n
		})
	})
	b.Run("ReadInto", func(b *testing.B) {
		var rec Record
		ctx := context.Background()
		benchDrain(b, size, ringSize, func(r *Reader, want int) int {
			for range want {
				if err := r.ReadInto(ctx, &rec); err != nil {
					b.Fatal(err)
				}
			}
			return want
		})
	})
	b.Run("ReadBatch", func(b *testing.B) {
		recs := make([]Record, 64)
		ctx := context.Background()
		benchDrain(b, size, ringSize, func(r *Reader, want int) int {
			for got := 0; got < want; {
				n, err := r.ReadBatch(ctx, recs[:min(len(recs), want-got)])
				if err != nil {
					b.Fatal(err)
				}
				got += n
			}
			return want
		})
	})
}

// benchDrain fills a ring with as many records of size bytes as it
// holds, once, and runs drain over them until b.N records were drained,
// setting the consumer position back to their start before each pass
// (one store per ring, timed with the drain). It checks that every pass
// consumed what it was asked to.
func benchDrain(b *testing.B, size, ringSize int, drain func(r *Reader, want int) int) {
	testutil.CheckLeaks(b)
	testutil.RequireFeature(b, sys.HaveRingBuf)
	m := newRingBufMap(b, ringSize)
	w, err := progs.NewRingBufWriter(m)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	r, err := NewReader(asMap(b, m))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	// The kernel drops a record that would make the ring completely full.
	perFill := ringSize/int(ringproto.Round8(uint64(size)+hdrSize)) - 1
	data := make([]byte, size)
	data[0] = 1
	fill(b, w, r, data, perFill)
	start := r.ConsumerPosition()
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	for done := 0; done < b.N; {
		want := min(perFill, b.N-done)
		atomic.StoreUint64(r.ring.cons, start)
		r.cur = r.ring.load()
		if got := drain(r, want); got != want {
			b.Fatalf("drained %d records, want %d", got, want)
		}
		done += want
	}
}

// fill writes want records of len(data) bytes with NO_WAKEUP. A long
// PROG_TEST_RUN can end early with EINTR (the Go runtime's preemption
// signal), having run some of its repeats: the producer position tells how
// many records are in the ring.
func fill(b *testing.B, w *progs.RingBufWriter, r *Reader, data []byte, want int) {
	rec := ringproto.Round8(uint64(len(data)) + hdrSize)
	for {
		have := int(r.ring.available() / rec)
		if have >= want {
			return
		}
		ret, err := w.Output(data, len(data), NoWakeup, min(want-have, 1<<14))
		if err != nil && !errors.Is(err, unix.EINTR) || ret != 0 {
			b.Fatalf("fill: %d, %v", ret, err)
		}
	}
}

// BenchmarkWake measures how long a Read blocked in epoll_wait on a kernel
// ring takes to return after Close or after its context is cancelled:
// wake-ns is the mean time from the Close or cancel to Read's return,
// max-ns the slowest. Each iteration also opens a Reader and lets the
// Read fall asleep (about 0.3 ms), and the timer runs through all of it,
// so that b.N follows the iteration's real cost: ns/op is that whole
// iteration, and with default flags the benchmark takes a few seconds
// (timing only the wake-up, b.N grew until the untimed set-up took
// minutes).
//
//	go test -run '^$' -bench Wake -benchtime 200x -count 6 ./ringbuf/
func BenchmarkWake(b *testing.B) {
	testutil.CheckLeaks(b)
	testutil.RequireFeature(b, sys.HaveRingBuf)
	m := asMap(b, newRingBufMap(b, os.Getpagesize()))
	for _, by := range []string{"Close", "Cancel"} {
		b.Run(by, func(b *testing.B) {
			var total, slowest time.Duration
			for range b.N {
				r, err := NewReader(m)
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { _, err := r.Read(ctx); done <- err }()
				for !r.poll.Sleeping() { // until the reader holds the epoll turn
					time.Sleep(50 * time.Microsecond)
				}
				time.Sleep(200 * time.Microsecond) // and is asleep in epoll_wait
				start := time.Now()
				if by == "Close" {
					r.Close()
				} else {
					cancel()
				}
				err = <-done
				took := time.Since(start)
				total += took
				slowest = max(slowest, took)
				if err == nil {
					b.Fatal("Read returned no error")
				}
				cancel()
				r.Close()
			}
			b.ReportMetric(float64(total.Nanoseconds())/float64(b.N), "wake-ns")
			b.ReportMetric(float64(slowest.Nanoseconds()), "max-ns")
		})
	}
}
