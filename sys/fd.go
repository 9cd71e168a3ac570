package sys

import (
	"fmt"
	"os"
	"runtime"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

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
	life   Lifetime    // the calls using raw, and whether Close has begun
	rawOff atomic.Bool // the raw descriptor has been closed
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
	if !fd.life.Acquire() {
		return -1, os.ErrClosed
	}
	return fd.raw, nil
}

// Release ends a use begun by a successful Acquire. The last Release after
// Close closes the descriptor.
func (fd *FD) Release() {
	if fd.life.Release() {
		fd.closeRaw()
	}
}

// Int returns the descriptor number, or -1 after Close. The number is only
// meaningful while the FD stays open; prefer Acquire around any use.
func (fd *FD) Int() int {
	if fd == nil || fd.life.Closed() {
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
	first, idle := fd.life.Close()
	if !first {
		return nil
	}
	runtime.SetFinalizer(fd, nil)
	if idle {
		return fd.closeRaw()
	}
	return nil // the last user closes it
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
