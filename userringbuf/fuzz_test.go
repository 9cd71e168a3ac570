package userringbuf

import (
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/bpfmaps/bpfmaps/internal/ringproto"
)

// FuzzConsumer drains rings of arbitrary bytes and positions. Whatever the
// memory holds, Drain must not panic or read outside the ring, must only
// move the consumer position forward within what the producer published,
// and must hand out samples that fit the ring.
func FuzzConsumer(f *testing.F) {
	// Seeds: the memory of real rings written by a Producer.
	for _, sizes := range [][]int{{8}, {1, 33, 100}, {0, 150, 48}, {120}} {
		p, _ := newInMemory(256)
		for i, n := range sizes {
			s, err := p.Reserve(n)
			if err != nil {
				f.Fatal(err)
			}
			if i%3 == 1 {
				s.Discard()
			} else if i%3 == 0 {
				s.Submit()
			}
		}
		cons, prod := positions(p)
		f.Add(append([]byte(nil), unsafe.Slice((*byte)(p.r.data), 256)...), cons, prod, uint8(5))
	}
	f.Add([]byte{39, 0, 0, 0}, uint64(0), uint64(47), uint8(3))
	f.Add([]byte{0, 16, 0, 0}, uint64(0), uint64(4104), uint8(9))
	f.Add([]byte{8, 0, 0, 0x40}, uint64(8), uint64(1<<62), uint8(1))

	f.Fuzz(func(t *testing.T, mem []byte, cons, prod uint64, sizeLog uint8) {
		size := 16 << (sizeLog % 9) // 16 B to 4 KiB
		p, c := newInMemory(size)
		area := unsafe.Slice((*byte)(p.r.data), 2*size)
		copy(area[:size], mem)
		copy(area[size:], area[:size]) // the second view, as the kernel maps it
		*p.r.cons, *p.r.prod = cons, prod

		calls := 0
		for round := range 3 {
			before := atomic.LoadUint64(p.r.cons)
			stopped := false
			n, err := c.Drain(func(s []byte) bool {
				calls++
				if len(s) > size-hdrSize {
					t.Fatalf("sample of %d bytes from a ring of %d", len(s), size)
				}
				if len(s) > 0 {
					_ = s[0] + s[len(s)-1]
				}
				stopped = calls%5 == 0
				return !stopped
			}, 0)
			after := atomic.LoadUint64(p.r.cons)
			if n < 0 || n > DrainLimit {
				t.Fatalf("drain %d returned %d", round, n)
			}
			if after < before || (after != before && after > prod) {
				t.Fatalf("drain %d moved the consumer position from %d to %d (producer %d)", round, before, after, prod)
			}
			// A drain without error stops early only at a busy sample,
			// when the callback asks, or at the limit.
			if err == nil && !stopped && after < prod && (after-before)/8 < DrainLimit {
				if w := ringproto.WordOf(*p.r.header(after)); !w.Busy() || w.Discarded() {
					t.Fatalf("drain %d stopped at %d (producer %d) before a sample that is not busy: %#x", round, after, prod, w)
				}
			}
		}
	})
}
