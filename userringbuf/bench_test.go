package userringbuf

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/ringproto"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

const benchRing = 16 << 20

var payload64 [64]byte

// drainAll empties a kernel ring with the drain program.
func drainAll(b *testing.B, d *progs.UserRingBufDrain, p *Producer) {
	for {
		cons, prod := positions(p)
		if cons == prod {
			return
		}
		if r, err := d.Run(); err != nil || r.Ret < 0 {
			b.Fatalf("drain: %v %+v", err, r)
		}
	}
}

func benchKernel(b *testing.B) (*Producer, *progs.UserRingBufDrain) {
	testutil.RequireFeature(b, progs.HaveUserRingBufDrain)
	m := newUserRingBuf(b, benchRing)
	p, err := NewProducer(asMap(b, m))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	d, err := progs.NewUserRingBufDrain(m, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	return p, d
}

// rewind empties a kernel ring that nothing drains by moving the
// producer position, and the Producer's reservation position, back to the
// consumer position: the samples stay in memory, unseen. A benchmark
// reuses its warm ring this way instead of having the kernel drain it,
// which costs about 300 ns a sample (BenchmarkKernelDrainPerSample), ten
// times what producing one does: untimed, that drain made b.N grow until
// a default run took minutes.
func rewind(p *Producer) {
	cons := atomic.LoadUint64(p.r.cons)
	p.r.next.Store(cons)
	atomic.StoreUint64(p.r.prod, cons)
}

// Reserve + fill + Submit of 64-byte samples into a 16 MiB map, rewound
// (see rewind) with the timer stopped whenever it fills up, and into an
// in-memory ring that its Consumer drains, untimed. With default flags
// it takes about 5 s.
func BenchmarkReserveSubmit64(b *testing.B) {
	b.Run("kernel", func(b *testing.B) {
		p, _ := benchKernel(b)
		reserveSubmit64(b, p, func() { rewind(p) })
	})
	b.Run("memory", func(b *testing.B) {
		p, c := newInMemory(benchRing)
		reserveSubmit64(b, p, func() {
			for n, _ := c.Drain(func([]byte) bool { return true }, 0); n > 0; n, _ = c.Drain(func([]byte) bool { return true }, 0) {
			}
		})
	})
}

// reserveSubmit64 times b.N Reserve + fill + Submit of 64 bytes into p,
// calling drain with the timer stopped whenever the ring is full.
func reserveSubmit64(b *testing.B, p *Producer, drain func()) {
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s, err := p.Reserve(64)
		if err == errNoSpace {
			b.StopTimer()
			drain()
			b.StartTimer()
			s, err = p.Reserve(64)
		}
		if err != nil {
			b.Fatal(err)
		}
		copy(s.Bytes(), payload64[:])
		if err := s.Submit(); err != nil {
			b.Fatal(err)
		}
	}
}

// The floor: the same stores into the same mapped ring with no
// synchronisation at all (header, payload, producer position, header
// again), and libbpf's protocol (plain stores, a release store of the
// position that is a plain store on amd64, and one atomic exchange to
// submit), which is not safe for concurrent producers. The ring is
// rewound (see rewind) when full, untimed; with default flags the
// benchmark takes about 4 s.
func BenchmarkFloor64(b *testing.B) {
	for _, mode := range []string{"plain", "libbpf-like"} {
		b.Run(mode, func(b *testing.B) {
			p, _ := benchKernel(b)
			r := &p.r
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				prod := *r.prod
				if prod-atomic.LoadUint64(r.cons) > r.size-72 {
					b.StopTimer()
					p.r.next.Store(prod)
					rewind(p)
					b.StartTimer()
					prod = *r.prod
				}
				h := (*uint32)(unsafe.Pointer(r.header(prod)))
				*h = uint32(ringproto.MakeWord(64, ringproto.Busy))
				copy(r.payload(prod, 64), payload64[:])
				*r.prod = prod + 72
				if mode == "plain" {
					*h = 64
				} else {
					atomic.SwapUint32(h, 64)
				}
			}
			b.StopTimer()
			p.r.next.Store(*r.prod)
		})
	}
}

