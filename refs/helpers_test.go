package refs_test

import (
	"io"
	"testing"
	"time"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// newMap creates a map for one test and closes it after.
func newMap(t testing.TB, typ sys.MapType, keySize, valueSize, maxEntries uint32) *mapops.Map {
	t.Helper()
	m, err := mapops.Create(mapops.Spec{Type: typ, KeySize: keySize, ValueSize: valueSize, MaxEntries: maxEntries})
	if err != nil {
		t.Fatalf("create map: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// kernelProg loads a program for the test and closes it after.
func kernelProg(t testing.TB, load func() (*sys.FD, error)) *sys.FD {
	t.Helper()
	prog, err := load()
	if err != nil {
		t.Fatalf("load program: %v", err)
	}
	t.Cleanup(func() { prog.Close() })
	return prog
}

// runProg runs prog once and fails the test unless the helper it calls
// returned 0.
func runProg(t testing.TB, prog *sys.FD) {
	t.Helper()
	ret, err := progs.Run(prog, 1)
	if err != nil {
		t.Errorf("run program: %v", err)
	} else if ret != 0 {
		t.Errorf("program returned %d", int32(ret))
	}
}

// start begins a kernel test: leak check first, then the privilege gate.
func start(t *testing.T) {
	t.Helper()
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
}

// within fails the test if f does not return within a generous bound, and
// returns how long it took.
func within(t *testing.T, what string, f func()) time.Duration {
	t.Helper()
	done := make(chan time.Duration, 1)
	go func() {
		t0 := time.Now()
		f()
		done <- time.Since(t0)
	}()
	select {
	case d := <-done:
		return d
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not return within 5s", what)
		return 0
	}
}

// TestExamples runs the examples, which talk to the kernel and so are only
// compiled by go test (see testutil.RunExamples), and checks what they
// print. It plays the BPF side of the ring examples: a fresh events ring
// holding the events a program wrote.
func TestExamples(t *testing.T) {
	startRing(t)
	withEvents := func(n int, example func()) func() {
		return func() {
			ring, prog := newRing(t)
			if _, err := progs.Run(prog, n); err != nil {
				t.Fatal(err)
			}
			events = ring
			example()
		}
	}
	testutil.RunExamples(t, "example_test.go", map[string]func(){
		"ExampleRingBufRef":           withEvents(3, ExampleRingBufRef),
		"ExampleRingBufRef_Seq":       withEvents(150, ExampleRingBufRef_Seq),
		"ExampleNewRingBufRefFunc":    withEvents(1, ExampleNewRingBufRefFunc),
		"Example_pipeline":            withEvents(10, Example_pipeline),
		"ExampleQueueRef":             ExampleQueueRef,
		"ExampleQueueRef_Seq":         ExampleQueueRef_Seq,
		"ExampleStackRef":             ExampleStackRef,
		"ExampleMapWatcher":           ExampleMapWatcher,
		"ExampleChangeWatcher":        ExampleChangeWatcher,
		"ExampleNewChangeWatcherFrom": ExampleNewChangeWatcherFrom,
		"ExampleEntryRef":             ExampleEntryRef,
		"ExampleValidator":            ExampleValidator,
		"ExampleQueueWriter":          ExampleQueueWriter,
		"ExampleStackWriter":          ExampleStackWriter,
		"ExampleQueueChannel":         ExampleQueueChannel,
		"ExampleStackChannel":         ExampleStackChannel,
	})
}

// later runs f on a goroutine after a short pause, for a test to block
// meanwhile; the pause orders nothing the test relies on (f may as well
// run first). The test waits for f to return before its cleanups close
// what f uses, so no goroutine of the test outlives it.
func later(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(20 * time.Millisecond)
		f()
	}()
	t.Cleanup(func() {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("a goroutine of the test did not return within 5s")
		}
	})
}

// closeWhen closes c once count reports n, or after 10s, for tests whose
// consumers range over a Seq without a timeout: an idle timeout would end
// a consumer early on a slow machine. It fails the test when count does
// not reach n.
func closeWhen(t *testing.T, count func() int64, n int64, c io.Closer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for count() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := count(); got < n {
		t.Errorf("consumers got %d values within 10s, want %d", got, n)
	}
	c.Close()
}
