package ringbuf

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"unsafe"
)

// FuzzConsume runs the consumer over arbitrary ring memory and positions:
// it must never panic, never hand out bytes outside the data area, never
// move the consumer position backwards or past the producer position, and
// report bad memory as ErrCorrupt.
func FuzzConsume(f *testing.F) {
	hdr := func(n uint32, flags uint32) []byte { return binary.NativeEndian.AppendUint32(nil, n|flags) }
	f.Add([]byte{}, uint64(0), uint64(0), uint8(0))
	f.Add(append(append(hdr(5, 0), 0, 0, 0, 0), "hello..."...), uint64(0), uint64(16), uint8(0))
	f.Add(hdr(100, 0), uint64(0), uint64(16), uint8(0))                // runs past the producer
	f.Add(hdr(0, busyBit), uint64(0), uint64(8), uint8(1))             // busy
	f.Add(hdr(8, discardBit), uint64(0), uint64(16), uint8(2))         // discarded
	f.Add(hdr(8, 0), uint64(4), uint64(20), uint8(0))                  // misaligned consumer
	f.Add(hdr(8, 0), uint64(0), uint64(1<<40), uint8(0))               // producer far ahead
	f.Add(hdr(8, 0), uint64(1<<63), uint64(1<<63+16), uint8(3))        // huge positions
	f.Add(hdr(lenMask, 0), uint64(0), uint64(4096), uint8(8))          // longest length word
	f.Add(make([]byte, 64), uint64(4096-8), uint64(4096+64), uint8(8)) // wrap at the end
	f.Fuzz(func(t *testing.T, data []byte, cons, prod uint64, sizeLog uint8) {
		size := 16 << (sizeLog % 9) // 16 bytes to 4 KiB
		p, r, err := newMemoryRing(size)
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
		_, err = r.Consume(check)
		checkErr(err)
		if got := *p.r.cons; got-cons > prod-cons {
			t.Fatalf("consumer position moved from %#x to %#x, producer at %#x", cons, got, prod)
		}
		// ReadInto from the same start: it has its own per-record path.
		*p.r.cons = cons
		r.cur = p.r.load()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		var rec Record
		for i := 0; i < 4; i++ {
			err := r.ReadInto(ctx, &rec)
			checkErr(err)
			if err != nil {
				break
			}
		}
	})
}
