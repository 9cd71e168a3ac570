package userringbuf

import (
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/epoll"
)

// poller returns the Producer's epoll set, created at the first wait: a
// map registered edge-triggered for EPOLLOUT, which the kernel signals
// after a bpf_user_ringbuf_drain that consumed something, or the
// in-memory ring's Event, which its Consumer signals. Edge-triggered, so
// that a ring with a few free bytes, but not enough, does not make a
// waiter spin. The registration stays until Close, so a drain between a
// caller's attempt and its wait is never missed.
func (p *Producer) poller() (*epoll.Poller, error) {
	p.waitMu.Lock()
	defer p.waitMu.Unlock()
	if p.isClosed() {
		return nil, errClosedRsv
	}
	if p.poll != nil {
		return p.poll, nil
	}
	poll, err := epoll.New()
	if err != nil {
		return nil, fmt.Errorf("userringbuf: wait: %w", err)
	}
	if p.mem != nil {
		err = p.mem.watch(poll)
	} else {
		err = p.watchMap(poll)
	}
	if err != nil {
		poll.Close()
		return nil, fmt.Errorf("userringbuf: wait: %w", err)
	}
	p.poll = poll
	return poll, nil
}

func (p *Producer) watchMap(poll *epoll.Poller) error {
	raw, err := p.fd.Acquire()
	if err != nil {
		return err
	}
	defer p.fd.Release()
	return poll.Add(raw, 0, unix.EPOLLOUT|unix.EPOLLET)
}

// stopWaiting closes the epoll set: blocked waits fail with os.ErrClosed.
func (p *Producer) stopWaiting() {
	p.waitMu.Lock()
	if p.poll != nil {
		p.poll.Close()
	}
	if p.mem != nil {
		p.mem.unwatch()
	}
	p.waitMu.Unlock()
}

// waitFor calls try until it reports done, waiting for a consumer to free
// space after each attempt that found none. It ends with errClosedRsv when
// the Producer is closed and with ctx.Err() when ctx ends; a ctx ending at
// its deadline gives timeout's error instead, if timeout is set.
func (p *Producer) waitFor(ctx context.Context, timeout func() error, try func() (done bool)) error {
	poll, err := p.poller()
	if err != nil {
		return err
	}
	for {
		gen := poll.Gen()
		if try() {
			return nil
		}
		if _, err := poll.Wait(ctx, gen, nil); err != nil {
			switch {
			case errors.Is(err, os.ErrClosed) || p.isClosed():
				return errClosedRsv
			case timeout != nil && errors.Is(err, context.DeadlineExceeded):
				return timeout()
			case ctx.Err() != nil:
				return ctx.Err()
			}
			return fmt.Errorf("userringbuf: wait: %w", err)
		}
	}
}
