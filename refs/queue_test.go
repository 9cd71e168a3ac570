package refs_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/refs"
	"github.com/bpfmaps/bpfmaps/sys"
)

// popper is what QueueRef, StackRef and the channels share.
type popper interface {
	Pop(context.Context) (uint64, error)
	PopTimeout(time.Duration) (uint64, bool, error)
	Close() error
}

type pusher interface {
	Push(uint64) error
	Peek() (uint64, bool, error)
	Close() error
}

// queueStackCase builds a reader and a writer over one fresh queue or stack.
type queueStackCase struct {
	name   string
	typ    sys.MapType
	lifo   bool
	reader func(*mapops.Map, ...refs.Option) (popper, error)
	writer func(*mapops.Map) (pusher, error)
}

var queueStackCases = []queueStackCase{
	{"queue", unix.BPF_MAP_TYPE_QUEUE, false,
		func(m *mapops.Map, o ...refs.Option) (popper, error) { return refs.NewQueueRef[uint64](m, o...) },
		func(m *mapops.Map) (pusher, error) { return refs.NewQueueWriter[uint64](m) }},
	{"stack", unix.BPF_MAP_TYPE_STACK, true,
		func(m *mapops.Map, o ...refs.Option) (popper, error) { return refs.NewStackRef[uint64](m, o...) },
		func(m *mapops.Map) (pusher, error) { return refs.NewStackWriter[uint64](m) }},
	{"queue channel", unix.BPF_MAP_TYPE_QUEUE, false,
		func(m *mapops.Map, o ...refs.Option) (popper, error) { return refs.NewQueueChannel[uint64](m, o...) },
		func(m *mapops.Map) (pusher, error) { return refs.NewQueueChannel[uint64](m) }},
	{"stack channel", unix.BPF_MAP_TYPE_STACK, true,
		func(m *mapops.Map, o ...refs.Option) (popper, error) { return refs.NewStackChannel[uint64](m, o...) },
		func(m *mapops.Map) (pusher, error) { return refs.NewStackChannel[uint64](m) }},
}

