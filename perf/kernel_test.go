package perf

import (
	"bytes"
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// newArray creates a perf event array of entries entries (the possible
// CPUs when 0), closed at the end of the test.
func newArray(t testing.TB, entries int) *mapops.Map {
	t.Helper()
	testutil.RequireBPF(t)
	if entries == 0 {
		n, err := sys.PossibleCPUs()
		if err != nil {
			t.Fatal(err)
		}
		entries = n
	}
	m, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_PERF_EVENT_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: uint32(entries), Name: "perf_test"})
	if err != nil {
		t.Fatalf("create perf event array: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func newReader(t testing.TB, m *mapops.Map, opts ...Option) *Reader {
	t.Helper()
	r, err := NewReader(m, opts...)
	if err != nil {
		if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			testutil.Skip(t, testutil.NoPrivilege, err.Error())
		}
		t.Fatalf("NewReader: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func newWriter(t testing.TB, m *mapops.Map) *progs.PerfWriter {
	t.Helper()
	w, err := progs.NewPerfWriter(m.FD())
	if err != nil {
		t.Fatalf("perf writer: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// onCPU runs the calling goroutine's thread on cpu only until the test
// ends, so that BPF_F_CURRENT_CPU picks that CPU's ring.
func onCPU(t testing.TB, cpu int) {
	t.Helper()
	runtime.LockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		t.Fatal(err)
	}
	set.Set(cpu)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("pin to cpu %d: %v", cpu, err)
	}
	t.Cleanup(func() {
		unix.SchedSetaffinity(0, &old)
		runtime.UnlockOSThread()
	})
}

// drained is a context that has ended: a read with it returns what the
// rings hold and then ctx.Err() instead of waiting.
func drained() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// paddedLen is the length of the RawSample of a sample of n bytes: the
// kernel pads the 4-byte size and the data to a multiple of 8.
func paddedLen(n int) int { return (n+4+7)&^7 - 4 }

// sameSample reports whether got is the RawSample of raw: raw followed by
// the padding, whose bytes the kernel does not write (it steps over
// them, so they hold whatever the ring held there before).
func sameSample(got, raw []byte) bool {
	return len(got) == paddedLen(len(raw)) && bytes.Equal(got[:len(raw)], raw)
}

// TestSamplesEveryCPU writes samples with bpf_perf_event_output
// (BPF_F_CURRENT_CPU) from each online CPU in turn and reads each one
// once, from the right CPU, in the order written, byte for byte.
func TestSamplesEveryCPU(t *testing.T) {
	testutil.CheckLeaks(t)
	m := newArray(t, 0)
	r := newReader(t, m)
	w := newWriter(t, m)
	const n = 20
	want := map[int][][]byte{}
	t.Run("write", func(t *testing.T) {
		for _, cpu := range r.CPUs() {
			onCPU(t, cpu)
			for i := range n {
				raw := []byte{byte(cpu), byte(i), 0xaa, 0xbb, 0xcc, byte(i * 3), 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77}
				if ret, err := w.Output(raw, len(raw), progs.CurrentCPU, 1); err != nil || ret != 0 {
					t.Fatalf("cpu %d sample %d: %d, %v", cpu, i, ret, err)
				}
				want[cpu] = append(want[cpu], raw)
			}
		}
	})
	got := map[int][][]byte{}
	var rec Record
	for range n * len(r.CPUs()) {
		if err := r.ReadInto(drained(), &rec); err != nil {
			t.Fatalf("read after %v: %v", got, err)
		}
		if rec.LostSamples != 0 {
			t.Fatalf("lost %d samples", rec.LostSamples)
		}
		got[rec.CPU] = append(got[rec.CPU], bytes.Clone(rec.RawSample))
	}
	if err := r.ReadInto(drained(), &rec); !errors.Is(err, context.Canceled) {
		t.Fatalf("read of empty rings: %v, %+v; want context.Canceled", err, rec)
	}
	for _, cpu := range r.CPUs() {
		if len(got[cpu]) != n {
			t.Fatalf("cpu %d: %d samples, want %d", cpu, len(got[cpu]), n)
		}
		for i := range n {
			if !sameSample(got[cpu][i], want[cpu][i]) {
				t.Fatalf("cpu %d sample %d: %x, want %x", cpu, i, got[cpu][i], want[cpu][i])
			}
		}
	}
	if r.Lost() != 0 {
		t.Fatalf("Lost = %d", r.Lost())
	}
}

// TestWrapAround writes samples of 1000 bytes into one-page rings, reading
// each batch before the next, so that records straddle the end of the data
// area at several offsets; each must come back byte for byte.
func TestWrapAround(t *testing.T) {
	testutil.CheckLeaks(t)
	m := newArray(t, 0)
	page := os.Getpagesize()
	r := newReader(t, m, RingSize(page))
	w := newWriter(t, m)
	onCPU(t, r.CPUs()[0])
	var rec Record
	for round := range 3 * page / 1000 {
		var want [][]byte
		for i := range 3 {
			raw := make([]byte, 1000)
			for j := range raw {
				raw[j] = byte(round*31 + i*7 + j)
			}
			if ret, err := w.Output(raw, len(raw), progs.CurrentCPU, 1); err != nil || ret != 0 {
				t.Fatalf("round %d sample %d: %d, %v", round, i, ret, err)
			}
			want = append(want, raw)
		}
		for i := range want {
			if err := r.ReadInto(drained(), &rec); err != nil {
				t.Fatalf("round %d read %d: %v", round, i, err)
			}
			if !sameSample(rec.RawSample, want[i]) {
				t.Fatalf("round %d sample %d differs (len %d, want %d)", round, i, len(rec.RawSample), paddedLen(len(want[i])))
			}
		}
	}
}

// TestLostSamples overruns a one-page ring and checks that the lost record
// the kernel writes once there is room again carries exactly the number of
// writes that failed, and that Lost and LostByCPU count it.
func TestLostSamples(t *testing.T) {
	testutil.CheckLeaks(t)
	m := newArray(t, 0)
	r := newReader(t, m, RingSize(os.Getpagesize()))
	w := newWriter(t, m)
	cpu := r.CPUs()[len(r.CPUs())-1]
	onCPU(t, cpu)
	raw := make([]byte, 64)
	const runs = 200
	if _, err := w.Output(raw, len(raw), progs.CurrentCPU, runs); err != nil {
		t.Fatal(err)
	}
	dropped, err := w.Dropped()
	if err != nil {
		t.Fatal(err)
	}
	if dropped == 0 || dropped >= runs {
		t.Fatalf("%d of %d writes failed: the ring did not overrun", dropped, runs)
	}
	var rec Record
	samples := 0
	for {
		err := r.ReadInto(drained(), &rec)
		if errors.Is(err, context.Canceled) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec.LostSamples != 0 {
			t.Fatalf("lost record before the ring had room: %+v", rec)
		}
		samples++
	}
	if samples+int(dropped) != runs {
		t.Fatalf("%d samples read and %d dropped, want %d in all", samples, dropped, runs)
	}
	// The kernel reports the loss with the next write that fits.
	if ret, err := w.Output(raw, len(raw), progs.CurrentCPU, 1); err != nil || ret != 0 {
		t.Fatalf("write after drain: %d, %v", ret, err)
	}
	if err := r.ReadInto(drained(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.LostSamples != dropped || rec.CPU != cpu || len(rec.RawSample) != 0 {
		t.Fatalf("got %+v, want a lost record of %d samples on cpu %d", rec, dropped, cpu)
	}
	if err := r.ReadInto(drained(), &rec); err != nil || rec.LostSamples != 0 || !sameSample(rec.RawSample, raw) {
		t.Fatalf("after the lost record: %+v, %v; want the sample", rec, err)
	}
	if r.Lost() != dropped || r.LostByCPU()[cpu] != dropped {
		t.Fatalf("Lost %d, LostByCPU %v; want %d on cpu %d", r.Lost(), r.LostByCPU(), dropped, cpu)
	}
}

// TestBlockedReadWokenBySample: a Read asleep in epoll returns the sample
// a program writes.
func TestBlockedReadWokenBySample(t *testing.T) {
	testutil.CheckLeaks(t)
	m := newArray(t, 0)
	r := newReader(t, m)
	w := newWriter(t, m)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rec, err := r.Read(ctx)
		if err == nil && !sameSample(rec.RawSample, []byte("wake")) {
			err = errors.New("wrong sample " + string(rec.RawSample))
		}
		done <- err
	}()
	waitSleeping(t, r)
	if _, err := w.Output([]byte("wake"), 4, progs.CurrentCPU, 1); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The wake-up was consumed: an idle wait sleeps instead of spinning
	// on a descriptor that stays ready. (A deadline, not a context's: a
	// context's deadline passes before its timer ends it, and epoll's
	// Wait returns at once in between.)
	gen := r.poll.Gen()
	r.SetDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := r.Read(context.Background()); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("idle read: %v", err)
	}
	if woken := r.poll.Gen() - gen; woken > 3 {
		t.Fatalf("an idle read woke %d times in 100ms", woken)
	}
}

func waitSleeping(t testing.TB, r *Reader) {
	t.Helper()
	for start := time.Now(); !r.poll.Sleeping(); time.Sleep(time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal("reader did not go to sleep")
		}
	}
}

// TestCloseWakesReaders: Close makes every blocked Read return an error
// wrapping os.ErrClosed within a second, removes the Reader's entries from
// the map (a delete finds none, and the program's writes fail with
// -ENOENT), and leaves no descriptor or mapping behind.
func TestCloseWakesReaders(t *testing.T) {
	testutil.CheckLeaks(t)
	maps := perfMappings(t)
	m := newArray(t, 0)
	r, err := NewReader(m)
	if err != nil {
		t.Fatal(err)
	}
	w := newWriter(t, m)
	if got := perfMappings(t); got != maps+len(r.CPUs()) {
		t.Fatalf("%d perf mappings, want %d", got, maps+len(r.CPUs()))
	}
	const readers = 3
	done := make(chan error, readers)
	for range readers {
		go func() {
			_, err := r.Read(context.Background())
			done <- err
		}()
	}
	waitSleeping(t, r)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(time.Second)
	for range readers {
		select {
		case err := <-done:
			if !errors.Is(err, os.ErrClosed) {
				t.Fatalf("blocked read: %v, want os.ErrClosed", err)
			}
		case <-timeout:
			t.Fatal("a blocked read did not return within a second of Close")
		}
	}
	if _, err := r.Read(drained()); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("read after Close: %v", err)
	}
	if err := r.SetDeadline(time.Now()); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("SetDeadline after Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if ret, err := w.Output([]byte("x"), 1, progs.CurrentCPU, 1); err != nil || ret != -int64(unix.ENOENT) {
		t.Fatalf("write after Close: %d, %v; want -ENOENT (no event in the map)", ret, err)
	}
	for cpu := range int(m.MaxEntries()) {
		if err := m.DeleteInt(uint64(cpu)); !errors.Is(err, sys.ErrKeyNotExist) {
			t.Fatalf("delete of cpu %d after Close: %v, want ErrKeyNotExist", cpu, err)
		}
	}
	if got := perfMappings(t); got != maps {
		t.Fatalf("%d perf mappings after Close, want %d", got, maps)
	}
}

// perfMappings counts this process's mappings of perf event rings.
func perfMappings(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "[perf_event]")
}