// BenchmarkPaired64 puts the Producer next to the libbpf-like floor in
// one run: rounds of 4096 Reserve + 64-byte fill + Submit by a Producer
// alternate with rounds of the libbpf-like loop of BenchmarkFloor64, each
// on a 16 MiB kernel ring of its own that the kernel drains between
// rounds, untimed. On a noisy machine single timings swing by a quarter;
// the ratio moves much less. It reports ns per sample of both and their
// ratio; ns/op means nothing here. Each round's kernel drain is untimed,
// but a round of either side costs about what the drain of its samples
// does: with default flags it takes about 3 s.
//
//	go test -run '^$' -bench Paired64 -benchtime 2000000x -count 6 ./userringbuf/
func BenchmarkPaired64(b *testing.B) {
	const round = 4096
	floor, floorDrain := benchKernel(b)
	prod, prodDrain := benchKernel(b)
	// Rounds never find a ring full: it is drained before, untimed.
	makeRoom := func(p *Producer, d *progs.UserRingBufDrain) {
		if cons, prod := positions(p); prod-cons > benchRing-round*72 {
			drainAll(b, d, p)
		}
	}
	produce := func(p *Producer, n int) {
		for range n {
			s, err := p.Reserve(64)
			if err != nil {
				b.Fatal(err)
			}
			copy(s.Bytes(), payload64[:])
			if err := s.Submit(); err != nil {
				b.Fatal(err)
			}
		}
	}
	// libbpf's protocol written out over the floor Producer's ring; its
	// reservation position follows, so that makeRoom and drainAll work.
	r := &floor.r
	produceFloor := func(n int) {
		for range n {
			writeLikeLibbpf(r)
		}
		floor.r.next.Store(*r.prod)
	}
	var took [2]time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(round, b.N-done)
		makeRoom(floor, floorDrain)
		makeRoom(prod, prodDrain)
		start := time.Now()
		produceFloor(n)
		t1 := time.Now()
		produce(prod, n)
		t2 := time.Now()
		took[0] += t1.Sub(start)
		took[1] += t2.Sub(t1)
		done += n
	}
	b.StopTimer()
	reportPaired(b, took[:], "producer")
}

// reportPaired reports the ns per sample of the floor (took[0]) and of
// each form after it, and each form's ratio to the floor.
func reportPaired(b *testing.B, took []time.Duration, forms ...string) {
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) }
	b.ReportMetric(per(took[0]), "floor-ns/sample")
	for i, form := range forms {
		b.ReportMetric(per(took[i+1]), form+"-ns/sample")
		b.ReportMetric(per(took[i+1])/per(took[0]), form+"/floor")
	}
}

// Many goroutines producing into one ring: the cost of serialising
// reservations. The in-memory ring is "drained" by moving its consumer
// position to the producer position when it fills (O(1)), so the figure
// is the producer side alone; the kernel ring is drained by whichever
// goroutine finds it full, and the figure includes that drain. Nothing is
// untimed: with default flags it takes about 5 s.
func BenchmarkReserveSubmit64Parallel(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		p, _ := newInMemory(benchRing)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s, err := p.Reserve(64)
				for err == errNoSpace {
					atomic.StoreUint64(p.r.cons, atomic.LoadUint64(p.r.prod))
					s, err = p.Reserve(64)
				}
				if err != nil {
					b.Error(err)
					return
				}
				copy(s.Bytes(), payload64[:])
				s.Submit()
			}
		})
	})
	b.Run("kernel", func(b *testing.B) {
		p, d := benchKernel(b)
		var mu sync.Mutex
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s, err := p.Reserve(64)
				for err == errNoSpace {
					mu.Lock()
					_, err = d.Run()
					mu.Unlock()
					if err == nil {
						s, err = p.Reserve(64)
					}
				}
				if err != nil {
					b.Error(err)
					return
				}
				copy(s.Bytes(), payload64[:])
				s.Submit()
			}
		})
	})
}

