package refs_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/refs"
	"github.com/bpfmaps/bpfmaps/sys"
)

// event is the record progs.EmitEvent writes: struct event { u64 time_ns;
// u32 cpu; u32 len; }.
type event struct {
	TimeNS uint64
	CPU    uint32
	Len    uint32
}

// packetLen is skb->len of progs.Run's 64-byte packet, once the kernel
// has taken the Ethernet header off.
const packetLen = 64 - 14

func monotonicNow() uint64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}

// newRing creates a ring and the program that writes one event to it per
// run.
func newRing(t testing.TB) (*mapops.Map, *sys.FD) {
	t.Helper()
	ring := newMap(t, unix.BPF_MAP_TYPE_RINGBUF, 0, 0, 64<<10)
	prog := kernelProg(t, func() (*sys.FD, error) { return progs.EmitEvent(ring.FD()) })
	return ring, prog
}

func startRing(t *testing.T) {
	t.Helper()
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveRingBuf)
}

func newRingRef(t *testing.T, ring *mapops.Map) *refs.RingBufRef[event] {
	t.Helper()
	r, err := refs.NewRingBufRef[event](ring)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestRingBufRefBlocksUntilKernelEvent(t *testing.T) {
	startRing(t)
	ring, prog := newRing(t)
	r := newRingRef(t, ring)
	before := monotonicNow()
	later(t, func() { runProg(t, prog) })
	var ev event
	var err error
	within(t, "Read", func() { ev, err = r.Read(context.Background()) })
	if err != nil || ev.TimeNS <= before || ev.Len != packetLen {
		t.Fatalf("Read = %+v, %v; want an event stamped after %d for a %d-byte packet", ev, err, before, packetLen)
	}
}

func TestRingBufRefReadsWhatIsThereFirst(t *testing.T) {
	startRing(t)
	ring, prog := newRing(t)
	for range 3 {
		runProg(t, prog)
	}
	// Opened after the events were written: they are returned without any
	// wake-up from the kernel, even with no time to wait.
	r := newRingRef(t, ring)
	var last uint64
	for i := range 3 {
		ev, ok, err := r.ReadTimeout(0)
		if !ok || err != nil || ev.TimeNS < last {
			t.Fatalf("ReadTimeout(0) #%d = %+v, %v, %v", i, ev, ok, err)
		}
		last = ev.TimeNS
	}
	t0 := time.Now()
	if _, ok, err := r.ReadTimeout(30 * time.Millisecond); ok || err != nil {
		t.Fatalf("ReadTimeout on an empty ring = %v, %v; want false, nil", ok, err)
	}
	if d := time.Since(t0); d < 30*time.Millisecond {
		t.Fatalf("ReadTimeout returned after %v, before its 30ms", d)
	}
	// A negative timeout waits without limit (see TestTimeoutRule).
	later(t, func() { runProg(t, prog) })
	var ok bool
	var err error
	within(t, "ReadTimeout(-1ms)", func() { _, ok, err = r.ReadTimeout(-time.Millisecond) })
	if !ok || err != nil {
		t.Fatalf("ReadTimeout(-1ms) = %v, %v; want an event written later", ok, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read with an expiring context = %v; want DeadlineExceeded", err)
	}
}

func TestRingBufRefBytesAndFunc(t *testing.T) {
	startRing(t)
	ring, prog := newRing(t)
	raw, err := refs.NewRingBufRef[[]byte](ring)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	runProg(t, prog)
	runProg(t, prog)
	a, _, err := raw.ReadTimeout(time.Second)
	if err != nil || len(a) != progs.EventSize {
		t.Fatalf("[]byte read = %x, %v; want %d bytes", a, err, progs.EventSize)
	}
	saved := string(a)
	if _, _, err := raw.ReadTimeout(time.Second); err != nil {
		t.Fatal(err)
	}
	if string(a) != saved {
		t.Fatal("a []byte event changed after the next read: it is not a copy")
	}

	raw.Close() // one consumer per ring in a process

	// A deserializer sees the bytes; its error is the read's.
	errBad := errors.New("bad event")
	fn, err := refs.NewRingBufRefFunc(ring, func(b []byte) (int, error) {
		if len(b) != progs.EventSize {
			return 0, errBad
		}
		return len(b), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer fn.Close()
	runProg(t, prog)
	if n, ok, err := fn.ReadTimeout(time.Second); n != progs.EventSize || !ok || err != nil {
		t.Fatalf("ReadTimeout with a deserializer = %d, %v, %v", n, ok, err)
	}
	fn.Close()
	small, err := refs.NewRingBufRef[uint64](ring)
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	runProg(t, prog)
	if _, _, err := small.ReadTimeout(time.Second); err == nil {
		t.Fatal("a 16-byte record read as an 8-byte type succeeded")
	}
}

func TestRingBufRefErrors(t *testing.T) {
	startRing(t)
	hash := newMap(t, unix.BPF_MAP_TYPE_HASH, 4, 8, 4)
	if _, err := refs.NewRingBufRef[[]byte](hash); err == nil {
		t.Error("RingBufRef over a hash map succeeded")
	}
	ring, _ := newRing(t)
	if _, err := refs.NewRingBufRefFunc[int](ring, nil); err == nil {
		t.Error("a nil deserializer was accepted")
	}
}

func TestRingBufRefCloseWakesBlocked(t *testing.T) {
	startRing(t)
	ring, _ := newRing(t)
	r := newRingRef(t, ring)
	const readers = 4 // one waits in epoll, the others for their turn
	errs := make(chan error, readers)
	for range readers {
		go func() {
			_, err := r.Read(context.Background())
			errs <- err
		}()
	}
	time.Sleep(50 * time.Millisecond)
	d := within(t, "Close and the wake-up of blocked Reads", func() {
		r.Close()
		for range readers {
			if err := <-errs; !errors.Is(err, os.ErrClosed) {
				t.Errorf("blocked Read after Close = %v; want os.ErrClosed", err)
			}
		}
	})
	t.Logf("%d blocked Reads returned %v after Close", readers, d)
	if _, err := r.Read(context.Background()); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Read after Close = %v; want os.ErrClosed", err)
	}
}

func TestRingBufRefSeqEndsOnTimeout(t *testing.T) {
	startRing(t)
	ring, prog := newRing(t)
	r := newRingRef(t, ring)
	if _, err := progs.Run(prog, 5); err != nil {
		t.Fatal(err)
	}
	n := 0
	within(t, "Seq", func() {
		seq, errf := r.Seq(context.Background(), 30*time.Millisecond)
		for range seq {
			n++
		}
		if err := errf(); err != nil {
			t.Error(err)
		}
	})
	if n != 5 {
		t.Fatalf("Seq yielded %d events, want 5", n)
	}
}

func TestRingBufRefConcurrentReaders(t *testing.T) {
	startRing(t)
	ring, prog := newRing(t)
	r := newRingRef(t, ring)
	const events = 1000
	var got atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq, errf := r.Seq(context.Background(), refs.Forever)
			for range seq {
				got.Add(1)
			}
			if err := errf(); err != nil {
				t.Error(err)
			}
		}()
	}
	for range events / 100 {
		if _, err := progs.Run(prog, 100); err != nil {
			t.Fatal(err)
		}
	}
	closeWhen(t, got.Load, events, r)
	wg.Wait()
	if got.Load() != events {
		t.Fatalf("readers got %d events, want %d", got.Load(), events)
	}
}

func TestRingBufRefChan(t *testing.T) {
	startRing(t)
	ring, prog := newRing(t)
	r := newRingRef(t, ring)
	ctx, cancel := context.WithCancel(context.Background())
	evs, errc := r.Chan(ctx)
	runProg(t, prog)
	select {
	case ev := <-evs:
		if ev.Len != packetLen {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event on the channel")
	}
	cancel()
	within(t, "Chan after cancel", func() {
		for range evs {
		}
	})
	if err := <-errc; err != nil {
		t.Fatalf("error after cancel = %v", err)
	}
}

// TestRingBufRefClosedDoesNotReplay: events a closed RingBufRef returned
// are consumed: the next reference gets the event after them. Before, the
// consumer position was not published on Close and each new reference
// got the same first events again.
func TestRingBufRefClosedDoesNotReplay(t *testing.T) {
	startRing(t)
	ring, prog := newRing(t)
	for range 9 {
		runProg(t, prog)
	}
	var seen []uint64
	for round := range 3 {
		r, err := refs.NewRingBufRef[event](ring)
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			e, ok, err := r.ReadTimeout(time.Second)
			if !ok || err != nil {
				t.Fatalf("reference %d: %v, %v", round, ok, err)
			}
			seen = append(seen, e.TimeNS)
		}
		r.Close()
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("event times %v: the references replayed events", seen)
		}
	}
}

