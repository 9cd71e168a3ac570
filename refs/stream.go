package refs

import (
	"context"
	"errors"
	"iter"
	"time"
)

// stream is the Seq of every blocking reference: it calls next until the
// reference closes, timeout passes without a value, ctx ends or next fails.
// timeout follows the rule of Forever: negative waits for each value
// without limit, zero takes only values already there. Closing the
// reference, running out of time and the end of the caller's ctx end the
// sequence quietly, as clj-ebpf's ringbuf-seq and queue-seq end on their
// timeout value (the caller tells its own cancellation by ctx.Err()); any
// other error ends it too and is what the returned function reports (nil
// otherwise), as mapops' walks report theirs (see the package
// documentation, "Sequences and errors"). With onTimeout, a step that runs
// out of time yields *onTimeout and the sequence goes on (clj-ebpf's
// :timeout-val).
func stream[T any](ctx context.Context, timeout time.Duration, next func(context.Context) (T, error), l *life, onTimeout ...T) (iter.Seq[T], func() error) {
	var err error
	seq := func(yield func(T) bool) {
		err = nil
		for {
			wctx, cancel := timeoutContext(ctx, timeout)
			v, e := next(wctx)
			ranOut := timeout >= 0 && ctx.Err() == nil && wctx.Err() != nil
			cancel()
			switch {
			case e == nil:
				if !yield(v) {
					return
				}
				continue
			case errors.Is(e, errClosed) && l.isClosed():
			case ranOut && timedOut(e):
				if len(onTimeout) > 0 {
					if !yield(onTimeout[0]) {
						return
					}
					continue
				}
			case ctx.Err() != nil && errors.Is(e, ctx.Err()):
			default:
				err = e
			}
			return
		}
	}
	return seq, func() error { return err }
}

// toChan is the Chan of every blocking reference. The goroutine it starts
// ends when ctx ends, the reference closes or next fails; then the value
// channel is closed and the error channel receives the error that ended
// it (nil for ctx and Close) and is closed.
func toChan[T any](ctx context.Context, next func(context.Context) (T, error), l *life) (<-chan T, <-chan error) {
	out := make(chan T)
	errc := make(chan error, 1)
	go func() {
		var err error
		defer func() {
			close(out)
			errc <- err
			close(errc)
		}()
		for {
			v, e := next(ctx)
			if e != nil {
				if ctx.Err() == nil && !l.isClosed() {
					err = e
				}
				return
			}
			select {
			case out <- v:
			case <-ctx.Done():
				return
			case <-l.done:
				return
			}
		}
	}()
	return out, errc
}