// TestDeadlineAndContext: a blocked read ends with the deadline or the
// context.
func TestDeadlineAndContext(t *testing.T) {
	testutil.CheckLeaks(t)
	m := newArray(t, 0)
	r := newReader(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := r.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read with a context: %v", err)
	}
	if err := r.SetDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(context.Background()); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read with a deadline: %v", err)
	}
}

// TestBadInput: sizes and maps NewReader must refuse with a named error,
// leaving nothing behind. Ring sizes are checked before anything else, so
// a nil map still gets the size error.
func TestBadInput(t *testing.T) {
	testutil.CheckLeaks(t)
	page := os.Getpagesize()
	for _, size := range []int{0, -page, 1, page + 1, 3 * page, MaxRingSize * 2, -1 << 62} {
		if _, err := NewReader(nil, RingSize(size)); !errors.Is(err, ErrRingSize) || !errors.Is(err, unix.EINVAL) {
			t.Errorf("ring size %d: %v, want ErrRingSize", size, err)
		}
	}
	for _, opt := range []Option{WakeupEvents(0), WakeupEvents(-1), Watermark(0), Watermark(2 * DefaultRingSize)} {
		if _, err := NewReader(nil, opt); !errors.Is(err, unix.EINVAL) {
			t.Errorf("wake-up option: %v, want EINVAL", err)
		}
	}
	if _, err := NewReader(nil); !errors.Is(err, os.ErrInvalid) {
		t.Errorf("nil map: %v", err)
	}
	testutil.RequireBPF(t)
	arr, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_ARRAY, KeySize: 4, ValueSize: 4, MaxEntries: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer arr.Close()
	if _, err := NewReader(arr); !errors.Is(err, unix.EINVAL) || !strings.Contains(err.Error(), "not a perf_event_array") {
		t.Errorf("array map: %v", err)
	}
	closed := newArray(t, 0)
	closed.Close()
	if _, err := NewReader(closed); !errors.Is(err, os.ErrClosed) {
		t.Errorf("closed map: %v", err)
	}
	online, err := sys.OnlineCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if last := online[len(online)-1]; last > 0 {
		small := newArray(t, last)
		if _, err := NewReader(small); !errors.Is(err, ErrTooFewEntries) {
			t.Errorf("map of %d entries with CPU %d online: %v, want ErrTooFewEntries", last, last, err)
		}
	}
}

