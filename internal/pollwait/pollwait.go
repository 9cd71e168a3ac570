// Package pollwait is the one loop that waits for what the kernel cannot
// report as an event: a map entry appearing or changing. refs' watchers
// and blocking pops and the bpfmaps command's watch wait in it.
package pollwait

import (
	"context"
	"time"
)

// MinSleep is the first sleep of a wait; sleeps double from here up to
// the caller's interval, so a change soon after the wait starts is seen
// soon, and a long wait costs one look per interval.
const MinSleep = 100 * time.Microsecond

// Until calls try until it reports done or fails, ctx ends (ctx.Err()),
// or stop is closed (stopErr). Between tries it sleeps with back-off from
// MinSleep up to interval, and wakes early when the channel wake returned
// before the try is closed (a write this process made). wake and stop may
// be nil. try runs at once, and again after every sleep; a done or failed
// try is returned even when ctx has ended.
func Until(ctx context.Context, interval time.Duration, wake func() <-chan struct{}, stop <-chan struct{}, stopErr error, try func() (bool, error)) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	sleep := min(MinSleep, interval)
	for {
		var kick <-chan struct{}
		if wake != nil {
			kick = wake() // before the try: a write between the try and the sleep is not missed
		}
		done, err := try()
		if err != nil || done {
			return err
		}
		select {
		case <-stop:
			return stopErr
		default:
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if timer == nil {
			timer = time.NewTimer(sleep)
		} else {
			timer.Reset(sleep)
		}
		select {
		case <-timer.C:
			sleep = min(2*sleep, interval)
		case <-kick:
		case <-stop:
			return stopErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
