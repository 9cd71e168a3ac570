package pollwait

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestUntil(t *testing.T) {
	errStop, errTry := errors.New("stopped"), errors.New("try failed")
	never := func() (bool, error) { return false, nil }
	stopped := make(chan struct{})
	close(stopped)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		stop <-chan struct{}
		try  func() (bool, error)
		want error
	}{
		{"done at once", context.Background(), nil, func() (bool, error) { return true, nil }, nil},
		{"try fails", context.Background(), nil, func() (bool, error) { return false, errTry }, errTry},
		{"stopped", context.Background(), stopped, never, errStop},
		{"ctx ended", ended, nil, never, context.Canceled},
		{"done beats an ended ctx", ended, stopped, func() (bool, error) { return true, nil }, nil},
	} {
		if err := Until(c.ctx, time.Hour, nil, c.stop, errStop, c.try); !errors.Is(err, c.want) {
			t.Errorf("%s: Until = %v, want %v", c.name, err, c.want)
		}
	}
}

// Sleeps back off to the interval; a closed wake channel ends the sleep
// at once, and a stop during a sleep ends the wait.
func TestUntilWakes(t *testing.T) {
	tries := 0
	wake := make(chan struct{})
	close(wake) // every sleep ends at once: an hour-long interval never shows
	start := time.Now()
	err := Until(context.Background(), time.Hour, func() <-chan struct{} { return wake }, nil, nil, func() (bool, error) {
		tries++
		return tries == 100, nil
	})
	if err != nil || tries != 100 {
		t.Fatalf("Until = %v after %d tries, want nil after 100", err, tries)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("100 woken tries took %v", d)
	}

	stop := make(chan struct{})
	time.AfterFunc(10*time.Millisecond, func() { close(stop) })
	errStop := errors.New("stopped")
	if err := Until(context.Background(), time.Hour, nil, stop, errStop, func() (bool, error) { return false, nil }); err != errStop {
		t.Fatalf("Until with a stop during a sleep = %v, want %v", err, errStop)
	}
}
