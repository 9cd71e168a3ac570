package userringbuf

import (
	"encoding/binary"
	"errors"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// A target is a ring under test: a Producer and a consumer that accounts
// samples the way the kernel drain program of internal/progs does. Every
// scenario runs against the kernel (a map drained by a BPF program through
// PROG_TEST_RUN) and against the in-memory Consumer, with the same
// expectations.
type target struct {
	p     *Producer
	m     *sys.FD // the map, nil in memory
	drain func(t testing.TB) progs.DrainResult
	// setStopAt makes the consumer stop (callback returns 1) once it has
	// seen n samples in total.
	setStopAt func(t testing.TB, n uint64)
}

// forEachTarget runs fn as a "kernel" and a "memory" subtest on rings of
// size bytes.
func forEachTarget(t *testing.T, size int, fn func(t *testing.T, tg *target)) {
	t.Run("kernel", func(t *testing.T) {
		testutil.CheckLeaks(t)
		testutil.RequireFeature(t, progs.HaveUserRingBufDrain)
		fn(t, kernelTarget(t, size))
	})
	t.Run("memory", func(t *testing.T) {
		fn(t, memoryTarget(t, size))
	})
}

func newUserRingBuf(t testing.TB, size int) *sys.FD {
	t.Helper()
	m, err := sys.MapCreate(&sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_USER_RINGBUF, MaxEntries: uint32(size)})
	if err != nil {
		t.Fatalf("create user ringbuf of %d bytes: %v", size, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func kernelTarget(t testing.TB, size int) *target {
	t.Helper()
	m := newUserRingBuf(t, size)
	p, err := NewProducer(asMap(t, m))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	d, err := progs.NewUserRingBufDrain(m, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return &target{
		p: p, m: m,
		drain: func(t testing.TB) progs.DrainResult {
			t.Helper()
			r, err := d.Run()
			if err != nil {
				t.Fatal(err)
			}
			return r
		},
		setStopAt: func(t testing.TB, n uint64) {
			if err := d.SetStopAt(n); err != nil {
				t.Fatal(err)
			}
		},
	}
}

func memoryTarget(t testing.TB, size int) *target {
	p, c, err := NewInMemory(size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	var total progs.DrainResult
	return &target{
		p: p,
		drain: func(t testing.TB) progs.DrainResult {
			n, err := c.Drain(func(s []byte) bool { return account(&total, s) }, 0)
			total.Runs++
			total.Ret = int64(n)
			var errno unix.Errno
			if errors.As(err, &errno) {
				total.Ret = -int64(errno)
			} else if err != nil {
				t.Fatal(err)
			}
			return total
		},
		setStopAt: func(t testing.TB, n uint64) { total.StopAt = n },
	}
}

// account does what the drain program's callback does, in Go; it returns
// false (the callback's 1) once StopAt is reached. Like the program it
// reads the sample in host byte order: the declared length is the u32 at
// offset 0 (not the low half of the first u64, which is the u32 at offset
// 4 on a big-endian machine).
func account(r *progs.DrainResult, s []byte) bool {
	var head, n, tail uint64
	bad := uint64(0)
	if len(s) < 8 {
		bad = 1
	} else {
		head = binary.NativeEndian.Uint64(s)
		n = uint64(binary.NativeEndian.Uint32(s))
		if n >= 8 && n <= uint64(len(s)) {
			tail = binary.NativeEndian.Uint64(s[n-8:])
		} else {
			bad = 1
		}
	}
	r.Samples++
	r.Bytes += n
	r.TailSum += tail
	r.First = head
	r.Bad += bad
	return r.StopAt == 0 || r.Samples < r.StopAt
}

// want accumulates what a consumer should have seen.
type want struct{ samples, bytes, tailSum, first uint64 }

// fill writes the test format into a sample: its length in the first 4
// bytes, seq in the next 4 (host byte order, as a C producer writes them),
// a pattern after, and records the expectation.
func (w *want) fill(b []byte, seq uint32) {
	for i := range b {
		b[i] = byte(int(seq)*7 + i)
	}
	if len(b) >= 8 {
		binary.NativeEndian.PutUint32(b, uint32(len(b)))
		binary.NativeEndian.PutUint32(b[4:], seq)
		w.first = binary.NativeEndian.Uint64(b)
		w.tailSum += binary.NativeEndian.Uint64(b[len(b)-8:])
	}
	w.samples++
	w.bytes += uint64(len(b))
}

// put reserves, fills and submits one sample.
func (w *want) put(t testing.TB, p *Producer, size int, seq uint32) {
	t.Helper()
	s, err := p.Reserve(size)
	if err != nil {
		t.Fatalf("reserve %d bytes (sample %d): %v", size, seq, err)
	}
	w.fill(s.Bytes(), seq)
	if err := s.Submit(); err != nil {
		t.Fatalf("submit sample %d: %v", seq, err)
	}
}

// check compares a drain result with the expectation.
func (w *want) check(t testing.TB, r progs.DrainResult) {
	t.Helper()
	if r.Samples != w.samples || r.Bytes != w.bytes || r.TailSum != w.tailSum || r.Bad != 0 {
		t.Fatalf("consumer saw %d samples, %d bytes, tail sum %#x, %d bad; want %d samples, %d bytes, tail sum %#x, 0 bad",
			r.Samples, r.Bytes, r.TailSum, r.Bad, w.samples, w.bytes, w.tailSum)
	}
	if w.samples > 0 && r.First != w.first {
		t.Fatalf("last sample starts %#x, want %#x", r.First, w.first)
	}
}

// positions reads the ring's consumer and producer positions.
func positions(p *Producer) (cons, prod uint64) {
	return atomic.LoadUint64(p.r.cons), atomic.LoadUint64(p.r.prod)
}

// asMap returns the Map handle of the map descriptor fd, as a user holds
// it, over a duplicate of fd that the test closes at its end.
func asMap(t testing.TB, fd *sys.FD) *mapops.Map {
	t.Helper()
	raw, err := fd.Acquire()
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Release()
	m, err := mapops.FromFD(raw)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
