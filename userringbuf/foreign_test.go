package userringbuf

import (
	"errors"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// TestForeignProducerMovesBack: another producer of the ring (in another
// process, which NewProducer cannot see) moves the producer position back
// under this one. Reserve, which waits for the position to reach its own
// reservation, must report ErrForeignProducer within seconds and keep
// reporting it, and Close must end a Reserve waiting there and return
// promptly itself, leaving no goroutine behind. Before, Reserve polled
// every 10 µs forever, also after Close.
func TestForeignProducerMovesBack(t *testing.T) {
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		goroutines := runtime.NumGoroutine()
		for range 2 {
			if err := tg.p.Write(make([]byte, 8)); err != nil {
				t.Fatal(err)
			}
		}
		atomic.StoreUint64(tg.p.r.prod, 16) // the foreign writer: 32 -> 16
		for i := range 2 {
			done := make(chan error, 1)
			go func() { _, err := tg.p.Reserve(8); done <- err }()
			select {
			case err := <-done:
				if !errors.Is(err, ErrForeignProducer) {
					t.Fatalf("Reserve %d after the position moved back: %v, want ErrForeignProducer", i, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("Reserve %d after the position moved back is still waiting after 30 s", i)
			}
		}
		if _, err := tg.p.WriteBatch([][]byte{{1}}); !errors.Is(err, ErrForeignProducer) {
			t.Errorf("WriteBatch after the position moved back: %v, want ErrForeignProducer", err)
		}
		closed := make(chan struct{})
		go func() { tg.p.Close(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("Close after the position moved back did not return within 5 s")
		}
		waitGoroutines(t, goroutines)
	})
}

// TestCloseEndsForeignWait: Close ends a Reserve that waits for a position
// a foreign writer moved back, at once.
func TestCloseEndsForeignWait(t *testing.T) {
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		goroutines := runtime.NumGoroutine()
		if err := tg.p.Write(make([]byte, 8)); err != nil {
			t.Fatal(err)
		}
		atomic.StoreUint64(tg.p.r.prod, 0)
		done := make(chan error, 1)
		go func() { _, err := tg.p.Reserve(8); done <- err }()
		time.Sleep(50 * time.Millisecond) // into the wait
		start := time.Now()
		tg.p.Close()
		select {
		case err := <-done:
			if !errors.Is(err, os.ErrClosed) && !errors.Is(err, ErrForeignProducer) {
				t.Fatalf("Reserve ended by Close: %v, want os.ErrClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Reserve still waiting 5 s after Close")
		}
		t.Logf("Close and the wait's end took %v", time.Since(start))
		waitGoroutines(t, goroutines)
	})
}

// waitGoroutines waits up to 5 s for the number of goroutines to fall
// back to n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
	}
}
