package ringbuf

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/epoll"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// Poller serves many rings from one epoll set, each ring with its own
// handler, like libbpf's ring_buffer manager (ring_buffer__add, __poll,
// __consume, __consume_n). Handlers receive each record in place; it is
// valid only during the call.
//
// Add, Poll, Consume and ConsumeN are for one goroutine at a time; Close
// may be called from any goroutine and wakes a blocked Poll at once.
type Poller struct {
	rings  []pollRing
	poll   *epoll.Poller
	events []unix.EpollEvent
	life   sys.Lifetime // only its closed state: the Readers count their own calls
}

type pollRing struct {
	r      *Reader
	handle func(sample []byte) error
}

// NewPoller returns a Poller with no rings.
func NewPoller() (*Poller, error) {
	poll, err := epoll.New()
	if err != nil {
		return nil, fmt.Errorf("ringbuf: new poller: %w", err)
	}
	return &Poller{poll: poll}, nil
}

// Add adds the ringbuf map m with its handler and returns the ring's
// Reader, for its positions and sizes (do not read from it while the
// Poller serves it). Like NewReader, it works on a duplicate of m's
// descriptor. Rings are served in the order they were added.
func (p *Poller) Add(m *mapops.Map, handle func(sample []byte) error) (*Reader, error) {
	r, err := NewReader(m)
	if err != nil {
		return nil, fmt.Errorf("ringbuf: poller add: %w", err)
	}
	if err := p.AddReader(r, handle); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// AddReader adds a Reader, such as the consuming end of NewInMemory,
// with its handler. The Poller takes ownership of r and closes it on
// Close.
func (p *Poller) AddReader(r *Reader, handle func(sample []byte) error) error {
	const op = "ringbuf: poller add"
	if handle == nil {
		return fmt.Errorf("%s: nil handler: %w", op, unix.EINVAL)
	}
	if p.isClosed() || r.isClosed() {
		return fmt.Errorf("%s: %w", op, os.ErrClosed)
	}
	if err := p.poll.Add(r.notify, int32(len(p.rings)), r.notifyEvents); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	p.rings = append(p.rings, pollRing{r: r, handle: handle})
	p.events = make([]unix.EpollEvent, len(p.rings)+1)
	return nil
}

// Ring returns the Reader of the i-th ring added, or nil.
func (p *Poller) Ring(i int) *Reader {
	if i < 0 || i >= len(p.rings) {
		return nil
	}
	return p.rings[i].r
}

// Consume hands every record of every ring to its handler, without
// waiting, and returns how many records were handled. A handler error
// stops it and is returned wrapped; that record counts as consumed.
func (p *Poller) Consume() (int, error) { return p.ConsumeN(math.MaxInt) }

// ConsumeN is Consume that stops after n records in all; n <= 0 consumes
// nothing.
func (p *Poller) ConsumeN(n int) (int, error) {
	total := 0
	for i := range p.rings {
		if total >= n {
			break
		}
		got, err := p.rings[i].r.ConsumeN(n-total, p.rings[i].handle)
		total += got
		if err != nil {
			return total, fmt.Errorf("ring %d: %w", i, err)
		}
	}
	return total, nil
}

// Poll handles the records of every ring and, when there were none, waits
// for a producer to signal and handles the records of the rings that did,
// until at least one record was handled. Records already in the rings are
// handled before any wait. It returns how many records were handled, or the
// error that ended the wait: ctx's, or one wrapping os.ErrClosed.
func (p *Poller) Poll(ctx context.Context) (int, error) {
	const op = "ringbuf: poll"
	if p.isClosed() {
		return 0, fmt.Errorf("%s: %w", op, os.ErrClosed)
	}
	gen := p.poll.Gen()
	n, err := p.Consume()
	for n == 0 && err == nil {
		ready, werr := p.poll.Wait(ctx, gen, p.events)
		if werr != nil {
			if errors.Is(werr, os.ErrClosed) || p.isClosed() {
				werr = os.ErrClosed
			}
			return 0, fmt.Errorf("%s: %w", op, werr)
		}
		if p.isClosed() {
			return 0, fmt.Errorf("%s: %w", op, os.ErrClosed)
		}
		gen = p.poll.Gen()
		if ready == 0 { // woken for another reason: look at every ring
			n, err = p.Consume()
			continue
		}
		for _, ev := range p.events[:ready] {
			i := int(ev.Fd)
			got, cerr := p.rings[i].r.ConsumeN(math.MaxInt, p.rings[i].handle)
			n += got
			if cerr != nil {
				err = fmt.Errorf("ring %d: %w", i, cerr)
				break
			}
		}
	}
	if err != nil {
		return n, fmt.Errorf("%s: %w", op, err)
	}
	return n, nil
}

func (p *Poller) isClosed() bool { return p.life.Closed() }

// Close wakes a blocked Poll, which fails with an error wrapping
// os.ErrClosed, and closes every ring. It is idempotent, and returns
// errors as the Reader's Close does: the first call those of releasing,
// later calls nil.
func (p *Poller) Close() error {
	if first, _ := p.life.Close(); !first {
		return nil
	}
	errs := []error{p.poll.Close()}
	for _, pr := range p.rings {
		errs = append(errs, pr.r.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ringbuf: close poller: %w", err)
	}
	return nil
}
