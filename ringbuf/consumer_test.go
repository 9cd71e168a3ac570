package ringbuf

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// TestSecondReaderRefused: a second live Reader of the same map in this
// process, through the same or another descriptor (or a Poller), is
// refused with EBUSY; before, both were accepted and every record was
// delivered twice (2000 reads of 1000 records). Once the first is closed,
// a new one is accepted. A Reader of another map is not affected.
func TestSecondReaderRefused(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveRingBuf)
	m := newRingBufMap(t, 1<<16)
	first, err := NewReader(asMap(t, m))
	if err != nil {
		t.Fatal(err)
	}
	other, err := m.Dup()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for name, fd := range map[string]*sys.FD{"same descriptor": m, "duplicate descriptor": other} {
		if r, err := NewReader(asMap(t, fd)); !errors.Is(err, unix.EBUSY) {
			if r != nil {
				r.Close()
			}
			t.Errorf("second reader through the %s: %v, want EBUSY", name, err)
		}
	}
	p, err := NewPoller()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Add(asMap(t, m), func([]byte) error { return nil }); !errors.Is(err, unix.EBUSY) {
		t.Errorf("Poller.Add of a ring with a Reader: %v, want EBUSY", err)
	}
	p.Close()
	elsewhere, err := NewReader(asMap(t, newRingBufMap(t, 1<<16)))
	if err != nil {
		t.Fatalf("reader of another map: %v", err)
	}
	elsewhere.Close()

	// The first Reader alone gets each record once.
	w, err := progs.NewRingBufWriter(m)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if ret, err := w.Output([]byte{1}, 8, 0, 1000); err != nil || ret != 0 {
		t.Fatalf("write 1000 records: %d, %v", ret, err)
	}
	n, err := first.Consume(func([]byte) error { return nil })
	if n != 1000 || err != nil {
		t.Fatalf("Consume: %d, %v; want 1000 records", n, err)
	}
	first.Close()
	again, err := NewReader(asMap(t, other))
	if err != nil {
		t.Fatalf("reader after the first was closed: %v", err)
	}
	defer again.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if rec, err := again.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("the next Reader read %v, %v: a record delivered twice", rec, err)
	}
}

// fillNumbered has the kernel write records from..from+n-1, each its
// number as a native-endian uint64.
func fillNumbered(t *testing.T, w *progs.RingBufWriter, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if ret, err := w.Output(binary.NativeEndian.AppendUint64(nil, uint64(i)), 8, 0, 1); err != nil || ret != 0 {
			t.Fatalf("write record %d: %d, %v", i, ret, err)
		}
	}
}

func recordNumber(t *testing.T, b []byte) int {
	t.Helper()
	if len(b) != 8 {
		t.Fatalf("record of %d bytes, want 8", len(b))
	}
	return int(binary.NativeEndian.Uint64(b))
}

// TestClosedReaderDoesNotReplay: a Reader that returned k of the n records
// a program wrote and was closed leaves the ring at record k: the next
// Reader gets record k first, whichever form read the first k. Before,
// the consumer position was published lazily and never on Close: after
// three ReadInto calls ConsumerPosition had not moved, and every new
// Reader got the same first records again.
func TestClosedReaderDoesNotReplay(t *testing.T) {
	const n, k = 10, 3
	forms := map[string]func(t *testing.T, r *Reader) []int{
		"ReadInto": func(t *testing.T, r *Reader) []int {
			var got []int
			var rec Record
			for range k {
				if err := r.ReadInto(context.Background(), &rec); err != nil {
					t.Fatal(err)
				}
				got = append(got, recordNumber(t, rec.Sample))
			}
			return got
		},
		"ReadBatch": func(t *testing.T, r *Reader) []int {
			recs := make([]Record, k)
			m, err := r.ReadBatch(context.Background(), recs)
			if err != nil || m != k {
				t.Fatalf("ReadBatch: %d, %v", m, err)
			}
			var got []int
			for _, rec := range recs {
				got = append(got, recordNumber(t, rec.Sample))
			}
			return got
		},
		"ConsumeN": func(t *testing.T, r *Reader) []int {
			var got []int
			if m, err := r.ConsumeN(k, func(b []byte) error { got = append(got, recordNumber(t, b)); return nil }); err != nil || m != k {
				t.Fatalf("ConsumeN: %d, %v", m, err)
			}
			return got
		},
		"Consume stopped by its handler": func(t *testing.T, r *Reader) []int {
			var got []int
			stop := errors.New("enough")
			m, err := r.Consume(func(b []byte) error {
				got = append(got, recordNumber(t, b))
				if len(got) == k {
					return stop
				}
				return nil
			})
			if !errors.Is(err, stop) || m != k {
				t.Fatalf("Consume: %d, %v", m, err)
			}
			return got
		},
	}
	for name, read := range forms {
		t.Run(name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			testutil.RequireFeature(t, sys.HaveRingBuf)
			m := newRingBufMap(t, 1<<16)
			w, err := progs.NewRingBufWriter(m)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			fillNumbered(t, w, 0, n)
			for round := range n / k {
				r, err := NewReader(asMap(t, m))
				if err != nil {
					t.Fatal(err)
				}
				got := read(t, r)
				r.Close()
				for i, v := range got {
					if want := round*k + i; v != want {
						t.Fatalf("Reader %d: records %v, want %d to %d", round, got, round*k, round*k+k-1)
					}
				}
				if pos := r.ConsumerPosition(); pos != 0 {
					t.Fatalf("ConsumerPosition of a closed Reader = %d, want 0", pos)
				}
			}
		})
	}
}

