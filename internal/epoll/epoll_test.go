package epoll

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

func newWithEvent(t *testing.T) (*Poller, *Event) {
	t.Helper()
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(); ev.Close() })
	if err := p.Add(ev.FD(), 7, unix.EPOLLIN|unix.EPOLLET); err != nil {
		t.Fatal(err)
	}
	return p, ev
}

// A signal wakes the sleeper with the descriptor's id; every Signal is
// one wake-up, with nothing to read back; waiting with Background
// allocates nothing.
func TestWaitEvent(t *testing.T) {
	testutil.CheckLeaks(t)
	p, ev := newWithEvent(t)
	events := make([]unix.EpollEvent, 2)
	ev.Signal()
	n, err := p.Wait(context.Background(), p.Gen(), events)
	if n != 1 || err != nil || events[0].Fd != 7 {
		t.Fatalf("Wait = %d, %v, %+v", n, err, events[:n])
	}
	allocs := testing.AllocsPerRun(100, func() {
		ev.Signal()
		if n, err := p.Wait(context.Background(), p.Gen(), events); n != 1 || err != nil {
			t.Fatalf("Wait = %d, %v", n, err)
		}
	})
	if allocs != 0 && !testutil.RaceEnabled {
		t.Fatalf("Wait with context.Background allocates %v times", allocs)
	}
	if err := p.Add(ev.FD(), -1, unix.EPOLLIN); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("Add with a negative id: %v", err)
	}
}

// Each Signal adds one to the eventfd's counter, so signals never run out:
// written as a little-endian 1, each added 2^56 on a big-endian machine
// (s390x in the kernel matrix), the counter was full after 255 signals,
// and from then on Signal woke nobody (an in-memory user ring's blocked
// producers slept forever).
func TestSignalsNeverRunOut(t *testing.T) {
	p, ev := newWithEvent(t)
	events := make([]unix.EpollEvent, 2)
	const n = 1000
	for i := range n {
		ev.Signal()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		got, err := p.Wait(ctx, p.Gen(), events)
		cancel()
		if got != 1 || err != nil {
			t.Fatalf("signal %d woke nobody: Wait = %d, %v", i+1, got, err)
		}
	}
	var counter [8]byte
	if _, err := unix.Read(ev.FD(), counter[:]); err != nil {
		t.Fatal(err)
	}
	if c := binary.NativeEndian.Uint64(counter[:]); c != n {
		t.Fatalf("eventfd counter %#x after %d signals, want %d", c, n, n)
	}
}

// A wake-up consumed since the caller's gen makes Wait return at once.
func TestWaitGen(t *testing.T) {
	p, ev := newWithEvent(t)
	gen := p.Gen()
	ev.Signal()
	if _, err := p.Wait(context.Background(), gen, nil); err != nil { // consumes it
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := p.Wait(context.Background(), gen, nil); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait with a stale gen slept")
	}
}

// Close ends present waiters (the sleeper and those waiting for the turn)
// and future ones; cancellation and the deadline end a wait too.
func TestWaitEnds(t *testing.T) {
	testutil.CheckLeaks(t)
	p, _ := newWithEvent(t)
	within := func(what string, ch chan error, want error) {
		t.Helper()
		select {
		case err := <-ch:
			if !errors.Is(err, want) {
				t.Fatalf("%s: %v, want %v", what, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: still waiting", what)
		}
	}
	ch := make(chan error, 3)
	// Wait until it fails, as its callers do: a wake-up returns n = 0.
	waitErr := func(ctx context.Context) {
		for {
			if _, err := p.Wait(ctx, p.Gen(), nil); err != nil {
				ch <- err
				return
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	go waitErr(ctx)
	time.Sleep(10 * time.Millisecond)
	cancel()
	within("cancel", ch, context.Canceled)

	p.SetDeadline(time.Now().Add(10 * time.Millisecond))
	go waitErr(context.Background())
	within("deadline", ch, os.ErrDeadlineExceeded)
	p.SetDeadline(time.Time{})

	for range 3 {
		go waitErr(context.Background())
	}
	time.Sleep(10 * time.Millisecond)
	p.Close()
	for range 3 {
		within("close", ch, os.ErrClosed)
	}
	if _, err := p.Wait(context.Background(), p.Gen(), nil); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Wait after Close: %v", err)
	}
	if err := p.Add(0, 1, unix.EPOLLIN); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Add after Close: %v", err)
	}
}

// Close while other goroutines Signal: the eventfd is closed exactly once,
// by Close or by the Signal writing to it, and never written after.
func TestEventCloseWhileSignalling(t *testing.T) {
	testutil.CheckLeaks(t)
	for range 50 {
		ev, err := NewEvent()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		for range 4 {
			go func() {
				defer func() { done <- struct{}{} }()
				for range 100 {
					ev.Signal()
				}
			}()
		}
		ev.Close()
		for range 4 {
			<-done
		}
		ev.Signal() // after Close: nothing
		if err := ev.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
}