func (c queueStackCase) open(t *testing.T, max uint32, opts ...refs.Option) (*mapops.Map, popper, pusher) {
	t.Helper()
	m := newMap(t, c.typ, 0, 8, max)
	r, err := c.reader(m, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	w, err := c.writer(m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return m, r, w
}

func TestQueueStackOrder(t *testing.T) {
	for _, c := range queueStackCases {
		t.Run(c.name, func(t *testing.T) {
			start(t)
			_, r, w := c.open(t, 8)
			if _, ok, err := w.Peek(); ok || err != nil {
				t.Fatalf("Peek of an empty map = ok %v, err %v; want false, nil", ok, err)
			}
			for i := uint64(1); i <= 5; i++ {
				if err := w.Push(i * 10); err != nil {
					t.Fatal(err)
				}
			}
			want := []uint64{10, 20, 30, 40, 50}
			if c.lifo {
				slices.Reverse(want)
			}
			if v, ok, err := w.Peek(); v != want[0] || !ok || err != nil {
				t.Fatalf("Peek = %d, %v, %v; want %d, true, nil", v, ok, err, want[0])
			}
			var got []uint64
			for range want {
				v, err := r.Pop(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, v)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("popped %v, want %v", got, want)
			}
		})
	}
}

func TestQueueStackBlocksUntilGoroutinePush(t *testing.T) {
	for _, c := range queueStackCases {
		t.Run(c.name, func(t *testing.T) {
			start(t)
			_, r, w := c.open(t, 8)
			later(t, func() { w.Push(42) })
			var v uint64
			var err error
			within(t, "Pop", func() { v, err = r.Pop(context.Background()) })
			if v != 42 || err != nil {
				t.Fatalf("Pop = %d, %v; want 42, nil", v, err)
			}
		})
	}
}

func TestQueueStackBlocksUntilKernelPush(t *testing.T) {
	for _, c := range queueStackCases {
		t.Run(c.name, func(t *testing.T) {
			start(t)
			m, r, _ := c.open(t, 8)
			prog := kernelProg(t, func() (*sys.FD, error) { return progs.PushTime(m.FD()) })
			var before unix.Timespec
			unix.ClockGettime(unix.CLOCK_MONOTONIC, &before)
			later(t, func() { runProg(t, prog) })
			var v uint64
			var err error
			within(t, "Pop", func() { v, _, err = r.PopTimeout(5 * time.Second) })
			if err != nil || v <= uint64(before.Nano()) {
				t.Fatalf("Pop = %d, %v; want a kernel time after %d", v, err, before.Nano())
			}
		})
	}
}

func TestQueueStackTimeout(t *testing.T) {
	for _, c := range queueStackCases {
		t.Run(c.name, func(t *testing.T) {
			start(t)
			_, r, w := c.open(t, 8)
			t0 := time.Now()
			v, ok, err := r.PopTimeout(30 * time.Millisecond)
			if ok || err != nil || v != 0 {
				t.Fatalf("PopTimeout on empty = %d, %v, %v; want 0, false, nil", v, ok, err)
			}
			if d := time.Since(t0); d < 30*time.Millisecond {
				t.Fatalf("PopTimeout returned after %v, before its 30ms", d)
			}
			if _, ok, err := r.PopTimeout(0); ok || err != nil {
				t.Fatalf("PopTimeout(0) on empty = %v, %v; want false, nil", ok, err)
			}
			w.Push(7)
			if v, ok, err := r.PopTimeout(0); v != 7 || !ok || err != nil {
				t.Fatalf("PopTimeout(0) = %d, %v, %v; want 7, true, nil", v, ok, err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			if _, err := r.Pop(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Pop with an expiring context = %v; want DeadlineExceeded", err)
			}
		})
	}
}

func TestQueueStackCloseWakesBlocked(t *testing.T) {
	for _, c := range queueStackCases {
		t.Run(c.name, func(t *testing.T) {
			start(t)
			// A long poll interval: only Close can end these waits soon.
			_, r, w := c.open(t, 8, refs.PollInterval(time.Hour))
			const waiters = 4
			errs := make(chan error, waiters)
			for range waiters {
				go func() {
					_, err := r.Pop(context.Background())
					errs <- err
				}()
			}
			time.Sleep(50 * time.Millisecond)
			d := within(t, "Close and the wake-up of blocked Pops", func() {
				r.Close()
				for range waiters {
					if err := <-errs; !errors.Is(err, os.ErrClosed) || !strings.Contains(err.Error(), "reference is closed") {
						t.Errorf("blocked Pop after Close = %v; want os.ErrClosed", err)
					}
				}
			})
			t.Logf("%d blocked Pops returned %v after Close", waiters, d)
			if _, err := r.Pop(context.Background()); !errors.Is(err, os.ErrClosed) {
				t.Errorf("Pop after Close = %v; want os.ErrClosed", err)
			}
			if err := r.Close(); err != nil {
				t.Errorf("second Close = %v", err)
			}
			_ = w
		})
	}
}

func TestQueueStackPushWakesAtOnce(t *testing.T) {
	// With an hour-long poll interval only the in-process wake-up can
	// deliver the value within the test's bound.
	start(t)
	c := queueStackCases[0]
	_, r, w := c.open(t, 8, refs.PollInterval(time.Hour))
	later(t, func() { w.Push(9) })
	var v uint64
	var err error
	within(t, "Pop woken by Push", func() { v, err = r.Pop(context.Background()) })
	if v != 9 || err != nil {
		t.Fatalf("Pop = %d, %v", v, err)
	}
}

func TestQueueStackSeqEndsOnTimeout(t *testing.T) {
	start(t)
	m := newMap(t, unix.BPF_MAP_TYPE_QUEUE, 0, 8, 8)
	q, err := refs.NewQueueChannel[uint64](m)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for i := range uint64(3) {
		q.Push(i)
	}
	var got []uint64
	within(t, "Seq", func() {
		seq, errf := q.Seq(context.Background(), 30*time.Millisecond)
		for v := range seq {
			got = append(got, v)
		}
		if err := errf(); err != nil {
			t.Errorf("Seq error: %v", err)
		}
	})
	if !slices.Equal(got, []uint64{0, 1, 2}) {
		t.Fatalf("Seq yielded %v, want [0 1 2]", got)
	}
	// Breaking out early stops the pops.
	q.Push(5)
	q.Push(6)
	seq, _ := q.Seq(context.Background(), 0)
	for range seq {
		break
	}
	if v, ok, _ := q.Peek(); !ok || v != 6 {
		t.Fatalf("after one Seq step the front is %d (ok %v), want 6", v, ok)
	}
	// Close ends a Seq blocked without a timeout, quietly.
	n := 0
	within(t, "Seq ended by Close", func() {
		seq, errf := q.Seq(context.Background(), refs.Forever)
		for range seq {
			if n++; n == 1 {
				later(t, func() { q.Close() })
			}
		}
		if err := errf(); err != nil {
			t.Errorf("Seq error after Close: %v", err)
		}
	})
	if n != 1 {
		t.Fatalf("Seq yielded %d values before Close, want 1", n)
	}
}

func TestQueueStackChan(t *testing.T) {
	start(t)
	m := newMap(t, unix.BPF_MAP_TYPE_STACK, 0, 8, 8)
	s, err := refs.NewStackChannel[uint64](m)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	vals, errc := s.Chan(ctx)
	s.Push(1)
	if v := <-vals; v != 1 {
		t.Fatalf("got %d, want 1", v)
	}
	s.Push(2)
	if v := <-vals; v != 2 {
		t.Fatalf("got %d, want 2", v)
	}
	cancel()
	within(t, "Chan after cancel", func() {
		for range vals {
		}
	})
	if err := <-errc; err != nil {
		t.Fatalf("error channel after cancel = %v, want nil", err)
	}

	// Close ends it too.
	vals, errc = s.Chan(context.Background())
	s.Close()
	within(t, "Chan after Close", func() {
		for range vals {
		}
	})
	if err := <-errc; err != nil {
		t.Fatalf("error channel after Close = %v, want nil", err)
	}
}

func TestQueueStackConcurrentPops(t *testing.T) {
	// Every value goes to exactly one of several concurrent Pops.
	start(t)
	m := newMap(t, unix.BPF_MAP_TYPE_QUEUE, 0, 8, 1024)
	q, err := refs.NewQueueChannel[uint64](m, refs.PollInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	const n = 1000
	var mu sync.Mutex
	seen := map[uint64]int{}
	var popped atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq, errf := q.Seq(context.Background(), refs.Forever)
			for v := range seq {
				mu.Lock()
				seen[v]++
				mu.Unlock()
				popped.Add(1)
			}
			if err := errf(); err != nil {
				t.Error(err)
			}
		}()
	}
	for i := range uint64(n) {
		if err := q.Push(i); err != nil {
			t.Fatal(err)
		}
	}
	closeWhen(t, popped.Load, n, q)
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("popped %d distinct values, want %d", len(seen), n)
	}
	for v, c := range seen {
		if c != 1 {
			t.Fatalf("value %d popped %d times", v, c)
		}
	}
}

func TestQueueStackErrors(t *testing.T) {
	start(t)
	queue := newMap(t, unix.BPF_MAP_TYPE_QUEUE, 0, 8, 2)
	stack := newMap(t, unix.BPF_MAP_TYPE_STACK, 0, 8, 2)
	if _, err := refs.NewStackRef[uint64](queue); err == nil {
		t.Error("StackRef over a queue succeeded")
	}
	if _, err := refs.NewQueueWriter[uint64](stack); err == nil {
		t.Error("QueueWriter over a stack succeeded")
	}
	if _, err := refs.NewQueueRef[uint32](queue); err == nil {
		t.Error("QueueRef[uint32] over 8-byte values succeeded")
	}
	if _, err := refs.NewQueueRef[uint64](queue, refs.PollInterval(0)); err == nil {
		t.Error("a zero poll interval was accepted")
	}
	if _, err := refs.NewQueueRef[uint64](nil); err == nil {
		t.Error("a nil map was accepted")
	}
	w, err := refs.NewQueueWriter[uint64](queue)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Push(1)
	w.Push(2)
	if err := w.Push(3); !errors.Is(err, unix.E2BIG) {
		t.Errorf("Push onto a full queue = %v; want E2BIG", err)
	}
	w.Close()
	if err := w.Push(4); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Push after Close = %v; want os.ErrClosed", err)
	}
}

// TestTimeoutRule holds every timeout of the package to one rule: a
// negative duration waits without limit (Forever, and libbpf's -1 ms), zero
// does not wait, a positive one waits up to that long.
func TestTimeoutRule(t *testing.T) {
	start(t)
	m := newMap(t, unix.BPF_MAP_TYPE_QUEUE, 0, 8, 8)
	q, err := refs.NewQueueChannel[uint64](m, refs.PollInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for _, d := range []time.Duration{refs.Forever, -time.Millisecond, -time.Hour} {
		later(t, func() { q.Push(uint64(-d)) })
		var v uint64
		var ok bool
		within(t, "PopTimeout("+d.String()+")", func() { v, ok, err = q.PopTimeout(d) })
		if v != uint64(-d) || !ok || err != nil {
			t.Errorf("PopTimeout(%v) = %d, %v, %v; want %d, true, nil: a negative timeout waits without limit", d, v, ok, err, uint64(-d))
		}
	}

	// Seq with a zero timeout takes what is there and ends at once.
	for i := range uint64(3) {
		q.Push(i)
	}
	var got []uint64
	within(t, "Seq(ctx, 0)", func() {
		seq, errf := q.Seq(context.Background(), 0)
		for v := range seq {
			got = append(got, v)
		}
		if err := errf(); err != nil {
			t.Error(err)
		}
	})
	if !slices.Equal(got, []uint64{0, 1, 2}) {
		t.Errorf("Seq(ctx, 0) yielded %v, want [0 1 2]", got)
	}

	mw := newMap(t, unix.BPF_MAP_TYPE_HASH, 4, 8, 4)
	w, err := refs.NewMapWatcher[uint32, uint64](mw, 1, refs.PollInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	later(t, func() { rawUpdate(t, mw, 1, 7) })
	var v uint64
	var ok bool
	within(t, "WaitTimeout(-1ms)", func() { v, ok, err = w.WaitTimeout(-time.Millisecond) })
	if v != 7 || !ok || err != nil {
		t.Errorf("WaitTimeout(-1ms) = %d, %v, %v; want 7, true, nil", v, ok, err)
	}
}

// TestSeqTimeoutValue: clj-ebpf's :timeout-val. A step that times out
// yields the placeholder and the sequence goes on, for queues and stacks
// and for change watchers; a break or Close ends it.
func TestSeqTimeoutValue(t *testing.T) {
	start(t)
	m := newMap(t, unix.BPF_MAP_TYPE_QUEUE, 0, 8, 8)
	q, err := refs.NewQueueChannel[uint64](m)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	q.Push(1)
	var got []uint64
	within(t, "SeqTimeoutValue", func() {
		seq, errf := q.SeqTimeoutValue(context.Background(), 10*time.Millisecond, 999)
		for v := range seq {
			got = append(got, v)
			switch len(got) {
			case 2:
				q.Push(2) // after the placeholder, a value again
			case 4:
				q.Close() // ends it quietly
			}
		}
		if err := errf(); err != nil {
			t.Error(err)
		}
	})
	if !slices.Equal(got, []uint64{1, 999, 2, 999}) {
		t.Errorf("SeqTimeoutValue yielded %v, want [1 999 2 999]", got)
	}

	a := newMap(t, unix.BPF_MAP_TYPE_ARRAY, 4, 8, 1)
	w, err := refs.NewChangeWatcherFrom(a, uint32(0), uint64(0), refs.PollInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	got = got[:0]
	within(t, "ChangeWatcher.SeqTimeoutValue", func() {
		seq, errf := w.SeqTimeoutValue(context.Background(), 10*time.Millisecond, 999)
		for v := range seq {
			if got = append(got, v); len(got) == 1 {
				rawUpdate(t, a, 0, 5)
			}
			if len(got) == 2 {
				break
			}
		}
		if err := errf(); err != nil {
			t.Error(err)
		}
	})
	if !slices.Equal(got, []uint64{999, 5}) {
		t.Errorf("ChangeWatcher.SeqTimeoutValue yielded %v, want [999 5]", got)
	}
}
