package ringbuf

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"testing"
	"unsafe"

	"github.com/bpfmaps/bpfmaps/internal/ringproto"
)

// FuzzConsume runs the consumer over arbitrary ring memory and positions:
// it must never panic, never hand out bytes outside the data area, never
// move the consumer position backwards or past the producer position, and
// report bad memory as ErrCorrupt.
func FuzzConsume(f *testing.F) {
	hdr := func(n uint32, bits ringproto.Word) []byte {
		return binary.NativeEndian.AppendUint32(nil, uint32(ringproto.MakeWord(n, bits)))
	}
	f.Add([]byte{}, uint64(0), uint64(0), uint8(0))
	f.Add(append(append(hdr(5, 0), 0, 0, 0, 0), "hello..."...), uint64(0), uint64(16), uint8(0))
	f.Add(hdr(100, 0), uint64(0), uint64(16), uint8(0))                 // runs past the producer
	f.Add(hdr(0, ringproto.Busy), uint64(0), uint64(8), uint8(1))       // busy
	f.Add(hdr(8, ringproto.Discard), uint64(0), uint64(16), uint8(2))   // discarded
	f.Add(hdr(8, 0), uint64(4), uint64(20), uint8(0))                   // misaligned consumer
	f.Add(hdr(8, 0), uint64(0), uint64(1<<40), uint8(0))                // producer far ahead
	f.Add(hdr(8, 0), uint64(1<<63), uint64(1<<63+16), uint8(3))         // huge positions
	f.Add(hdr(ringproto.LenMask, 0), uint64(0), uint64(4096), uint8(8)) // longest length word
	f.Add(make([]byte, 64), uint64(4096-8), uint64(4096+64), uint8(8))  // wrap at the end
	f.Fuzz(func(t *testing.T, data []byte, cons, prod uint64, sizeLog uint8) {
		size := 16 << (sizeLog % 9) // 16 bytes to 4 KiB
		p, r, err := newInMemory(size)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		area := unsafe.Slice((*byte)(p.r.data), 2*size)
		copy(area[cons&uint64(size-1):], data)
		copy(area, data[min(len(data), size-int(cons&uint64(size-1))):])
		*p.r.cons, *p.r.prod = cons, prod
		r.cur = p.r.load()
		lo, hi := uintptr(p.r.data), uintptr(p.r.data)+uintptr(2*size)
		check := func(b []byte) error {
			if len(b) > 0 {
				start := uintptr(unsafe.Pointer(&b[0]))
				if start < lo || start+uintptr(len(b)) > hi {
					t.Fatalf("record of %d bytes at %#x outside the data area [%#x, %#x)", len(b), start, lo, hi)
				}
			}
			return nil
		}
		checkErr := func(err error) {
			if err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, context.Canceled) {
				t.Fatalf("error not wrapping ErrCorrupt: %v", err)
			}
		}
		var consumed [][]byte
		_, errConsume := r.Consume(func(b []byte) error {
			consumed = append(consumed, bytes.Clone(b))
			return check(b)
		})
		checkErr(errConsume)
		if got := *p.r.cons; got-cons > prod-cons {
			t.Fatalf("consumer position moved from %#x to %#x, producer at %#x", cons, got, prod)
		}
		// The copying reads, from the same start, must return the same
		// records and stop at the same corruption.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, batch := range []int{1, 3} {
			*p.r.cons = cons
			r.cur = p.r.load()
			recs := make([]Record, batch)
			var read [][]byte
			var err error
			for len(read) <= len(consumed) {
				n := 0
				if batch == 1 {
					if err = r.ReadInto(ctx, &recs[0]); err == nil {
						n = 1
					}
				} else {
					n, err = r.ReadBatch(ctx, recs)
				}
				for _, rec := range recs[:n] {
					read = append(read, bytes.Clone(rec.Sample))
				}
				if err != nil {
					break
				}
			}
			checkErr(err)
			if !slices.EqualFunc(read, consumed, bytes.Equal) {
				t.Fatalf("batches of %d read %d records, Consume %d, or their bytes differ", batch, len(read), len(consumed))
			}
			if (errConsume != nil) != errors.Is(err, ErrCorrupt) {
				t.Fatalf("batches of %d ended with %v, Consume with %v", batch, err, errConsume)
			}
		}
	})
}
