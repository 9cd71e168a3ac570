// Package epoll is the one waiting mechanism of the ring buffers: an epoll
// instance that goroutines sleep in, with a context, an os.File-like
// deadline, a wake-up and a Close that ends every present and future wait.
// ringbuf's Reader and Poller wait in it for records, userringbuf's
// Producer for room. Event is an eventfd that an in-memory ring signals
// through it.
//
// One goroutine at a time sleeps in epoll_wait, holding the turn; the
// others wait for the turn on a channel, where Close, their context and
// the deadline reach them directly. The sleeping goroutine is woken by an
// eventfd (the kick) that Close, Wake, SetDeadline and the end of its
// context write. Waiting with context.Background and no deadline
// allocates nothing.
package epoll

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

// kickID is the id of the kick in the epoll set; Add refuses it.
const kickID = -1

// Poller is an epoll set to wait in. Add descriptors, then Wait. All
// methods are safe for concurrent use.
type Poller struct {
	turn chan struct{} // holds a token while a goroutine is in epoll_wait; kept for good after Close
	done chan struct{} // closed by Close
	gen  atomic.Uint64 // how many times epoll_wait returned

	fdMu sync.Mutex // guards the descriptors against Close
	open bool
	epfd int
	kick *Event

	dlMu     sync.Mutex
	deadline time.Time
	changed  chan struct{} // closed and replaced when the deadline changes

	life sys.Lifetime // only its closed state: the turn orders the calls
}

// New returns a Poller with an empty epoll set.
func New() (*Poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	kick, err := NewEvent()
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	p := &Poller{turn: make(chan struct{}, 1), done: make(chan struct{}), epfd: epfd, kick: kick, open: true, changed: make(chan struct{})}
	if err := p.add(kick.fd, kickID, unix.EPOLLIN|unix.EPOLLET); err != nil {
		kick.Close()
		unix.Close(epfd)
		return nil, err
	}
	return p, nil
}

// Add adds fd to the set for events (unix.EPOLLIN, unix.EPOLLOUT, with
// unix.EPOLLET for edge-triggered). Wait reports it with id in the event's
// Fd field; id must not be negative. The caller keeps fd open while it is
// in the set.
func (p *Poller) Add(fd int, id int32, events uint32) error {
	if id < 0 {
		return fmt.Errorf("epoll add: negative id %d: %w", id, unix.EINVAL)
	}
	p.fdMu.Lock()
	defer p.fdMu.Unlock()
	if !p.open {
		return fmt.Errorf("epoll add: %w", os.ErrClosed)
	}
	return p.add(fd, id, events)
}

func (p *Poller) add(fd int, id int32, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: id}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	return nil
}

// Gen returns a count of the wake-ups Wait has consumed. A caller reads it
// before it looks at what it waits for and passes it to Wait, which then
// returns at once when a wake-up was consumed since: another goroutine may
// have taken the signal meant for this one too.
func (p *Poller) Gen() uint64 { return p.gen.Load() }

// Sleeping reports whether a goroutine holds the turn to sleep in
// epoll_wait (or is about to take it), for tests and benchmarks that need
// a waiter asleep.
func (p *Poller) Sleeping() bool { return len(p.turn) != 0 }

// ErrDeadline is returned by Wait when the deadline set by SetDeadline has
// passed. It wraps os.ErrDeadlineExceeded.
var ErrDeadline = fmt.Errorf("deadline passed: %w", os.ErrDeadlineExceeded)

