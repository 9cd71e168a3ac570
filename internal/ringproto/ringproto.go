// Package ringproto holds what the two BPF ring buffers share: the record
// header (its constants, and Word, its one decoder and encoder), the
// 8-byte rounding of records and the rule for ring sizes. ringbuf (kernel to user) and userringbuf (user to kernel) each
// keep their direction's protocol in one file and may not import each
// other; this package is the one place both take these from.
package ringproto

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

// ErrNoSpace is the one "no room in the ring now" of both rings: the
// error of a reservation or write that would overrun the other end. It
// matches sys.ErrFull and unix.ENOSPC with errors.Is; each ring wraps it
// with its operation. A record that can never fit is another error,
// wrapping unix.E2BIG.
var ErrNoSpace = fmt.Errorf("no room in the ring now: %w (%w)", sys.ErrFull, unix.ENOSPC)

// ErrCommitted is the one "sample already submitted or discarded" of both
// rings' Samples; each ring exports it as its own ErrCommitted.
var ErrCommitted = errors.New("sample was already submitted or discarded")

// The record header, from the UAPI: 8 bytes before every record, whose
// first 32-bit word holds the length with the busy and discard bits.
const (
	HdrSize    = unix.BPF_RINGBUF_HDR_SZ
	BusyBit    = unix.BPF_RINGBUF_BUSY_BIT
	DiscardBit = unix.BPF_RINGBUF_DISCARD_BIT
	LenMask    = DiscardBit - 1
)

// Round8 rounds n up to a multiple of 8: a record of n payload bytes takes
// Round8(n + HdrSize) bytes of the ring.
func Round8(n uint64) uint64 { return (n + 7) &^ 7 }

// MaxSize is the largest ring size the kernel accepts, 2 GiB: a ring's
// size is the map's max_entries, a 32-bit count, and the largest power
// of two that fits in it is 1<<31. (The kernel's own 64 GiB bound on the
// data area, from the 32-bit page offset in a record header, is never the
// one that applies.)
const MaxSize = 1 << 31

// CheckSize checks a ring size as the kernel does for both map types: a
// power of two, a multiple of the page size and at most MaxSize. Callers
// with a signed size convert it with uint64(n): a negative n is reported as
// such. Its error wraps unix.EINVAL.
func CheckSize(size uint64) error {
	page := uint64(os.Getpagesize())
	switch {
	case int64(size) < 0:
		return fmt.Errorf("ring size %d is negative: %w", int64(size), unix.EINVAL)
	case size > MaxSize:
		return fmt.Errorf("ring size %d is larger than the kernel's limit for a ring of %d bytes (2 GiB, the largest power of two a map's 32-bit max_entries holds): %w",
			size, uint64(MaxSize), unix.EINVAL)
	case size == 0 || size&(size-1) != 0 || size%page != 0:
		return fmt.Errorf("ring size %d is not a power of two multiple of the page size %d: %w", size, page, unix.EINVAL)
	}
	return nil
}

// claimed holds the ids of the maps that have a live consumer (ringbuf) or
// producer (userringbuf) in this process: a ring has one of each.
var claimed struct {
	sync.Mutex
	ids map[uint32]bool
}

// Claim records that this process has a live end of the map id, what
// (say "Reader"), whose second copy would break the ring for the reason
// why. It fails, wrapping unix.EBUSY, while the map has one already.
func Claim(id uint32, what, why string) error {
	claimed.Lock()
	defer claimed.Unlock()
	if claimed.ids[id] {
		return fmt.Errorf("map id %d already has a live %s in this process: %s (close the first one): %w", id, what, why, unix.EBUSY)
	}
	if claimed.ids == nil {
		claimed.ids = map[uint32]bool{}
	}
	claimed.ids[id] = true
	return nil
}

// Release undoes Claim.
func Release(id uint32) {
	claimed.Lock()
	delete(claimed.ids, id)
	claimed.Unlock()
}

// CheckReadWrite checks that the map descriptor fd was opened read-write,
// as both ends of a ring need (the consumer writes the consumer position,
// the producer the producer position and the samples), before a mapping
// fails with a bare EACCES or EINVAL. end names the end ("consumer") and
// why says what it writes. Its error wraps unix.EACCES.
func CheckReadWrite(fd int, end, why string) error {
	flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return fmt.Errorf("descriptor flags: %w", err)
	}
	if flags&unix.O_ACCMODE != unix.O_RDWR {
		mode := "read-only"
		if flags&unix.O_ACCMODE == unix.O_WRONLY {
			mode = "write-only"
		}
		return fmt.Errorf("a ring %s needs a read-write descriptor of the map, and this one was opened %s (%s): %w", end, mode, why, unix.EACCES)
	}
	return nil
}
