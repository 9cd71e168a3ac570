package ringbuf

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// stressReps is how many times TestCloseWakesEveryWaiter repeats its race:
// BPFMAPS_STRESS_REPS overrides it (for example 10000 on a host run).
func stressReps(t *testing.T, def int) int {
	if s := os.Getenv("BPFMAPS_STRESS_REPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			t.Fatalf("BPFMAPS_STRESS_REPS=%q: want a positive number", s)
		}
		return n
	}
	if testing.Short() {
		return def / 10
	}
	return def
}

// TestCloseWakesEveryWaiter repeats "4 Read and 2 ReadBatch calls on an
// idle ring, then Close" thousands of times, with Close racing the calls
// on their way into the wait: every call must return os.ErrClosed within
// seconds, whether it was asleep, waiting for its turn, or not yet
// waiting when Close came, and no descriptor may be left open.
func TestCloseWakesEveryWaiter(t *testing.T) {
	testutil.CheckLeaks(t)
	reps := stressReps(t, 2000)
	const readers = 6
	start := time.Now()
	for rep := range reps {
		_, r, err := NewInMemory(os.Getpagesize())
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, readers)
		var started sync.WaitGroup
		started.Add(readers)
		for i := range readers {
			go func() {
				started.Done()
				// Readers whose waits end and start again all the time,
				// so that Close meets them at every step of the way in.
				for {
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(20+i*10)*time.Microsecond)
					var err error
					if i < 4 {
						_, err = r.Read(ctx)
					} else {
						_, err = r.ReadBatch(ctx, make([]Record, 4))
					}
					cancel()
					if !errors.Is(err, context.DeadlineExceeded) {
						errs <- err
						return
					}
				}
			}()
		}
		started.Wait()
		time.Sleep(time.Duration(rep%100) * time.Microsecond)
		r.Close()
		deadline := time.After(5 * time.Second)
		for range readers {
			select {
			case err := <-errs:
				if !errors.Is(err, os.ErrClosed) {
					t.Fatalf("rep %d: %v, want os.ErrClosed", rep, err)
				}
			case <-deadline:
				t.Fatalf("rep %d: a reader is still asleep 5 s after Close", rep)
			}
		}
	}
	t.Logf("%d repetitions in %v", reps, time.Since(start).Round(time.Millisecond))
}

// TestCallbackQueriesPositions: a Consume callback may ask the Reader for
// its positions and available bytes; before, it deadlocked on the
// Reader's lock.
func TestCallbackQueriesPositions(t *testing.T) {
	forEachSource(t, os.Getpagesize(), func(t *testing.T, s *source) {
		s.output(t, []byte{1}, 8, 0)
		s.output(t, []byte{2}, 8, 0)
		type seen struct {
			avail      int
			cons, prod uint64
		}
		var got []seen
		done := make(chan error, 1)
		go func() {
			_, err := s.r.Consume(func([]byte) error {
				got = append(got, seen{s.r.AvailableBytes(), s.r.ConsumerPosition(), s.r.ProducerPosition()})
				return nil
			})
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Consume with a callback that queries the Reader did not return: deadlock")
		}
		// The position is published once per batch: during the callbacks
		// the consumer is still at 0 and both records are available.
		want := []seen{{32, 0, 32}, {32, 0, 32}}
		if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Fatalf("callback saw %+v, want %+v", got, want)
		}
		if s.r.AvailableBytes() != 0 || s.r.ConsumerPosition() != 32 {
			t.Fatalf("after Consume: available %d, consumer position %d", s.r.AvailableBytes(), s.r.ConsumerPosition())
		}
	})
}

// TestNilHandler: Consume, ConsumeN and ConsumeWait with a nil function
// fail with EINVAL instead of panicking, and consume nothing.
func TestNilHandler(t *testing.T) {
	p, r, err := NewInMemory(os.Getpagesize())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := p.Write([]byte("record")); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() (int, error){
		"Consume":     func() (int, error) { return r.Consume(nil) },
		"ConsumeN":    func() (int, error) { return r.ConsumeN(3, nil) },
		"ConsumeWait": func() (int, error) { return r.ConsumeWait(context.Background(), nil) },
	}
	for name, call := range calls {
		if n, err := call(); n != 0 || !errors.Is(err, unix.EINVAL) {
			t.Errorf("%s(nil) = %d, %v, want 0, EINVAL", name, n, err)
		}
	}
	if r.AvailableBytes() == 0 {
		t.Fatal("a call with a nil handler consumed the record")
	}
}

// TestReserveNegative: the in-memory Producer refuses a negative size as
// invalid (EINVAL), not as "no space".
func TestReserveNegative(t *testing.T) {
	p, r, err := NewInMemory(os.Getpagesize())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, n := range []int{-1, -8, -1 << 40} {
		if _, err := p.Reserve(n); !errors.Is(err, unix.EINVAL) || errors.Is(err, sys.ErrFull) {
			t.Errorf("Reserve(%d): %v, want EINVAL", n, err)
		}
	}
}
