package refs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/bpfmaps/bpfmaps/internal/pollwait"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// errClosed is wrapped by the error of every call made on, or blocked in, a
// reference that has been closed. It wraps os.ErrClosed, which callers
// test for.
var errClosed error = closedError{}

type closedError struct{}

func (closedError) Error() string { return "reference is closed" }
func (closedError) Unwrap() error { return os.ErrClosed }

// ErrInvalidValue is wrapped by the error an EntryRef returns when its
// validator rejects a new value. Nothing is written in that case.
var ErrInvalidValue = errors.New("value rejected by validator")

// DefaultPollInterval is how often a reference over a map the kernel cannot
// wake us for (queue, stack, hash, array) checks it at most, unless
// PollInterval says otherwise.
const DefaultPollInterval = 10 * time.Millisecond

// Option configures a polling reference (QueueRef, StackRef, QueueChannel,
// StackChannel, MapWatcher, ChangeWatcher).
type Option func(*settings)

type settings struct {
	poll  time.Duration
	typed []mapops.TypedOption
}

// PollInterval sets the longest pause between two checks of the map while a
// call waits (default DefaultPollInterval). A wait checks at once, then
// backs off from 100µs, doubling up to d, so a value that arrives soon is
// seen soon and a long wait costs one system call per d. It bounds how late
// a value written by a BPF program or another process is seen; values
// written through this package's references in this process wake waiters
// at once.
func PollInterval(d time.Duration) Option {
	return func(s *settings) { s.poll = d }
}

// TypedOptions passes opts to mapops.NewTyped when a MapWatcher or
// ChangeWatcher checks K and V against the map: mapops.CheckBTF or
// mapops.AllowUnreadableBTF for a process without CAP_SYS_ADMIN, which may
// not read the map's BTF. Queue and stack references take it too and
// ignore it (their maps have no keys to check).
func TypedOptions(opts ...mapops.TypedOption) Option {
	return func(s *settings) { s.typed = append(s.typed, opts...) }
}

func applyOptions(op string, opts []Option) (settings, error) {
	s := settings{poll: DefaultPollInterval}
	for _, o := range opts {
		if o != nil {
			o(&s)
		}
	}
	if s.poll <= 0 {
		return s, fmt.Errorf("refs: %s: poll interval must be positive, got %v", op, s.poll)
	}
	return s, nil
}

// life is the open/closed state every reference shares (the closed state
// of a sys.Lifetime: the map handle counts its own calls); done is closed
// by the first Close, which wakes every waiter selecting on it.
type life struct {
	state sys.Lifetime
	done  chan struct{}
}

func newLife() life { return life{done: make(chan struct{})} }

// close reports whether this call closed it.
func (l *life) close() (first bool) {
	if first, _ = l.state.Close(); first {
		close(l.done)
	}
	return first
}

func (l *life) isClosed() bool { return l.state.Closed() }

// pollUntil calls try until it reports done or an error, ctx ends or the
// reference closes (errClosed), as pollwait.Until does, waking early
// when st's changes channel closes (a write through a reference of this
// process).
func (l *life) pollUntil(ctx context.Context, interval time.Duration, st *mapState, try func() (bool, error)) error {
	if l.isClosed() {
		return errClosed
	}
	var wake func() <-chan struct{}
	if st != nil {
		wake = st.changes
	}
	return pollwait.Until(ctx, interval, wake, l.done, errClosed, try)
}

// Forever is the timeout that waits without limit. Every timeout of this
// package follows one rule (see the package documentation, "Timeouts"): a
// negative duration waits without limit, zero does not wait, a positive
// duration waits up to that long. Any negative value is Forever, so
// libbpf's -1 (as -1 * time.Millisecond) means what it means there.
const Forever time.Duration = -1

// timeoutContext turns a timeout into a context, by the rule of Forever:
// d < 0 waits without limit, d == 0 tries once without waiting, d > 0
// waits up to d.
func timeoutContext(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	switch {
	case d < 0:
		return parent, func() {}
	case d == 0:
		ctx, cancel := context.WithCancel(parent)
		cancel() // already done: one try, no wait
		return ctx, cancel
	}
	return context.WithTimeout(parent, d)
}

// timedOut reports whether err only says that the timeout form's own time
// ran out, which the timeout forms report as ok == false, not as an error.
func timedOut(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, os.ErrDeadlineExceeded)
}

// waitTimeout runs the context form wait with a timeout of d (see Forever)
// and turns running out of time into ok == false. op, the operation's
// name, is kept for the callers; no timeout is an error any more.
func waitTimeout[T any](op string, d time.Duration, wait func(context.Context) (T, error)) (T, bool, error) {
	var zero T
	ctx, cancel := timeoutContext(context.Background(), d)
	defer cancel()
	v, err := wait(ctx)
	if err != nil {
		if ctx.Err() != nil && timedOut(err) {
			return zero, false, nil
		}
		return zero, false, err
	}
	return v, true, nil
}