// TestRingBufRefSkipBacklog: SkipBacklog drops the events already in the
// ring; the next Read returns one written after it.
func TestRingBufRefSkipBacklog(t *testing.T) {
	startRing(t)
	ring, prog := newRing(t)
	for range 4 {
		runProg(t, prog)
	}
	r := newRingRef(t, ring)
	if n, err := r.SkipBacklog(); n != 4 || err != nil {
		t.Fatalf("SkipBacklog = %d, %v; want 4", n, err)
	}
	after := monotonicNow()
	runProg(t, prog)
	e, ok, err := r.ReadTimeout(time.Second)
	if !ok || err != nil || e.TimeNS < after {
		t.Fatalf("read after SkipBacklog: %+v, %v, %v; want the event written after it", e, ok, err)
	}
	r.Close()
	if _, err := r.SkipBacklog(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("SkipBacklog after Close: %v", err)
	}
}

// TestRingBufRefRecordType: RecordType holds the event type against the
// program's C type: the test program's struct event { u64 time_ns; u32
// cpu; u32 len; } accepts event and refuses a type whose len is two bytes
// (padding keeps the size at 16, so a size check passes it).
func TestRingBufRefRecordType(t *testing.T) {
	startRing(t)
	ring, _ := newRing(t)
	dir := t.TempDir()
	src := dir + "/event.bpf.c"
	if err := os.WriteFile(src, []byte(`typedef unsigned int __u32;
typedef unsigned long long __u64;
struct event { __u64 time_ns; __u32 cpu; __u32 len; };
struct event event_example;
`), 0o644); err != nil {
		t.Fatal(err)
	}
	obj := testutil.CompileBPF(t, src)
	r, err := refs.NewRingBufRef[event](ring, refs.RecordType(obj, "struct event"))
	if err != nil {
		t.Fatalf("RecordType of the matching type: %v", err)
	}
	r.Close()
	type shortLen struct {
		TimeNS uint64
		CPU    uint32
		Len    uint16
	}
	if r, err := refs.NewRingBufRef[shortLen](ring, refs.RecordType(obj, "event")); err == nil || !strings.Contains(err.Error(), "Len") {
		if r != nil {
			r.Close()
		}
		t.Fatalf("RecordType of a type with a 2-byte len: %v; want a mismatch naming Len", err)
	}
	if r, err := refs.NewRingBufRef[[]byte](ring, refs.RecordType(obj, "event")); err == nil {
		r.Close()
		t.Fatal("RecordType with []byte events succeeded")
	}
}

