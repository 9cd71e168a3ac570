package mapops_test

import (
	"errors"
	"testing"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// start begins a kernel test: leak check first, then the privilege gate.
func start(t testing.TB) {
	t.Helper()
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
}

// create creates a map for the test and closes it when the test ends.
func create(t testing.TB, spec mapops.Spec) *mapops.Map {
	t.Helper()
	if spec.Name == "" {
		spec.Name = "mapops_test"
	}
	m, err := mapops.Create(spec)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func typed[K, V any](t testing.TB, m *mapops.Map) *mapops.Typed[K, V] {
	t.Helper()
	tm, err := mapops.NewTyped[K, V](m)
	if err != nil {
		t.Fatalf("typed: %v", err)
	}
	return tm
}

// noHashLookupAndDelete reports whether err says the kernel has no
// lookup-and-delete for hash maps (it came in 5.14), and logs it.
func noHashLookupAndDelete(t testing.TB, err error) bool {
	t.Helper()
	if errors.Is(err, sys.ENOTSUPP) {
		t.Logf("kernel lacks lookup-and-delete on hash maps (5.14+): %v", err)
		return true
	}
	return false
}

// checkNoAllocs fails the test when f allocates. Under the race detector,
// which makes sync.Pool drop buffers on purpose, it only logs.
func checkNoAllocs(t *testing.T, name string, f func()) {
	t.Helper()
	if n := testing.AllocsPerRun(100, f); n != 0 {
		if testutil.RaceEnabled {
			t.Logf("%s allocates %v times per call under the race detector (sync.Pool drops buffers)", name, n)
			return
		}
		t.Errorf("%s allocates %v times per call", name, n)
	}
}

// TestExamples runs the examples, which talk to the kernel and so are only
// compiled by go test (see testutil.RunExamples), and checks what they
// print.
func TestExamples(t *testing.T) {
	start(t)
	testutil.RunExamples(t, "example_test.go", map[string]func(){
		"ExampleCreate":             ExampleCreate,
		"ExampleTyped":              ExampleTyped,
		"ExampleTyped_LookupPerCPU": ExampleTyped_LookupPerCPU,
		"ExampleQueue":              ExampleQueue,
		"ExampleMemoryOf":           ExampleMemoryOf,
	})
}