// TestSecondReaderRefused: two Readers of one map would replace each
// other's descriptors; the second is refused until the first closes.
func TestSecondReaderRefused(t *testing.T) {
	testutil.CheckLeaks(t)
	m := newArray(t, 0)
	r := newReader(t, m)
	if _, err := NewReader(m); !errors.Is(err, unix.EBUSY) {
		t.Fatalf("second reader: %v, want EBUSY", err)
	}
	r.Close()
	r2 := newReader(t, m)
	r2.Close()
}

// TestReadOnlyDescriptor: a read-only descriptor of the map is refused
// with EACCES before any perf event is opened (storing one would fail
// after all the setup), and nothing is left: no descriptor, no mapping,
// no claim on the map.
func TestReadOnlyDescriptor(t *testing.T) {
	testutil.CheckLeaks(t)
	maps := perfMappings(t)
	m := newArray(t, 0)
	ro, err := sys.MapGetFDByID(m.ID(), unix.BPF_F_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	rom, err := mapops.FromFD(ro.Int())
	if err != nil {
		t.Fatal(err)
	}
	defer rom.Close()
	if _, err := NewReader(rom); !errors.Is(err, unix.EACCES) || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("reader through a read-only descriptor: %v, want EACCES naming the read-only descriptor", err)
	}
	if got := perfMappings(t); got != maps {
		t.Fatalf("%d perf mappings after a failed NewReader, want %d", got, maps)
	}
	newReader(t, m).Close() // the map is not left claimed
}

