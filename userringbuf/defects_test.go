package userringbuf

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// TestSecondProducerRefused: a second live Producer of the same map in
// this process, through the same or another descriptor, is refused with
// EBUSY; once the first is closed, a new one is accepted. A Producer of
// another map is not affected.
func TestSecondProducerRefused(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveUserRingBuf)
	m := newUserRingBuf(t, page)
	first, err := NewProducer(asMap(t, m))
	if err != nil {
		t.Fatal(err)
	}
	other, err := m.Dup()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for name, fd := range map[string]*sys.FD{"same descriptor": m, "duplicate descriptor": other} {
		if p, err := NewProducer(asMap(t, fd)); !errors.Is(err, unix.EBUSY) {
			if p != nil {
				p.Close()
			}
			t.Errorf("second producer through the %s: %v, want EBUSY", name, err)
		}
	}
	elsewhere, err := NewProducer(asMap(t, newUserRingBuf(t, page)))
	if err != nil {
		t.Fatalf("producer of another map: %v", err)
	}
	elsewhere.Close()
	first.Close()
	again, err := NewProducer(asMap(t, other))
	if err != nil {
		t.Fatalf("producer after the first was closed: %v", err)
	}
	again.Close()
}

// TestReserveBlockingManyWaiters: producers blocked together on a full
// ring share one epoll set (one sleeps in epoll_wait, the others wait for
// their turn), and each drain frees room for one of them: all of them get
// in while the consumer drains. (That a wake-up consumed by one waiter is
// not lost to the others is internal/epoll's TestWaitGen.)
func TestReserveBlockingManyWaiters(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var w want
		w.put(t, tg.p, page-8, 0) // full
		const waiters = 6
		got := make(chan error, waiters)
		for range waiters {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				s, err := tg.p.ReserveBlocking(ctx, page-8) // the whole ring
				if err == nil {
					err = s.Submit()
				}
				got <- err
			}()
		}
		deadline := time.After(20 * time.Second)
		for done := 0; done < waiters; {
			select {
			case err := <-got:
				if err != nil {
					t.Fatal(err)
				}
				done++
			case <-deadline:
				t.Fatalf("%d of %d blocked producers got in", done, waiters)
			case <-time.After(time.Millisecond):
				tg.drain(t)
			}
		}
	})
}
