package ringbuf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// waiter puts one goroutine at a time to sleep in epoll_wait on a ring's
// notification descriptor, next to an eventfd (kick) that Close, context
// cancellation and SetDeadline write to wake it. The other goroutines wait
// for their turn on a channel, where Close, ctx and the deadline reach them
// directly.
type waiter struct {
	turn   chan struct{} // holds a token while a goroutine is in epoll_wait
	fdMu   sync.Mutex    // guards the descriptors against close
	epfd   int
	kick   int
	notify int  // the producer's signal; not owned
	drain  bool // notify is an eventfd to read after each wake-up
	open   bool // under fdMu

	dlMu     sync.Mutex
	deadline time.Time
	changed  chan struct{} // closed and replaced when the deadline changes
}

const (
	tagKick   = 1
	tagNotify = 2
)

func (w *waiter) init(notify int, drain bool) error {
	w.turn = make(chan struct{}, 1)
	w.changed = make(chan struct{})
	w.notify, w.drain = notify, drain
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll_create1: %w", err)
	}
	kick, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return fmt.Errorf("eventfd: %w", err)
	}
	for _, ev := range []unix.EpollEvent{{Events: unix.EPOLLIN, Fd: tagKick}, {Events: unix.EPOLLIN, Fd: tagNotify}} {
		fd := kick
		if ev.Fd == tagNotify {
			fd = notify
		}
		if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
			unix.Close(kick)
			unix.Close(epfd)
			return fmt.Errorf("epoll_ctl: %w", err)
		}
	}
	w.epfd, w.kick, w.open = epfd, kick, true
	return nil
}

// wake writes the kick eventfd, if it is still open.
func (w *waiter) wake() {
	w.fdMu.Lock()
	if w.open {
		var one = [8]byte{1}
		unix.Write(w.kick, one[:])
	}
	w.fdMu.Unlock()
}

// close wakes the goroutine in epoll_wait and closes the descriptors once
// no goroutine is using them (the last one to hold the turn does it).
func (w *waiter) close() {
	w.wake()
	w.closeIfFree()
}

func (w *waiter) closeIfFree() {
	select {
	case w.turn <- struct{}{}: // kept for good: nobody waits in epoll again
		w.fdMu.Lock()
		if w.open {
			w.open = false
			unix.Close(w.kick)
			unix.Close(w.epfd)
			if w.drain {
				unix.Close(w.notify)
			}
		}
		w.fdMu.Unlock()
	default:
	}
}

func (w *waiter) setDeadline(t time.Time) {
	w.dlMu.Lock()
	w.deadline = t
	close(w.changed)
	w.changed = make(chan struct{})
	w.dlMu.Unlock()
	w.wake()
}

func (w *waiter) getDeadline() (time.Time, <-chan struct{}) {
	w.dlMu.Lock()
	defer w.dlMu.Unlock()
	return w.deadline, w.changed
}

// signal writes the notification eventfd of an in-memory ring, if it is
// still open.
func (w *waiter) signal() {
	w.fdMu.Lock()
	if w.open {
		var one = [8]byte{1}
		unix.Write(w.notify, one[:])
	}
	w.fdMu.Unlock()
}

var errDeadline = fmt.Errorf("deadline passed: %w", os.ErrDeadlineExceeded)

// wait sleeps until the producer signals (or may have), the deadline
// passes, ctx ends or done is closed. A nil return means: look at the ring
// again.
func (w *waiter) wait(ctx context.Context, done <-chan struct{}) error {
	for {
		select {
		case <-done:
			return ErrClosed
		default:
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		dl, changed := w.getDeadline()
		if !dl.IsZero() && !time.Now().Before(dl) {
			return errDeadline
		}
		var timer <-chan time.Time
		if !dl.IsZero() {
			t := time.NewTimer(time.Until(dl))
			defer t.Stop()
			timer = t.C
		}
		select {
		case w.turn <- struct{}{}:
			err := w.sleep(ctx, dl)
			<-w.turn
			select {
			case <-done:
				w.closeIfFree()
			default:
			}
			return err
		case <-done:
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		case <-timer:
			return errDeadline
		case <-changed:
			// look at the new deadline
		}
	}
}

// sleep is one epoll_wait, holding the turn.
func (w *waiter) sleep(ctx context.Context, dl time.Time) error {
	if ctx.Done() != nil { // Background can never end: no callback, no allocation
		stop := context.AfterFunc(ctx, w.wake)
		defer stop()
	}
	timeout := -1
	if d, ok := ctx.Deadline(); ok && (dl.IsZero() || d.Before(dl)) {
		dl = d
	}
	if !dl.IsZero() {
		left := time.Until(dl)
		if left <= 0 {
			return nil // the caller's checks report it
		}
		timeout = int((left + time.Millisecond - 1) / time.Millisecond)
	}
	var events [2]unix.EpollEvent
	n, err := unix.EpollWait(w.epfd, events[:], timeout)
	if err != nil {
		if errors.Is(err, unix.EINTR) {
			return nil
		}
		return fmt.Errorf("epoll_wait: %w", err)
	}
	var buf [8]byte
	for _, ev := range events[:n] {
		switch {
		case ev.Fd == tagKick:
			unix.Read(w.kick, buf[:])
		case ev.Fd == tagNotify && w.drain:
			unix.Read(w.notify, buf[:])
		}
	}
	return nil
}