// What one kernel drain costs per sample (the BPF callback included), to
// put the parallel kernel figure in proportion. One op is a drain of a
// full 16 MiB ring, refilled untimed at a tenth of the cost: with default
// flags it takes about 2 s.
func BenchmarkKernelDrainPerSample(b *testing.B) {
	p, d := benchKernel(b)
	b.ReportAllocs()
	for range b.N {
		b.StopTimer()
		var err error
		for err == nil {
			err = p.Write(payload64[:])
		}
		if !errors.Is(err, unix.ENOSPC) {
			b.Fatal(err)
		}
		b.StartTimer()
		drainAll(b, d, p)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(benchRing/72), "ns/sample")
}

// ReserveBlocking when there is room costs what Reserve costs. The
// in-memory ring is drained untimed, for less than producing costs: with
// default flags it takes about 3 s.
func BenchmarkReserveBlocking64(b *testing.B) {
	p, c := newInMemory(benchRing)
	ctx := context.Background()
	b.ReportAllocs()
	for range b.N {
		s, err := p.ReserveBlocking(ctx, 64)
		if err == nil && len(s.Bytes()) == 64 {
			s.Submit()
		}
		if _, prod := positions(p); prod+72 > benchRing+atomic.LoadUint64(p.r.cons) {
			b.StopTimer()
			for n, _ := c.Drain(func([]byte) bool { return true }, 0); n > 0; n, _ = c.Drain(func([]byte) bool { return true }, 0) {
			}
			b.StartTimer()
		}
	}
}

// BenchmarkOverhead64 takes the producer's cost apart over a 64 KiB
// in-memory ring that stays in cache, so that instructions, not memory,
// decide: the libbpf-like floor (one atomic exchange per sample); the same
// stores made through two functions that Go does not inline, as Reserve
// and Submit are not; the floor with a Producer's three atomic
// read-modify-writes instead of one; the Producer itself; and WriteBatch
// of 16 samples, per sample. Nothing is untimed but moving the consumer
// position: with default flags it takes about 11 s (five forms).
//
//	go test -run '^$' -bench Overhead64 -benchtime 20000000x -count 6 ./userringbuf/
func BenchmarkOverhead64(b *testing.B) {
	batch := make([][]byte, 16)
	for i := range batch {
		batch[i] = payload64[:]
	}
	for _, form := range []string{"floor", "calls", "atomics", "producer", "writebatch16"} {
		b.Run(form, func(b *testing.B) {
			p, _ := newInMemory(64 << 10)
			r := &p.r
			b.ReportAllocs()
			for i := range b.N {
				prod := *r.prod
				if prod-atomic.LoadUint64(r.cons) > r.size-16*72 {
					atomic.StoreUint64(r.cons, prod) // drained, in O(1)
				}
				switch form {
				case "writebatch16": // one batch of 16 per 16 ops: ns/op is per sample
					if i%16 == 0 {
						if n, err := p.WriteBatch(batch); n != 16 || err != nil {
							b.Fatal(n, err)
						}
					}
				case "floor":
					writeLikeLibbpf(r)
				case "calls":
					s, _ := floorReserve(r)
					copy(unsafe.Slice(s.data, 64), payload64[:])
					floorSubmit(s)
				case "atomics":
					r.next.CompareAndSwap(prod, prod+72)
					h := (*uint32)(unsafe.Pointer(r.header(prod)))
					*h = uint32(ringproto.MakeWord(64, ringproto.Busy))
					atomic.StoreUint64(r.prod, prod+72)
					copy(r.payload(prod, 64), payload64[:])
					atomic.CompareAndSwapUint32(h, uint32(ringproto.MakeWord(64, ringproto.Busy)), 64)
				case "producer":
					r.next.Store(prod) // the O(1) drain moved only the consumer
					s, err := p.Reserve(64)
					if err != nil {
						b.Fatal(err)
					}
					copy(s.Bytes(), payload64[:])
					s.Submit()
				}
			}
		})
	}
}