// TestReadIntoAllocatesNothing: a loop of ReadInto over samples in the
// rings allocates nothing.
func TestReadIntoAllocatesNothing(t *testing.T) {
	testutil.CheckLeaks(t)
	m := newArray(t, 0)
	r := newReader(t, m)
	w := newWriter(t, m)
	onCPU(t, r.CPUs()[0])
	if _, err := w.Output(make([]byte, 60), 60, progs.CurrentCPU, 100); err != nil {
		t.Fatal(err)
	}
	rec := Record{RawSample: make([]byte, 0, 64)}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(50, func() {
		if err := r.ReadInto(ctx, &rec); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 && !testutil.RaceEnabled { // the race detector allocates
		t.Fatalf("ReadInto: %v allocations per call", allocs)
	}
}

// BenchmarkReadInto reads samples of 64 bytes that a program wrote, the
// writes untimed.
func BenchmarkReadInto(b *testing.B) {
	m := newArray(b, 0)
	r := newReader(b, m, RingSize(1<<20))
	w := newWriter(b, m)
	onCPU(b, r.CPUs()[0])
	rec := Record{RawSample: make([]byte, 0, 128)}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		b.StopTimer()
		batch := min(b.N-i, 1000)
		if _, err := w.Output(make([]byte, 64), 64, progs.CurrentCPU, batch); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for range batch {
			if err := r.ReadInto(ctx, &rec); err != nil {
				b.Fatal(err)
			}
		}
		i += batch
	}
}

// TestCountersDuringClose: Lost, LostByCPU and CPUs may be called while
// another goroutine closes the Reader, and after.
func TestCountersDuringClose(t *testing.T) {
	testutil.CheckLeaks(t)
	m := newArray(t, 0)
	r, err := NewReader(m)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if r.Lost() != 0 || len(r.LostByCPU()) == 0 || len(r.CPUs()) == 0 {
				t.Error("counters changed without a lost record")
				return
			}
		}
	}()
	time.Sleep(10 * time.Millisecond)
	r.Close()
	close(stop)
	<-done
	if r.Lost() != 0 {
		t.Fatalf("Lost after Close: %d", r.Lost())
	}
}

