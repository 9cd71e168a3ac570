package ringbuf

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// source is a producer the scenarios run against: the kernel (programs run
// with PROG_TEST_RUN) or the in-memory Producer. Each write reports whether
// the record was dropped.
type source struct {
	r *Reader
	// output writes data (padded to size) with bpf_ringbuf_output.
	output func(t testing.TB, data []byte, size, flags int) (dropped bool)
	// reserve writes with reserve + submit, or + discard.
	reserve func(t testing.TB, data []byte, size int, discard bool, flags int) (dropped bool)
	// query returns avail, size, cons, prod as the producer sees them.
	query   func(t testing.TB) [4]uint64
	dropped func(t testing.TB) uint64
}

// forEachSource runs fn against a kernel ring and a memory ring of size.
func forEachSource(t *testing.T, size int, fn func(t *testing.T, s *source)) {
	t.Run("kernel", func(t *testing.T) {
		testutil.CheckLeaks(t)
		testutil.RequireFeature(t, sys.HaveRingBuf)
		fn(t, kernelSource(t, size))
	})
	t.Run("memory", func(t *testing.T) {
		testutil.CheckLeaks(t)
		fn(t, memorySource(t, size))
	})
}

func newRingBufMap(t testing.TB, size int) *sys.FD {
	t.Helper()
	attr := sys.MapCreateAttr{MapType: unix.BPF_MAP_TYPE_RINGBUF, MaxEntries: uint32(size)}
	sys.SetName(&attr.MapName, "rb_test")
	m, err := sys.MapCreate(&attr)
	if err != nil {
		t.Fatalf("create ringbuf: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func kernelSource(t testing.TB, size int) *source {
	m := newRingBufMap(t, size)
	w, err := progs.NewRingBufWriter(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	r, err := NewReader(asMap(t, m))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return &source{
		r: r,
		output: func(t testing.TB, data []byte, size, flags int) bool {
			t.Helper()
			ret, err := w.Output(data, size, uint32(flags), 1)
			if err != nil {
				t.Fatal(err)
			}
			return ret != 0
		},
		reserve: func(t testing.TB, data []byte, size int, discard bool, flags int) bool {
			t.Helper()
			ret, err := w.Reserve(data, size, discard, uint32(flags), 1)
			if err != nil {
				t.Fatal(err)
			}
			return ret != 0
		},
		query: func(t testing.TB) [4]uint64 {
			t.Helper()
			q, err := w.Query()
			if err != nil {
				t.Fatal(err)
			}
			return [4]uint64{q.Avail, q.Size, q.Cons, q.Prod}
		},
		dropped: func(t testing.TB) uint64 {
			t.Helper()
			n, err := w.Dropped()
			if err != nil {
				t.Fatal(err)
			}
			return n
		},
	}
}

func memorySource(t testing.TB, size int) *source {
	p, r, err := NewInMemory(size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	var drops uint64
	pad := func(data []byte, size int) []byte {
		b := make([]byte, size)
		copy(b, data)
		return b
	}
	check := func(t testing.TB, err error) bool {
		t.Helper()
		if errors.Is(err, sys.ErrFull) || errors.Is(err, unix.E2BIG) { // the kernel counts both as dropped
			drops++
			return true
		}
		if err != nil {
			t.Fatal(err)
		}
		return false
	}
	return &source{
		r: r,
		output: func(t testing.TB, data []byte, size, flags int) bool {
			return check(t, p.WriteFlags(pad(data, size), flags))
		},
		reserve: func(t testing.TB, data []byte, size int, discard bool, flags int) bool {
			s, err := p.Reserve(size)
			if check(t, err) {
				return true
			}
			copy(s.Bytes(), pad(data, size))
			if discard {
				err = s.DiscardFlags(flags)
			} else {
				err = s.SubmitFlags(flags)
			}
			return check(t, err)
		},
		query: func(testing.TB) [4]uint64 {
			return [4]uint64{uint64(p.AvailableBytes()), uint64(p.Size()), p.ConsumerPosition(), p.ProducerPosition()}
		},
		dropped: func(testing.TB) uint64 { return drops },
	}
}

// asMap returns the Map handle of the ringbuf descriptor fd, as a user
// holds it, over a duplicate of fd that the test closes at its end.
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
