package userringbuf

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

// Many goroutines produce at once, blocking when the ring is full, while a
// consumer drains: every submitted sample arrives exactly once, intact,
// and each goroutine's samples in the order it reserved them; discarded
// ones never arrive.
func TestConcurrentProducers(t *testing.T) {
	testutil.CheckLeaks(t)
	const producers, perProducer = 8, 1500
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var (
			mu sync.Mutex
			w  want
			wg sync.WaitGroup
		)
		defer wg.Wait()
		defer tg.p.Close() // on failure, stop the producers before the test ends
		for g := range producers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perProducer {
					size := 8 + (g*31+i*13)%300
					s, err := tg.p.ReserveBlocking(context.Background(), size)
					if errors.Is(err, os.ErrClosed) {
						return
					} else if err != nil {
						t.Error(err)
						return
					}
					if i%5 == 4 {
						if err := s.Discard(); err != nil && !errors.Is(err, os.ErrClosed) {
							t.Error(err)
						}
						continue
					}
					mu.Lock()
					w.fill(s.Bytes(), uint32(g<<16|i))
					mu.Unlock()
					if err := s.Submit(); err != nil && !errors.Is(err, os.ErrClosed) {
						t.Error(err)
					}
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()

		var last progWant
		deadline := time.Now().Add(20 * time.Second)
		for finished := false; ; {
			select {
			case <-done:
				finished = true
			default:
			}
			r := tg.drain(t)
			if r.Bad != 0 || r.Ret < 0 {
				t.Fatalf("drain: %+v", r)
			}
			if r.Samples != last.samples {
				// A bound on a stall, not on the whole run: under
				// emulation (arm64 in the kernel matrix) the run
				// takes longer than 20 s while making progress.
				deadline = time.Now().Add(20 * time.Second)
			}
			last = progWant{r.Samples, r.Bytes, r.TailSum}
			if finished && last.samples == uint64(producers*perProducer*4/5) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("consumer saw no new sample for 20 s: %d samples, want %d", last.samples, producers*perProducer*4/5)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if last != (progWant{w.samples, w.bytes, w.tailSum}) {
			t.Fatalf("consumer saw %+v, producers wrote %+v", last, progWant{w.samples, w.bytes, w.tailSum})
		}
	})
}

type progWant struct{ samples, bytes, tailSum uint64 }

// The in-memory consumer also proves per-producer order and exactly-once.
func TestConcurrentOrder(t *testing.T) {
	const producers, perProducer = 6, 2000
	p, c := newInMemory(page)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer p.Close()
	for g := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b [16]byte
			for i := range perProducer {
				binary.LittleEndian.PutUint32(b[:], uint32(g))
				binary.LittleEndian.PutUint32(b[4:], uint32(i))
				s, err := p.ReserveBlocking(context.Background(), 16)
				if errors.Is(err, os.ErrClosed) {
					return
				} else if err != nil {
					t.Error(err)
					return
				}
				copy(s.Bytes(), b[:])
				s.Submit()
			}
		}()
	}
	next := make([]uint32, producers)
	seen := 0
	deadline := time.Now().Add(20 * time.Second)
	for seen < producers*perProducer && time.Now().Before(deadline) {
		_, err := c.Drain(func(s []byte) bool {
			g, i := binary.LittleEndian.Uint32(s), binary.LittleEndian.Uint32(s[4:])
			if len(s) != 16 || g >= producers {
				t.Fatalf("corrupt sample %x", s)
			}
			if i != next[g] {
				t.Fatalf("producer %d: sample %d arrived, want %d", g, i, next[g])
			}
			next[g]++
			seen++
			return true
		}, 0)
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if seen != producers*perProducer {
		t.Fatalf("saw %d samples, want %d", seen, producers*perProducer)
	}
}

// Close while goroutines reserve, fill and submit: they all end with
// os.ErrClosed, nothing crashes, no descriptor leaks.
func TestCloseUnderLoad(t *testing.T) {
	testutil.CheckLeaks(t)
	forEachTarget(t, page, func(t *testing.T, tg *target) {
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var w want
				for i := 0; ; i++ {
					s, err := tg.p.ReserveBlocking(context.Background(), 64)
					if err != nil {
						if !errors.Is(err, os.ErrClosed) {
							t.Error(err)
						}
						return
					}
					w.fill(s.Bytes(), uint32(i))
					if err := s.Submit(); err != nil && !errors.Is(err, os.ErrClosed) {
						t.Error(err)
					}
				}
			}()
		}
		go func() {
			for range 20 {
				tg.drain(t)
				time.Sleep(time.Millisecond)
			}
			tg.p.Close()
		}()
		wg.Wait()
		if _, err := tg.p.Reserve(8); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("reserve after Close: %v", err)
		}
		if r := tg.drain(t); r.Bad != 0 || r.Ret < 0 {
			t.Fatalf("drain after Close: %+v", r)
		}
	})
}

// Drain flags: unknown ones are refused; a second concurrent drain gets
// EBUSY.
func TestConsumerDrainRules(t *testing.T) {
	p, c := newInMemory(page)
	defer p.Close()
	if _, err := c.Drain(func([]byte) bool { return true }, 4); !errors.Is(err, unix.EINVAL) {
		t.Errorf("drain with flag 4: %v, want EINVAL", err)
	}
	p.Write(make([]byte, 8))
	var inner error
	c.Drain(func([]byte) bool {
		_, inner = c.Drain(func([]byte) bool { return true }, 0)
		return true
	}, 0)
	if !errors.Is(inner, unix.EBUSY) {
		t.Errorf("nested drain: %v, want EBUSY", inner)
	}
}
