package userringbuf

import (
	"context"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A waiter blocks a ReserveBlocking call until a consumer may have freed
// space. It is created before the Reserve attempt it follows, so a drain
// in between is never missed, and ends early when its context ends, its
// deadline passes or the Producer closes.
type waiter interface {
	wait() error
	close()
}

func (p *Producer) newWaiter(ctx context.Context, deadline time.Time) (waiter, error) {
	if p.mem != nil {
		return p.mem.newWaiter(ctx, deadline, p.done), nil
	}
	return newEpollWaiter(p, ctx, deadline)
}

// epollWaiter waits for EPOLLOUT on the map: the kernel wakes it after a
// bpf_user_ringbuf_drain that consumed something. The map is registered
// edge-triggered in an epoll instance of its own, so each wake-up is one
// event: a ring with a few free bytes, but not enough, does not make the
// waiter spin. The epoll descriptor sits in the Go runtime's poller, so
// waiting parks the goroutine, not a thread, and deadlines work.
type epollWaiter struct {
	f     *os.File
	rc    syscall.RawConn
	stops [2]func() bool
}

func newEpollWaiter(p *Producer, ctx context.Context, deadline time.Time) (*epollWaiter, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("userringbuf: reserve: epoll: %w", err)
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("userringbuf: reserve: epoll: %w", err)
	}
	raw, err := p.fd.Acquire()
	if err != nil {
		unix.Close(epfd)
		return nil, errClosedRsv
	}
	ev := unix.EpollEvent{Events: unix.EPOLLOUT | unix.EPOLLET, Fd: int32(raw)}
	err = unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, raw, &ev)
	p.fd.Release()
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("userringbuf: reserve: epoll: %w", err)
	}
	w := &epollWaiter{f: os.NewFile(uintptr(epfd), "userringbuf-epoll")}
	if w.rc, err = w.f.SyscallConn(); err == nil && !deadline.IsZero() {
		err = w.f.SetReadDeadline(deadline)
	}
	if err != nil {
		w.f.Close()
		return nil, fmt.Errorf("userringbuf: reserve: epoll: %w", err)
	}
	// Cancellation and Close move the deadline to the past, which wakes
	// the wait for good.
	interrupt := func() { w.f.SetReadDeadline(time.Unix(1, 0)) }
	w.stops[0] = context.AfterFunc(ctx, interrupt)
	w.stops[1] = context.AfterFunc(p.done, interrupt)
	return w, nil
}

func (w *epollWaiter) wait() error {
	var events [1]unix.EpollEvent
	var werr error
	err := w.rc.Read(func(fd uintptr) bool {
		for {
			n, err := unix.EpollWait(int(fd), events[:], 0)
			switch {
			case err == unix.EINTR:
				continue
			case err != nil:
				werr = err
				return true
			}
			return n > 0
		}
	})
	if err == nil {
		err = werr
	}
	return err
}

func (w *epollWaiter) close() {
	for _, stop := range w.stops {
		stop()
	}
	w.f.Close()
}
