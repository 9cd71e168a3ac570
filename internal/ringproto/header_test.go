package ringproto

import (
	"bytes"
	"encoding/binary"
	"testing"
	"unsafe"

	"golang.org/x/sys/cpu"
)

func TestWord(t *testing.T) {
	for _, c := range []struct {
		n               uint32
		busy, discarded bool
		word            uint32 // the bits as the kernel's UAPI defines them
		total           uint64
	}{
		{0, false, false, 0, 8},
		{1, false, false, 1, 16},
		{8, true, false, 8 | 1<<31, 16},
		{9, false, true, 9 | 1<<30, 24},
		{64, true, true, 64 | 1<<31 | 1<<30, 72},
		{LenMask, false, false, 1<<30 - 1, 1<<30 + 8},
		{LenMask, true, true, 0xffffffff, 1<<30 + 8},
		{1<<30 | 5, false, false, 5, 16}, // a length past the mask loses its high bits, never sets a flag
	} {
		var bits Word
		if c.busy {
			bits |= Busy
		}
		if c.discarded {
			bits |= Discard
		}
		w := MakeWord(c.n, bits|0x1234) // other bits of the argument never leak in
		if uint32(w) != c.word {
			t.Errorf("MakeWord(%#x, %#x) = %#x, want %#x", c.n, uint32(bits), uint32(w), c.word)
		}
		w = Word(c.word)
		if w.Len() != c.n&LenMask || w.Busy() != c.busy || w.Discarded() != c.discarded ||
			w.Ready() != (!c.busy && !c.discarded) || w.Total() != c.total ||
			w.Bits() != Word(c.word)&^LenMask {
			t.Errorf("Word(%#x): Len %#x Busy %v Discarded %v Ready %v Total %d, want %#x %v %v %v %d",
				c.word, w.Len(), w.Busy(), w.Discarded(), w.Ready(), w.Total(),
				c.n&LenMask, c.busy, c.discarded, !c.busy && !c.discarded, c.total)
		}
	}
}

// TestHeaderLayout checks the header's memory layout on both byte
// orders (this machine's runs here, the other one in the s390x VM): the
// length word first, then the second word, each in host byte order.
func TestHeaderLayout(t *testing.T) {
	for _, c := range []struct {
		w      Word
		off    uint32
		le, be [8]byte
	}{
		{0, 0, [8]byte{}, [8]byte{}},
		{MakeWord(64, Busy), 0x1000,
			[8]byte{0x40, 0, 0, 0x80, 0, 0x10, 0, 0}, [8]byte{0x80, 0, 0, 0x40, 0, 0, 0x10, 0}},
		{MakeWord(LenMask, Busy|Discard), 0xffffffff,
			[8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, [8]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		{MakeWord(0x010203, Discard), 0x05060708,
			[8]byte{0x03, 0x02, 0x01, 0x40, 0x08, 0x07, 0x06, 0x05}, [8]byte{0x40, 0x01, 0x02, 0x03, 0x05, 0x06, 0x07, 0x08}},
	} {
		want := c.le
		if cpu.IsBigEndian {
			want = c.be
		}
		var mem uint64
		b := (*[8]byte)(unsafe.Pointer(&mem))
		mem = Header(c.w, c.off)
		if *b != want {
			t.Errorf("Header(%#x, %#x) lies in memory as % x, want % x", uint32(c.w), c.off, *b, want)
		}
		*b = want
		if w := WordOf(mem); w != c.w {
			t.Errorf("WordOf(% x) = %#x, want %#x", want, uint32(w), uint32(c.w))
		}
		if w := LoadWord(unsafe.Pointer(b)); w != c.w {
			t.Errorf("LoadWord(% x) = %#x, want %#x", want, uint32(w), uint32(c.w))
		}
	}
}

// TestHeaderNative checks the exported forms against this machine's
// memory: a Header stored as a 64-bit word reads back, word by word, as
// the kernel lays a header out.
func TestHeaderNative(t *testing.T) {
	var mem [2]uint64
	w := MakeWord(100, Busy)
	mem[0] = Header(w, 0xabcd)
	b := unsafe.Slice((*byte)(unsafe.Pointer(&mem[0])), 8)
	if want := append(binary.NativeEndian.AppendUint32(nil, uint32(w)), binary.NativeEndian.AppendUint32(nil, 0xabcd)...); !bytes.Equal(b, want) {
		t.Fatalf("Header in memory: % x, want % x", b, want)
	}
	if got := LoadWord(unsafe.Pointer(&mem[0])); got != w {
		t.Errorf("LoadWord = %#x, want %#x", uint32(got), uint32(w))
	}
	if got := WordOf(mem[0]); got != w {
		t.Errorf("WordOf = %#x, want %#x", uint32(got), uint32(w))
	}
	StoreWord(unsafe.Pointer(&mem[0]), MakeWord(w.Len(), 0))
	if got := WordOf(mem[0]); got.Busy() || got.Len() != 100 {
		t.Errorf("after StoreWord of the committed word: %#x", uint32(got))
	}
	if got := binary.NativeEndian.Uint32(b[4:]); got != 0xabcd {
		t.Errorf("StoreWord changed the second word to %#x", got)
	}
}
