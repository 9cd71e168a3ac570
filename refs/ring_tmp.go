package refs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

// recordSource hands out one ring record at a time, to one reader at a
// time.
type recordSource interface {
	// next waits for the next record and returns its bytes in place in the
	// ring, valid until commit, which the caller must call after a nil
	// error. Records already in the ring come first, even if ctx has ended.
	next(ctx context.Context) ([]byte, error)
	commit()
	close() error
}

// sysRing is a minimal consumer of a kernel ringbuf: the consumer page
// mapped read-write, producer page and data (mapped twice over by the
// kernel) read-only, an epoll set with the ring and an eventfd that Close
// and context cancellation signal.
type sysRing struct {
	mu     sync.RWMutex // readers hold it shared; close takes it exclusively to unmap
	closed atomic.Bool
	fd     *sys.FD
	epfd   int
	wake   int // eventfd
	cons   []byte
	data   []byte // producer page + 2*size
	size   uint64
	page   int
	events [2]unix.EpollEvent
	after  uint64 // consumer position once the record next returned is committed
}

func openRing(m *sys.FD) (recordSource, error) {
	info, err := sys.MapGetInfo(m)
	if err != nil {
		return nil, err
	}
	fd, err := m.Dup()
	if err != nil {
		return nil, err
	}
	r := &sysRing{fd: fd, epfd: -1, wake: -1, size: uint64(info.MaxEntries), page: os.Getpagesize()}
	if err := r.setup(); err != nil {
		r.release()
		return nil, err
	}
	return r, nil
}

func (r *sysRing) setup() (err error) {
	raw := r.fd.Int()
	if r.cons, err = unix.Mmap(raw, 0, r.page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
		return fmt.Errorf("mmap consumer page: %w", err)
	}
	if r.data, err = unix.Mmap(raw, int64(r.page), r.page+2*int(r.size), unix.PROT_READ, unix.MAP_SHARED); err != nil {
		return fmt.Errorf("mmap ring data: %w", err)
	}
	if r.epfd, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("epoll create: %w", err)
	}
	if r.wake, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	for _, fd := range []int{raw, r.wake} {
		ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
		if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			return fmt.Errorf("epoll ctl: %w", err)
		}
	}
	return nil
}

func (r *sysRing) release() {
	if r.cons != nil {
		unix.Munmap(r.cons)
	}
	if r.data != nil {
		unix.Munmap(r.data)
	}
	if r.epfd >= 0 {
		unix.Close(r.epfd)
	}
	if r.wake >= 0 {
		unix.Close(r.wake)
	}
	r.fd.Close()
}

func (r *sysRing) signal() {
	one := uint64(1)
	unix.Write(r.wake, (*[8]byte)(unsafe.Pointer(&one))[:])
}

var errCorrupt = errors.New("ring buffer corrupt")

func (r *sysRing) next(ctx context.Context) ([]byte, error) {
	r.mu.RLock()
	b, err := r.find(ctx)
	if err != nil {
		r.mu.RUnlock()
	}
	return b, err // the read lock is held until commit
}

func (r *sysRing) commit() {
	(*atomic.Uint64)(unsafe.Pointer(&r.cons[0])).Store(r.after)
	r.mu.RUnlock()
}

func (r *sysRing) find(ctx context.Context) ([]byte, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	consPos := (*atomic.Uint64)(unsafe.Pointer(&r.cons[0]))
	prodPos := (*atomic.Uint64)(unsafe.Pointer(&r.data[0]))
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, r.signal)
		defer stop()
	}
	for {
		cons := consPos.Load()
		for prod := prodPos.Load(); cons < prod; {
			off := r.page + int(cons&(r.size-1))
			hdr := (*atomic.Uint32)(unsafe.Pointer(&r.data[off])).Load()
			if hdr&unix.BPF_RINGBUF_BUSY_BIT != 0 {
				break
			}
			n := uint64(hdr &^ (unix.BPF_RINGBUF_BUSY_BIT | unix.BPF_RINGBUF_DISCARD_BIT))
			total := (n + unix.BPF_RINGBUF_HDR_SZ + 7) &^ 7
			if cons+total > prod || n > r.size {
				return nil, fmt.Errorf("%w: record of %d bytes at position %d past producer %d", errCorrupt, n, cons, prod)
			}
			if hdr&unix.BPF_RINGBUF_DISCARD_BIT == 0 {
				r.after = cons + total
				return r.data[off+unix.BPF_RINGBUF_HDR_SZ : off+unix.BPF_RINGBUF_HDR_SZ+int(n)], nil
			}
			cons += total
			consPos.Store(cons)
		}
		if r.closed.Load() {
			return nil, ErrClosed
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		_, err := unix.EpollWait(r.epfd, r.events[:], -1)
		if err != nil && err != unix.EINTR {
			return nil, fmt.Errorf("epoll wait: %w", err)
		}
		var buf [8]byte
		unix.Read(r.wake, buf[:]) // reset a context wake-up; Close re-signals
		if r.closed.Load() {
			return nil, ErrClosed
		}
	}
}

func (r *sysRing) close() error {
	if r.closed.Swap(true) {
		return nil
	}
	// A reader resets the eventfd only before it checks closed again, so
	// this one signal reaches it.
	r.signal()
	r.mu.Lock()
	r.release()
	r.mu.Unlock()
	return nil
}