// floorSample is the floor's Sample, of the same size.
type floorSample struct {
	header *uint32
	data   *byte
	pos    uint64
	size   int
}

//go:noinline
func floorReserve(r *ring) (floorSample, error) {
	prod := *r.prod
	h := (*uint32)(unsafe.Pointer(r.header(prod)))
	*h = uint32(ringproto.MakeWord(64, ringproto.Busy))
	*r.prod = prod + 72
	return floorSample{header: h, data: r.payloadPtr(prod), pos: prod, size: 64}, nil
}

//go:noinline
func floorSubmit(s floorSample) error {
	atomic.SwapUint32(s.header, 64)
	return nil
}

// writeLikeLibbpf writes a 64-byte sample at the producer position the way
// libbpf's user_ring_buffer does: plain stores, the position's release
// store (a plain store on amd64), one atomic exchange to commit. It is not
// safe for concurrent producers and checks nothing: the floor.
func writeLikeLibbpf(r *ring) {
	prod := *r.prod
	h := (*uint32)(unsafe.Pointer(r.header(prod)))
	*h = uint32(ringproto.MakeWord(64, ringproto.Busy))
	copy(r.payload(prod, 64), payload64[:])
	*r.prod = prod + 72
	atomic.SwapUint32(h, 64)
}

// BenchmarkPairedBatch64 puts the batch forms next to the libbpf-like
// loop of BenchmarkPaired64, in alternating rounds of 4096 64-byte samples
// on 16 MiB kernel rings that the kernel drains between rounds, untimed:
// WriteBatch and ReserveBatch (fill in place, Submit each) of batch
// samples at a time. It reports ns per sample and the ratio of each form
// to the loop; ns/op means nothing here. As in BenchmarkPaired64 the
// untimed drains cost about what the rounds do: with default flags it
// takes about 7 s (two batch sizes).
//
//	go test -run '^$' -bench PairedBatch64 -benchmem -benchtime 2000000x -count 6 ./userringbuf/
func BenchmarkPairedBatch64(b *testing.B) {
	for _, batch := range []int{16, 64} {
		b.Run("batch="+strconv.Itoa(batch), func(b *testing.B) { pairedBatch64(b, batch) })
	}
}

func pairedBatch64(b *testing.B, batch int) {
	const round = 4096
	floor, floorDrain := benchKernel(b)
	wb, wbDrain := benchKernel(b)
	rb, rbDrain := benchKernel(b)
	makeRoom := func(p *Producer, d *progs.UserRingBufDrain) {
		if cons, prod := positions(p); prod-cons > benchRing-round*72 {
			drainAll(b, d, p)
		}
	}
	samples := make([][]byte, batch)
	sizes := make([]int, batch)
	for i := range samples {
		samples[i] = payload64[:]
		sizes[i] = 64
	}
	dst := make([]Sample, batch)
	r := &floor.r
	var took [3]time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(round, b.N-done)
		n -= n % batch
		if n == 0 {
			n = batch
		}
		makeRoom(floor, floorDrain)
		makeRoom(wb, wbDrain)
		makeRoom(rb, rbDrain)
		t0 := time.Now()
		for range n {
			writeLikeLibbpf(r)
		}
		t1 := time.Now()
		for i := 0; i < n; i += batch {
			if k, err := wb.WriteBatch(samples); k != batch || err != nil {
				b.Fatal(k, err)
			}
		}
		t2 := time.Now()
		for i := 0; i < n; i += batch {
			if k, err := rb.ReserveBatch(sizes, dst); k != batch || err != nil {
				b.Fatal(k, err)
			}
			for _, s := range dst {
				copy(s.Bytes(), payload64[:])
				s.Submit()
			}
		}
		t3 := time.Now()
		floor.r.next.Store(*r.prod)
		took[0] += t1.Sub(t0)
		took[1] += t2.Sub(t1)
		took[2] += t3.Sub(t2)
		done += n
	}
	b.StopTimer()
	reportPaired(b, took[:], "writebatch", "reservebatch")
}
