package structcodec

import (
	"bytes"
	"testing"
)

// TestHasNUL holds the word-at-a-time NUL search against bytes.IndexByte
// for every length up to past the switch to IndexByte, a NUL at every
// position or none, around bytes that trip naive word tricks (0x01, 0x80,
// 0xff).
func TestHasNUL(t *testing.T) {
	for _, fill := range []byte{0x01, 0x80, 0xff, 0x7f, 'a'} {
		for n := 0; n <= 72; n++ {
			b := bytes.Repeat([]byte{fill}, n)
			if hasNUL(b) {
				t.Fatalf("%d bytes of %#x: found a NUL", n, fill)
			}
			for i := range n {
				b[i] = 0
				if !hasNUL(b) {
					t.Fatalf("%d bytes of %#x, NUL at %d: not found", n, fill, i)
				}
				b[i] = fill
			}
		}
	}
}