// TestReturnedRecordsArePublished: when a read returns, the records it
// returned are consumed in the ring itself (the consumer position a
// producer, bpf_ringbuf_query or a process that opens the ring next sees),
// not only in the Reader: a process that dies without Close does not hand
// them out twice.
func TestReturnedRecordsArePublished(t *testing.T) {
	forEachSource(t, 1<<16, func(t *testing.T, s *source) {
		for i := range 10 {
			s.output(t, []byte{byte(i)}, 8, 0)
		}
		var rec Record
		recs := make([]Record, 2)
		for i, read := range []func() error{
			func() error { return s.r.ReadInto(context.Background(), &rec) },
			func() error { _, err := s.r.ReadBatch(context.Background(), recs); return err },
			func() error { _, err := s.r.ConsumeN(1, func([]byte) error { return nil }); return err },
		} {
			before := s.r.ConsumerPosition()
			if err := read(); err != nil {
				t.Fatal(err)
			}
			if q := s.query(t); q[2] == before || q[2] != s.r.ConsumerPosition() {
				t.Fatalf("read %d: the producer sees consumer position %d, %d before the read", i, q[2], before)
			}
		}
	})
}

// TestSkipBacklog: SkipBacklog drops the records already in the ring and
// publishes the consumer position at the producer position, so this
// Reader and the next one read only records written after it. It stops
// at a record still reserved.
func TestSkipBacklog(t *testing.T) {
	forEachSource(t, 1<<16, func(t *testing.T, s *source) {
		for i := range 5 {
			s.output(t, []byte{byte(i)}, 8, 0)
		}
		s.reserve(t, []byte{9}, 8, true, 0) // a discarded one: not counted
		if n, err := s.r.SkipBacklog(); n != 5 || err != nil {
			t.Fatalf("SkipBacklog = %d, %v; want 5", n, err)
		}
		if q := s.query(t); q[2] != q[3] || q[0] != 0 {
			t.Fatalf("after SkipBacklog the producer sees avail %d, consumer %d, producer %d", q[0], q[2], q[3])
		}
		s.output(t, []byte{42}, 8, 0)
		rec, err := s.r.Read(context.Background())
		if err != nil || rec.Sample[0] != 42 {
			t.Fatalf("read after SkipBacklog: %v, %v; want the new record 42", rec.Sample, err)
		}
		if n, err := s.r.SkipBacklog(); n != 0 || err != nil {
			t.Fatalf("SkipBacklog of an empty ring = %d, %v", n, err)
		}
	})
}

// TestSkipBacklogStopsAtBusy: a record a producer has reserved but not
// committed stops SkipBacklog: the kernel may still write it, so the
// consumer must not move past it.
func TestSkipBacklogStopsAtBusy(t *testing.T) {
	p, r, err := NewInMemory(1 << 16)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p.Write([]byte{1})
	busy, err := p.Reserve(8)
	if err != nil {
		t.Fatal(err)
	}
	p.Write([]byte{3})
	if n, err := r.SkipBacklog(); n != 1 || err != nil || r.ConsumerPosition() != 16 {
		t.Fatalf("SkipBacklog = %d, %v, consumer at %d; want 1 record, consumer at 16", n, err, r.ConsumerPosition())
	}
	busy.Bytes()[0] = 2
	busy.Submit()
	var got []byte
	r.Consume(func(b []byte) error { got = append(got, b[0]); return nil })
	if string(got) != "\x02\x03" {
		t.Fatalf("after the busy record was submitted, read %v, want [2 3]", got)
	}
	r.Close()
	if _, err := r.SkipBacklog(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("SkipBacklog after Close: %v", err)
	}
}