// TestWakeupOptions: with WakeupEvents(3) or a Watermark, the kernel
// leaves a sleeping reader asleep until that many samples or bytes are in
// a ring, and then wakes it; the reader then gets the first sample.
func TestWakeupOptions(t *testing.T) {
	page := os.Getpagesize()
	sample := make([]byte, 100) // a record of 8 + 4 + 100 = 112 bytes
	for _, tc := range []struct {
		name   string
		opt    Option
		before int // samples that must not wake the reader
	}{
		{"events", WakeupEvents(3), 2},
		{"watermark", Watermark(1000), 1000 / 112},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.CheckLeaks(t)
			m := newArray(t, 0)
			r := newReader(t, m, tc.opt, RingSize(4*page))
			w := newWriter(t, m)
			onCPU(t, r.CPUs()[0])
			done := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, err := r.Read(ctx)
				done <- err
			}()
			waitSleeping(t, r)
			if _, err := w.Output(sample, len(sample), progs.CurrentCPU, tc.before); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				t.Fatalf("woken after %d samples: %v", tc.before, err)
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := w.Output(sample, len(sample), progs.CurrentCPU, 1); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestReadBatch: one call copies every record in the rings, up to the
// slice's length, taking the CPUs in turn, each CPU's records in order.
func TestReadBatch(t *testing.T) {
	testutil.CheckLeaks(t)
	m := newArray(t, 0)
	r := newReader(t, m)
	w := newWriter(t, m)
	const n = 10
	t.Run("write", func(t *testing.T) {
		for _, cpu := range r.CPUs() {
			onCPU(t, cpu)
			for i := range n {
				if _, err := w.Output([]byte{byte(cpu), byte(i)}, 2, progs.CurrentCPU, 1); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
	if got, err := r.ReadBatch(drained(), nil); got != 0 || err != nil {
		t.Fatalf("empty batch: %d, %v", got, err)
	}
	total := n * len(r.CPUs())
	recs := make([]Record, total+5)
	got, err := r.ReadBatch(drained(), recs[:3])
	if got != 3 || err != nil {
		t.Fatalf("batch of 3: %d, %v", got, err)
	}
	if len(r.CPUs()) > 1 && recs[0].CPU == recs[1].CPU {
		t.Fatalf("first two records both from cpu %d: CPUs are not taken in turn", recs[0].CPU)
	}
	more, err := r.ReadBatch(drained(), recs[3:])
	if more != total-3 || err != nil {
		t.Fatalf("rest: %d, %v; want %d", more, err, total-3)
	}
	next := map[int]byte{}
	for _, rec := range recs[:total] {
		if rec.RawSample[0] != byte(rec.CPU) || rec.RawSample[1] != next[rec.CPU] {
			t.Fatalf("cpu %d: got sample %v, want [%d %d]", rec.CPU, rec.RawSample[:2], rec.CPU, next[rec.CPU])
		}
		next[rec.CPU]++
	}
	if _, err := r.ReadBatch(drained(), recs); !errors.Is(err, context.Canceled) {
		t.Fatalf("read of empty rings: %v", err)
	}
}

// TestCorruptRingDoesNotStopOthers: a CPU's ring whose position
// is broken (here its head, through the Reader's own mapping) gives
// ErrCorrupt, and the other CPUs' records are still read.
func TestCorruptRingDoesNotStopOthers(t *testing.T) {
	testutil.CheckLeaks(t)
	m := newArray(t, 0)
	r := newReader(t, m)
	if len(r.CPUs()) < 2 {
		testutil.Skip(t, testutil.Kernel, "one online CPU: no other ring to read")
	}
	w := newWriter(t, m)
	t.Run("write", func(t *testing.T) {
		for _, cpu := range r.CPUs()[:2] {
			onCPU(t, cpu)
			if _, err := w.Output([]byte{byte(cpu)}, 1, progs.CurrentCPU, 1); err != nil {
				t.Fatal(err)
			}
		}
	})
	// Only the metadata page can be written from user space (a write to
	// the data area faults with SIGBUS): move the first CPU's data_head
	// further ahead of its tail than the ring is long.
	bad := r.rings[0]
	atomic.StoreUint64(bad.head, atomic.LoadUint64(bad.tail)+bad.size+8)
	var rec Record
	err := r.ReadInto(drained(), &rec)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read of the corrupt ring: %+v, %v; want ErrCorrupt", rec, err)
	}
	if err := r.ReadInto(drained(), &rec); err != nil || rec.CPU != r.CPUs()[1] {
		t.Fatalf("read after the error: %+v, %v; want the sample of cpu %d", rec, err, r.CPUs()[1])
	}
}

// TestEveryFailureUndone makes NewReader fail after each setup step
// (perf event opened, ring mapped, added to epoll, stored in the map) on
// each CPU, and checks that nothing is left: no descriptor, no perf
// mapping, no map entry, no claim on the map.
func TestEveryFailureUndone(t *testing.T) {
	testutil.CheckLeaks(t)
	m := newArray(t, 0)
	first := newReader(t, m)
	cpus := first.CPUs()
	first.Close()
	maps := perfMappings(t)
	injectedErr := errors.New("injected")
	defer func() { failAfter = nil }()
	for _, cpu := range cpus {
		for _, step := range []string{"open", "mmap", "epoll", "store"} {
			failAfter = func(s string, c int) error {
				if s == step && c == cpu {
					return injectedErr
				}
				return nil
			}
			r, err := NewReader(m)
			if !errors.Is(err, injectedErr) {
				if r != nil {
					r.Close()
				}
				t.Fatalf("failure after %s on cpu %d: %v", step, cpu, err)
			}
			if got := perfMappings(t); got != maps {
				t.Fatalf("after %s on cpu %d: %d perf mappings, want %d", step, cpu, got, maps)
			}
			for c := range int(m.MaxEntries()) {
				if err := m.DeleteInt(uint64(c)); !errors.Is(err, sys.ErrKeyNotExist) {
					t.Fatalf("after %s on cpu %d: entry %d: %v, want none", step, cpu, c, err)
				}
			}
		}
	}
	failAfter = nil
	newReader(t, m).Close() // not left claimed
}

// TestConsume: Consume hands every record to the function in place,
// samples that wrap around the end of a one-page ring included, byte for
// byte; an error from the function stops it with that record consumed.
func TestConsume(t *testing.T) {
	testutil.CheckLeaks(t)
	m := newArray(t, 0)
	page := os.Getpagesize()
	r := newReader(t, m, RingSize(page))
	w := newWriter(t, m)
	onCPU(t, r.CPUs()[0])
	if _, err := r.Consume(nil); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("nil handler: %v", err)
	}
	next := 0
	check := func(rec *Record) error {
		raw := bytes.Repeat([]byte{byte(next)}, 1000)
		if rec.LostSamples != 0 || !sameSample(rec.RawSample, raw) {
			return errors.New("sample " + string(rune('0'+next)) + " differs")
		}
		next++
		return nil
	}
	for round := range 4 { // 3 records of 1016 bytes a round: they wrap
		for i := range 3 {
			raw := bytes.Repeat([]byte{byte(round*3 + i)}, 1000)
			if ret, err := w.Output(raw, len(raw), progs.CurrentCPU, 1); err != nil || ret != 0 {
				t.Fatalf("write: %d, %v", ret, err)
			}
		}
		if n, err := r.Consume(check); n != 3 || err != nil {
			t.Fatalf("round %d: consumed %d, %v", round, n, err)
		}
	}
	for i := range 2 {
		raw := bytes.Repeat([]byte{byte(12 + i)}, 1000)
		if _, err := w.Output(raw, len(raw), progs.CurrentCPU, 1); err != nil {
			t.Fatal(err)
		}
	}
	stop := errors.New("stop")
	if n, err := r.Consume(func(*Record) error { return stop }); n != 1 || !errors.Is(err, stop) {
		t.Fatalf("handler error: %d, %v", n, err)
	}
	next = 13
	if n, err := r.Consume(check); n != 1 || err != nil {
		t.Fatalf("after the handler error: %d, %v (the stopped record must count as consumed)", n, err)
	}
	r.Close()
	if _, err := r.Consume(check); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}
