package refs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/refs"
	"github.com/bpfmaps/bpfmaps/structcodec"
	"github.com/bpfmaps/bpfmaps/sys"
)

// rawLookup reads key's 8-byte value straight from the kernel.
func rawLookup(t *testing.T, m *mapops.Map, key uint32) (uint64, bool) {
	t.Helper()
	var v uint64
	err := sys.MapLookupElem(m.FD(), unsafe.Pointer(&key), unsafe.Pointer(&v), 0)
	if errors.Is(err, unix.ENOENT) {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return v, true
}

func rawUpdate(t *testing.T, m *mapops.Map, key uint32, v uint64) {
	t.Helper()
	if err := sys.MapUpdateElem(m.FD(), unsafe.Pointer(&key), unsafe.Pointer(&v), 0); err != nil {
		t.Error(err)
	}
}

func newEntry(t *testing.T, m *mapops.Map, key uint32, opts ...refs.EntryOption[uint64]) *refs.EntryRef[uint32, uint64] {
	t.Helper()
	r, err := refs.NewEntryRef(m, key, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestEntryRefLoadStore(t *testing.T) {
	start(t)
	m := newMap(t, unix.BPF_MAP_TYPE_HASH, 4, 8, 16)
	r := newEntry(t, m, 3)
	if v, ok, err := r.Load(); v != 0 || ok || err != nil {
		t.Fatalf("Load of a missing key = %d, %v, %v; want 0, false, nil", v, ok, err)
	}
	if err := r.Store(11); err != nil {
		t.Fatal(err)
	}
	if v, ok := rawLookup(t, m, 3); !ok || v != 11 {
		t.Fatalf("map holds %d (present %v) after Store(11)", v, ok)
	}
	if v, ok, err := r.Load(); v != 11 || !ok || err != nil {
		t.Fatalf("Load = %d, %v, %v; want 11, true, nil", v, ok, err)
	}
	// A value the kernel writes is what Load returns.
	prog := kernelProg(t, func() (*sys.FD, error) { return progs.UpdateHash(m.FD(), 3, 77) })
	runProg(t, prog)
	if v, _, _ := r.Load(); v != 77 {
		t.Fatalf("Load after the kernel wrote 77 = %d", v)
	}
	if v, err := r.Swap(func(old uint64) uint64 { return old + 1 }); v != 78 || err != nil {
		t.Fatalf("Swap(inc) = %d, %v; want 78", v, err)
	}
	r.Close()
	if _, _, err := r.Load(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Load after Close = %v; want os.ErrClosed", err)
	}
	if err := r.Store(1); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Store after Close = %v; want os.ErrClosed", err)
	}
}

func TestEntryRefSwapMissingKeyAndArray(t *testing.T) {
	start(t)
	for _, typ := range []sys.MapType{unix.BPF_MAP_TYPE_HASH, unix.BPF_MAP_TYPE_ARRAY, unix.BPF_MAP_TYPE_LRU_HASH} {
		m := newMap(t, typ, 4, 8, 4)
		r := newEntry(t, m, 2)
		if v, err := r.Swap(func(old uint64) uint64 { return old + 5 }); v != 5 || err != nil {
			t.Fatalf("%s: Swap on a new key = %d, %v; want 5", typ.String(), v, err)
		}
	}
}

func TestEntryRefConcurrentSwapIsExact(t *testing.T) {
	// N goroutines × M increments through several EntryRefs, one of them
	// over a second descriptor of the same map: the lock is per map and key
	// in the process, so the total is exact.
	start(t)
	m := newMap(t, unix.BPF_MAP_TYPE_HASH, 4, 8, 4)
	second, err := mapops.FromFD(m.FD().Int()) // its own descriptor of the same map
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	maps := []*mapops.Map{m, second}
	const goroutines, increments = 8, 300
	var wg sync.WaitGroup
	for g := range goroutines {
		r := newEntry(t, maps[g%2], 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range increments {
				if _, err := r.Swap(func(v uint64) uint64 { return v + 1 }); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	// A CompareAndSwap loop joins in; each success adds one more.
	cas := newEntry(t, m, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; n < increments; {
			v, _, err := cas.Load()
			if err != nil {
				t.Error(err)
				return
			}
			ok, err := cas.CompareAndSwap(v, v+1)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				n++
			}
		}
	}()
	wg.Wait()
	want := uint64((goroutines + 1) * increments)
	if v, _ := rawLookup(t, m, 1); v != want {
		t.Fatalf("after %d×%d Swaps and %d CompareAndSwaps the value is %d, want %d", goroutines, increments, increments, v, want)
	}
}

func TestEntryRefCompareAndSwap(t *testing.T) {
	start(t)
	m := newMap(t, unix.BPF_MAP_TYPE_HASH, 4, 8, 4)
	r := newEntry(t, m, 9)
	if ok, err := r.CompareAndSwap(0, 1); ok || err != nil {
		t.Fatalf("CompareAndSwap on a missing key = %v, %v; want false, nil", ok, err)
	}
	if _, ok := rawLookup(t, m, 9); ok {
		t.Fatal("CompareAndSwap on a missing key created it")
	}
	r.Store(100)
	if ok, err := r.CompareAndSwap(99, 0); ok || err != nil {
		t.Fatalf("CompareAndSwap(99, 0) over 100 = %v, %v; want false", ok, err)
	}
	if ok, err := r.CompareAndSwap(100, 0); !ok || err != nil {
		t.Fatalf("CompareAndSwap(100, 0) over 100 = %v, %v; want true", ok, err)
	}
	if v, _ := rawLookup(t, m, 9); v != 0 {
		t.Fatalf("value after CompareAndSwap(100, 0) = %d", v)
	}
}

var errNegative = errors.New("must not be negative")

func TestEntryRefValidatorRefusal(t *testing.T) {
	start(t)
	m := newMap(t, unix.BPF_MAP_TYPE_HASH, 4, 8, 4)
	// Values are int64 here; the validator refuses negatives.
	r, err := refs.NewEntryRef(m, uint32(5), refs.Validator(func(v int64) error {
		if v < 0 {
			return errNegative
		}
		return nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Store(10); err != nil {
		t.Fatal(err)
	}
	unchanged := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, refs.ErrInvalidValue) || !errors.Is(err, errNegative) {
			t.Errorf("%s = %v; want ErrInvalidValue wrapping the validator's error", what, err)
		}
		if v, ok := rawLookup(t, m, 5); !ok || v != 10 {
			t.Errorf("after a refused %s the map holds %d (present %v), want 10", what, int64(v), ok)
		}
	}
	unchanged("Store(-1)", r.Store(-1))
	_, err = r.Swap(func(v int64) int64 { return v - 11 })
	unchanged("Swap(-11)", err)
	ok, err := r.CompareAndSwap(10, -1)
	if ok {
		t.Error("a refused CompareAndSwap reported success")
	}
	unchanged("CompareAndSwap(10, -1)", err)
	if _, err := r.Swap(func(v int64) int64 { return v - 10 }); err != nil {
		t.Fatalf("Swap to 0 = %v", err)
	}
}

func TestEntryRefErrors(t *testing.T) {
	start(t)
	hash := newMap(t, unix.BPF_MAP_TYPE_HASH, 4, 8, 4)
	queue := newMap(t, unix.BPF_MAP_TYPE_QUEUE, 0, 8, 4)
	if _, err := refs.NewEntryRef[uint32, uint64](queue, 1); err == nil {
		t.Error("EntryRef over a queue succeeded")
	}
	if _, err := refs.NewEntryRef[uint64, uint64](hash, 1); err == nil {
		t.Error("EntryRef with an 8-byte key over 4-byte keys succeeded")
	}
	if _, err := refs.NewEntryRef[uint32, uint32](hash, 1); err == nil {
		t.Error("EntryRef with a 4-byte value over 8-byte values succeeded")
	}
	if _, err := refs.NewMapWatcher[uint32, uint64](hash, 1, refs.PollInterval(-1)); err == nil {
		t.Error("a negative poll interval was accepted")
	}
}

func TestMapWatcher(t *testing.T) {
	start(t)
	m := newMap(t, unix.BPF_MAP_TYPE_HASH, 4, 8, 4)
	w, err := refs.NewMapWatcher[uint32, uint64](m, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, ok, err := w.WaitTimeout(30 * time.Millisecond); ok || err != nil {
		t.Fatalf("WaitTimeout for a missing key = %v, %v; want false, nil", ok, err)
	}

	// Another goroutine writes the key straight to the kernel (no wake-up:
	// the poll finds it).
	later(t, func() { rawUpdate(t, m, 1, 5) })
	var v uint64
	within(t, "Wait", func() { v, err = w.Wait(context.Background()) })
	if v != 5 || err != nil {
		t.Fatalf("Wait = %d, %v; want 5", v, err)
	}

	// A BPF program creates another key.
	w2, err := refs.NewMapWatcher[uint32, uint64](m, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	prog := kernelProg(t, func() (*sys.FD, error) { return progs.UpdateHash(m.FD(), 2, 1234) })
	later(t, func() { runProg(t, prog) })
	within(t, "Wait for the kernel", func() { v, err = w2.Wait(context.Background()) })
	if v != 1234 || err != nil {
		t.Fatalf("Wait = %d, %v; want 1234 from the kernel", v, err)
	}
}

func TestMapWatcherWokenByEntryRef(t *testing.T) {
	start(t)
	m := newMap(t, unix.BPF_MAP_TYPE_HASH, 4, 8, 4)
	w, err := refs.NewMapWatcher[uint32, uint64](m, 1, refs.PollInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r := newEntry(t, m, 1)
	later(t, func() { r.Store(3) })
	var v uint64
	within(t, "Wait woken by Store", func() { v, err = w.Wait(context.Background()) })
	if v != 3 || err != nil {
		t.Fatalf("Wait = %d, %v; want 3", v, err)
	}
}

func TestWatchersCloseWakesBlocked(t *testing.T) {
	start(t)
	m := newMap(t, unix.BPF_MAP_TYPE_HASH, 4, 8, 4)
	w, err := refs.NewMapWatcher[uint32, uint64](m, 1, refs.PollInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c, err := refs.NewChangeWatcher[uint32, uint64](m, 1, refs.PollInterval(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		wait  func() error
		close func() error
	}{
		{"MapWatcher", func() error { _, err := w.Wait(context.Background()); return err }, w.Close},
		{"ChangeWatcher", func() error { _, err := c.Wait(context.Background()); return err }, c.Close},
	} {
		errc := make(chan error, 1)
		go func() { errc <- tc.wait() }()
		time.Sleep(30 * time.Millisecond)
		d := within(t, tc.name+" Close", func() {
			tc.close()
			if err := <-errc; !errors.Is(err, os.ErrClosed) {
				t.Errorf("%s: blocked Wait after Close = %v; want os.ErrClosed", tc.name, err)
			}
		})
		t.Logf("%s: blocked Wait returned %v after Close", tc.name, d)
	}
}

func TestChangeWatcher(t *testing.T) {
	start(t)
	m := newMap(t, unix.BPF_MAP_TYPE_ARRAY, 4, 8, 4)
	prog := kernelProg(t, func() (*sys.FD, error) { return progs.Counter(m.FD(), 0) })

	// Initial value 0: the zeroed array slot is not a change.
	w, err := refs.NewChangeWatcherFrom(m, uint32(0), uint64(0), refs.PollInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if v, ok, err := w.WaitTimeout(30 * time.Millisecond); ok || err != nil {
		t.Fatalf("WaitTimeout with no change = %d, %v, %v; want false", v, ok, err)
	}
	for want := uint64(1); want <= 3; want++ {
		later(t, func() { runProg(t, prog) })
		var v uint64
		within(t, "Wait for a kernel change", func() { v, err = w.Wait(context.Background()) })
		if v != want || err != nil {
			t.Fatalf("Wait = %d, %v; want %d from the kernel counter", v, err, want)
		}
	}
	// Writing the same value again is no change.
	rawUpdate(t, m, 0, 3)
	if v, ok, err := w.WaitTimeout(30 * time.Millisecond); ok || err != nil {
		t.Fatalf("WaitTimeout after rewriting the same value = %d, %v, %v; want false", v, ok, err)
	}
	// A goroutine's write is a change.
	later(t, func() { rawUpdate(t, m, 0, 10) })
	if v, ok, err := w.WaitTimeout(5 * time.Second); v != 10 || !ok || err != nil {
		t.Fatalf("WaitTimeout = %d, %v, %v; want 10", v, ok, err)
	}

	// Without an initial value the first Wait returns the present value.
	w0, err := refs.NewChangeWatcher[uint32, uint64](m, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w0.Close()
	if v, ok, err := w0.WaitTimeout(0); v != 10 || !ok || err != nil {
		t.Fatalf("first WaitTimeout(0) = %d, %v, %v; want 10", v, ok, err)
	}

	// Seq yields each change and ends on its timeout. Each write is made
	// once the previous change was seen (a watcher samples the map, so a
	// value overwritten between samples is missed), from the loop itself:
	// no write races the timeout, however slow the machine.
	var got []uint64
	rawUpdate(t, m, 0, 20)
	within(t, "Seq", func() {
		seq, errf := w0.Seq(context.Background(), 300*time.Millisecond)
		for v := range seq {
			got = append(got, v)
			if v == 20 {
				rawUpdate(t, m, 0, 30)
			}
		}
		if err := errf(); err != nil {
			t.Error(err)
		}
	})
	if fmt.Sprint(got) != "[20 30]" {
		t.Fatalf("Seq yielded %v, want [20 30]", got)
	}
}

func TestWatcherMapClosedUnderIt(t *testing.T) {
	// References borrow their map: closing it under a waiting watcher ends
	// the wait with an error wrapping os.ErrClosed, within a poll interval.
	start(t)
	m := newMap(t, unix.BPF_MAP_TYPE_HASH, 4, 8, 4)
	w, err := refs.NewMapWatcher[uint32, uint64](m, 1, refs.PollInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	later(t, func() { m.FD().Close() })
	within(t, "Wait on a closed map", func() { _, err = w.Wait(context.Background()) })
	if !errors.Is(err, os.ErrClosed) || strings.Contains(err.Error(), "reference is closed") {
		t.Fatalf("Wait after the map closed = %v; want the map's os.ErrClosed, not the reference's", err)
	}
}

// TestSeqEndsCleanlyOnContext: the end of the caller's own context ends a
// sequence as a timeout or Close does, without an error from the error
// function; the caller tells it by its ctx.Err().
func TestSeqEndsCleanlyOnContext(t *testing.T) {
	start(t)
	m := newMap(t, unix.BPF_MAP_TYPE_HASH, 4, 8, 4)
	w, err := refs.NewChangeWatcher[uint32, uint64](m, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for _, stop := range []string{"deadline", "cancel"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		if stop == "cancel" {
			ctx, cancel = context.WithCancel(context.Background())
			time.AfterFunc(20*time.Millisecond, cancel)
		}
		seq, errf := w.Seq(ctx, time.Hour)
		within(t, "Seq until "+stop, func() {
			for v := range seq {
				t.Errorf("Seq yielded %d from a map nobody writes", v)
			}
		})
		if err := errf(); err != nil || ctx.Err() == nil {
			t.Errorf("Seq ended by its context's %s: error %v, ctx.Err() %v; want nil and the context's error", stop, err, ctx.Err())
		}
		cancel()
	}
}

// TestStoreIfAbsent: the create-if-absent form of CompareAndSwap. It
// stores only where the key is missing, once among many goroutines, never
// over a value written outside the reference, and never in an array.
func TestStoreIfAbsent(t *testing.T) {
	start(t)
	m := newMap(t, unix.BPF_MAP_TYPE_HASH, 4, 8, 4)
	r := newEntry(t, m, 1, refs.Validator(func(v uint64) error {
		if v == 13 {
			return errors.New("unlucky")
		}
		return nil
	}))
	if ok, err := r.CompareAndSwap(0, 5); ok || err != nil {
		t.Fatalf("CompareAndSwap on a missing key = %v, %v; want false", ok, err)
	}
	if ok, err := r.StoreIfAbsent(13); ok || !errors.Is(err, refs.ErrInvalidValue) {
		t.Fatalf("StoreIfAbsent of a rejected value = %v, %v; want ErrInvalidValue", ok, err)
	}
	var wg sync.WaitGroup
	var stored atomic.Int32
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := r.StoreIfAbsent(uint64(100 + i))
			if err != nil {
				t.Error(err)
			}
			if ok {
				stored.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := stored.Load(); n != 1 {
		t.Fatalf("%d of 8 concurrent StoreIfAbsent stored; want 1", n)
	}
	v, ok, err := r.Load()
	if !ok || err != nil || v < 100 || v >= 108 {
		t.Fatalf("Load after StoreIfAbsent = %d, %v, %v", v, ok, err)
	}

	// A key created outside the reference (here by a raw update, as a BPF
	// program would) is not overwritten.
	r2 := newEntry(t, m, 2)
	rawUpdate(t, m, 2, 7)
	if ok, err := r2.StoreIfAbsent(9); ok || err != nil {
		t.Fatalf("StoreIfAbsent over a raw write = %v, %v; want false, nil", ok, err)
	}
	if v, _, _ := r2.Load(); v != 7 {
		t.Fatalf("value after a refused StoreIfAbsent = %d, want 7", v)
	}

	a := newMap(t, unix.BPF_MAP_TYPE_ARRAY, 4, 8, 4)
	ra := newEntry(t, a, 0)
	if ok, err := ra.StoreIfAbsent(1); ok || err != nil {
		t.Fatalf("StoreIfAbsent in an array = %v, %v; want false, nil (every key exists)", ok, err)
	}
}

// TestRefsWithoutSysAdmin: a process with CAP_BPF alone may not read a
// map's BTF, so references over a map with BTF fail by default, naming
// the way on, and work once given mapops' typed options.
func TestRefsWithoutSysAdmin(t *testing.T) {
	if _, child := testutil.AsUser(); !child {
		testutil.RunAsUser(t, "bpf")
		return
	}
	testutil.CheckLeaks(t)
	kl, err := structcodec.For[uint32]()
	if err != nil {
		t.Fatal(err)
	}
	vl, err := structcodec.For[uint64]()
	if err != nil {
		t.Fatal(err)
	}
	m, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, MaxEntries: 4, KeyType: kl.Layout(), ValueType: vl.Layout()})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := refs.NewEntryRef[uint32, uint64](m, 1); !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), "AllowUnreadableBTF") {
		t.Errorf("NewEntryRef without CAP_SYS_ADMIN = %v; want EPERM naming AllowUnreadableBTF", err)
	}
	r, err := refs.NewEntryRef(m, uint32(1), refs.EntryTypedOptions[uint64](mapops.AllowUnreadableBTF()))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Store(5); err != nil {
		t.Fatal(err)
	}
	if _, err := refs.NewChangeWatcher[uint32, uint64](m, 1); !errors.Is(err, unix.EPERM) {
		t.Errorf("NewChangeWatcher without CAP_SYS_ADMIN = %v; want EPERM", err)
	}
	w, err := refs.NewMapWatcher[uint32, uint64](m, 1, refs.TypedOptions(mapops.AllowUnreadableBTF()))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if v, ok, err := w.WaitTimeout(0); v != 5 || !ok || err != nil {
		t.Errorf("WaitTimeout(0) = %d, %v, %v; want 5", v, ok, err)
	}
}