// SeqDecode decodes one sequence with its own decoder (clj-ebpf's
// ringbuf-seq :deserializer) while the reference keeps its own for Read;
// a decode error ends the sequence and is reported; a nil decoder is an
// error, not a panic.
func TestRingBufRefSeqDecode(t *testing.T) {
	startRing(t)
	ring, prog := newRing(t)
	r := newRingRef(t, ring)
	for range 3 {
		runProg(t, prog)
	}
	seq, errf := refs.SeqDecode(context.Background(), r, 0, func(b []byte) (int, error) { return len(b), nil })
	var got []int
	for n := range seq {
		got = append(got, n)
		if len(got) == 2 {
			break
		}
	}
	if err := errf(); err != nil || len(got) != 2 || got[0] != progs.EventSize || got[1] != progs.EventSize {
		t.Fatalf("SeqDecode yielded %v, %v; want two records of %d bytes", got, err, progs.EventSize)
	}
	ev, ok, err := r.ReadTimeout(time.Second) // the reference's own decoder
	if err != nil || !ok || ev.Len != packetLen {
		t.Fatalf("ReadTimeout after SeqDecode = %+v, %v, %v; want the third event", ev, ok, err)
	}

	errBad := errors.New("bad record")
	runProg(t, prog)
	bad, errf := refs.SeqDecode(context.Background(), r, time.Second, func([]byte) (string, error) { return "", errBad })
	for v := range bad {
		t.Fatalf("SeqDecode yielded %q from a failing decoder", v)
	}
	if err := errf(); !errors.Is(err, errBad) {
		t.Fatalf("SeqDecode's error = %v, want %v", err, errBad)
	}

	seq, errf = refs.SeqDecode[event, int](context.Background(), r, 0, nil)
	for range seq {
		t.Fatal("SeqDecode with a nil decoder yielded")
	}
	if errf() == nil {
		t.Fatal("SeqDecode with a nil decoder reported no error")
	}
}