// Wait sleeps until a descriptor of the set is ready, Wake is called, ctx
// ends, the deadline passes or the Poller is closed, and copies the ready
// descriptors' events into events (with no room, it reports none: the
// caller looks at everything). It returns n = 0 with a nil error when it
// was woken for another reason (Wake, a signal, a wake-up consumed since
// gen): the caller looks again and waits again. Its errors are ctx.Err(),
// ErrDeadline and os.ErrClosed.
func (p *Poller) Wait(ctx context.Context, gen uint64, events []unix.EpollEvent) (int, error) {
	for {
		select {
		case <-p.done:
			return 0, os.ErrClosed
		default:
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		dl, changed := p.getDeadline()
		if !dl.IsZero() && !time.Now().Before(dl) {
			return 0, ErrDeadline
		}
		var timer <-chan time.Time
		if !dl.IsZero() {
			t := time.NewTimer(time.Until(dl))
			defer t.Stop()
			timer = t.C
		}
		select {
		case p.turn <- struct{}{}:
			if p.closing() {
				return 0, os.ErrClosed
			}
			n := 0
			var err error
			if p.gen.Load() == gen {
				n, err = p.sleep(ctx, dl, events)
				p.gen.Add(1)
			}
			if p.closing() {
				return 0, os.ErrClosed
			}
			<-p.turn
			if p.isClosed() {
				p.closeIfFree()
			}
			return n, err
		case <-p.done:
			return 0, os.ErrClosed
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-timer:
			return 0, ErrDeadline
		case <-changed:
			// look at the new deadline
		}
	}
}

// sleep is one epoll_wait, holding the turn.
func (p *Poller) sleep(ctx context.Context, dl time.Time, events []unix.EpollEvent) (int, error) {
	if ctx.Done() != nil { // Background can never end: no callback, no allocation
		stop := context.AfterFunc(ctx, p.Wake)
		defer stop()
	}
	timeout := -1
	if d, ok := ctx.Deadline(); ok && (dl.IsZero() || d.Before(dl)) {
		dl = d
	}
	if !dl.IsZero() {
		left := time.Until(dl)
		if left <= 0 {
			return 0, nil // the caller's next Wait reports it
		}
		timeout = int((left + time.Millisecond - 1) / time.Millisecond)
	}
	var buf [2]unix.EpollEvent
	given := len(events) > 0
	if !given {
		events = buf[:]
	}
	n, err := unix.EpollWait(p.epfd, events, timeout)
	if err != nil {
		if errors.Is(err, unix.EINTR) {
			return 0, nil
		}
		return 0, fmt.Errorf("epoll_wait: %w", err)
	}
	if !given {
		return 0, nil
	}
	// Drop the kick (edge-triggered: nothing to read back).
	kept := 0
	for _, ev := range events[:n] {
		if ev.Fd != kickID {
			events[kept] = ev
			kept++
		}
	}
	return kept, nil
}

// Wake makes the goroutine sleeping in Wait return, with n = 0.
func (p *Poller) Wake() {
	p.fdMu.Lock()
	if p.open {
		p.kick.Signal()
	}
	p.fdMu.Unlock()
}

// SetDeadline sets the time after which blocked and future Waits fail with
// ErrDeadline; the zero time means none.
func (p *Poller) SetDeadline(t time.Time) {
	p.dlMu.Lock()
	p.deadline = t
	close(p.changed)
	p.changed = make(chan struct{})
	p.dlMu.Unlock()
	p.Wake()
}

func (p *Poller) getDeadline() (time.Time, <-chan struct{}) {
	p.dlMu.Lock()
	defer p.dlMu.Unlock()
	return p.deadline, p.changed
}

func (p *Poller) isClosed() bool { return p.life.Closed() }

// closing, for the holder of the turn, closes the descriptors if the
// Poller is closed and keeps the turn for good.
func (p *Poller) closing() bool {
	if !p.isClosed() {
		return false
	}
	p.closeFDs()
	return true
}

// closeIfFree takes the turn for good, if it is free, and closes the
// descriptors; otherwise its holder does.
func (p *Poller) closeIfFree() {
	select {
	case p.turn <- struct{}{}:
		p.closeFDs()
	default:
	}
}

func (p *Poller) closeFDs() {
	p.fdMu.Lock()
	if p.open {
		p.open = false
		p.kick.Close()
		unix.Close(p.epfd)
	}
	p.fdMu.Unlock()
}

// Close makes every present and future Wait fail with os.ErrClosed and
// closes the epoll set once no goroutine sleeps in it. It is idempotent.
// The descriptors added stay the caller's.
func (p *Poller) Close() error {
	if first, _ := p.life.Close(); first {
		close(p.done)
		p.Wake()
		p.closeIfFree()
	}
	return nil
}

// Event is an eventfd for an in-memory ring to signal its waiters with.
// Add it to a Poller edge-triggered (unix.EPOLLIN|unix.EPOLLET): each
// Signal is one wake-up, and nothing has to be read back.
type Event struct {
	fd   int
	life sys.Lifetime // Signals in flight; the last one out of a closed Event closes fd
}

// NewEvent returns an open Event.
func NewEvent() (*Event, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	return &Event{fd: fd}, nil
}

// FD returns the eventfd, to add to a Poller.
func (e *Event) FD() int { return e.fd }

// Signal wakes the Pollers the Event is in; after Close it does nothing.
// It adds one to the eventfd's counter, a uint64 in host byte order: the
// bytes 01 00 … 00 would add 2^56 on a big-endian machine, and after 255
// signals the counter would be full and every later Signal would fail
// (EAGAIN) and wake nobody.
func (e *Event) Signal() {
	if !e.life.Acquire() {
		return
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	unix.Write(e.fd, one[:])
	if e.life.Release() {
		unix.Close(e.fd)
	}
}

// Close closes the eventfd, at once or, if a Signal is writing to it,
// when that Signal returns. It is idempotent.
func (e *Event) Close() error {
	if first, idle := e.life.Close(); first && idle {
		return unix.Close(e.fd)
	}
	return nil
}
