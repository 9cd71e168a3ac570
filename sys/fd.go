package sys

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// closedBit marks an FD as closed in FD.state; the low bits count the calls
// that are using the descriptor right now.
const closedBit = 1 << 63

// FD owns one BPF object file descriptor (a map, a program or BTF).
//
// The descriptor is closed exactly once: by Close, or, if Close is called
// while other goroutines are in the middle of a system call on it, by the
// last of those calls when it returns. Operations on a closed FD fail with an
// error that wraps os.ErrClosed and never reach the kernel, so a descriptor
// number reused by another file is never touched by mistake. An FD that is
// garbage collected without Close is closed by a finalizer, as a leak
// backstop only.
type FD struct {
	raw    int
	state  atomic.Uint64 // closedBit | number of users
	rawOff atomic.Bool   // the raw descriptor has been closed
}

// NewFD takes ownership of raw, which must be an open descriptor. It is the
// way in for descriptors obtained outside this package.
func NewFD(raw int) (*FD, error) {
	if raw < 0 {
		return nil, fmt.Errorf("new fd: invalid descriptor %d", raw)
	}
	fd := &FD{raw: raw}
	runtime.SetFinalizer(fd, (*FD).Close)
	return fd, nil
}

// DupFD duplicates raw with close-on-exec and returns an FD that owns the
// copy; raw stays owned by the caller.
func DupFD(raw int) (*FD, error) {
	dup, err := unix.FcntlInt(uintptr(raw), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("dup fd %d: %w", raw, err)
	}
	return NewFD(dup)
}

// Acquire returns the raw descriptor and pins it open until the matching
// Release. It fails with os.ErrClosed after Close. Every use of the number
// (a system call, mmap, epoll_ctl) belongs between Acquire and Release.
func (fd *FD) Acquire() (int, error) {
	if fd == nil {
		return -1, os.ErrClosed
	}
	if fd.state.Add(1)&closedBit != 0 {
		fd.Release()
		return -1, os.ErrClosed
	}
	return fd.raw, nil
}

// Release ends a use begun by a successful Acquire. The last Release after
// Close closes the descriptor.
func (fd *FD) Release() {
	if fd.state.Add(^uint64(0)) == closedBit {
		fd.closeRaw()
	}
}

// Int returns the descriptor number, or -1 after Close. The number is only
// meaningful while the FD stays open; prefer Acquire around any use.
func (fd *FD) Int() int {
	if fd == nil || fd.state.Load()&closedBit != 0 {
		return -1
	}
	return fd.raw
}

// Close closes the descriptor. It is idempotent: only the first call has an
// effect, later calls return nil.
func (fd *FD) Close() error {
	if fd == nil {
		return nil
	}
	for {
		s := fd.state.Load()
		if s&closedBit != 0 {
			return nil
		}
		if fd.state.CompareAndSwap(s, s|closedBit) {
			runtime.SetFinalizer(fd, nil)
			if s == 0 {
				return fd.closeRaw()
			}
			return nil // the last user closes it
		}
	}
}

// Dup returns a new FD that refers to the same object.
func (fd *FD) Dup() (*FD, error) {
	raw, err := fd.Acquire()
	if err != nil {
		return nil, fmt.Errorf("dup fd: %w", err)
	}
	defer fd.Release()
	return DupFD(raw)
}

// String describes the FD for logs and errors.
func (fd *FD) String() string {
	if n := fd.Int(); n >= 0 {
		return fmt.Sprintf("fd %d", n)
	}
	return "closed fd"
}

func (fd *FD) closeRaw() error {
	if !fd.rawOff.CompareAndSwap(false, true) {
		return nil
	}
	if err := unix.Close(fd.raw); err != nil {
		return fmt.Errorf("close fd %d: %w", fd.raw, err)
	}
	return nil
}
