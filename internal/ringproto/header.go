package ringproto

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// Word is the first 32-bit word of a record header, in host byte order:
// the payload length in the low 30 bits, the discard bit and the busy bit.
// It is the only place the library decodes or encodes those bits; every
// function here inlines.
type Word uint32

// The bits of a length word besides the length, for MakeWord.
const (
	Busy    Word = BusyBit    // reserved, not yet committed: a consumer stops here
	Discard Word = DiscardBit // committed as discarded: a consumer steps over it
)

// MakeWord encodes the length word of a record of n payload bytes
// (n <= LenMask) with bits, 0 or Busy and Discard or'ed together.
func MakeWord(n uint32, bits Word) Word { return Word(n&LenMask) | bits&(Busy|Discard) }

// Len is the payload length.
func (w Word) Len() uint32 { return uint32(w) & LenMask }

// Busy reports whether the record is reserved but not yet committed: a
// consumer stops at it.
func (w Word) Busy() bool { return w&BusyBit != 0 }

// Discarded reports whether the record was committed as discarded: a
// consumer steps over it without handing it on.
func (w Word) Discarded() bool { return w&DiscardBit != 0 }

// Bits is the word without the length: 0, or Busy and Discard or'ed.
func (w Word) Bits() Word { return w & (Busy | Discard) }

// Ready reports whether the record is committed and not discarded: one a
// consumer hands on.
func (w Word) Ready() bool { return w&(BusyBit|DiscardBit) == 0 }

// Total is the number of bytes the record occupies in the ring, header
// and padding included: Round8(Len + HdrSize).
func (w Word) Total() uint64 { return Round8(uint64(w.Len()) + HdrSize) }

// LoadWord loads the length word of the header at p with acquire
// semantics, as a consumer must before it reads the payload.
func LoadWord(p unsafe.Pointer) Word { return Word(atomic.LoadUint32((*uint32)(p))) }

// StoreWord stores the length word of the header at p with release
// semantics, as a commit must after the payload is written.
func StoreWord(p unsafe.Pointer, w Word) { atomic.StoreUint32((*uint32)(p), uint32(w)) }

// Header is the whole 8-byte header as one 64-bit value in host byte
// order, as a 64-bit load or compare-and-swap of the header's memory sees
// it: the length word w first in memory, then off, the second word (the
// kernel's page offset in a BPF ring buffer; ignored by the kernel in a
// user ring buffer).
func Header(w Word, off uint32) uint64 {
	if bigEndian {
		return uint64(w)<<32 | uint64(off)
	}
	return uint64(w) | uint64(off)<<32
}

// WordOf is the length word of a Header value.
func WordOf(h uint64) Word {
	if bigEndian {
		return Word(h >> 32)
	}
	return Word(h)
}

// bigEndian is the host's byte order, a constant so that the compiler
// keeps one branch of Header and WordOf.
const bigEndian = cpu.IsBigEndian
