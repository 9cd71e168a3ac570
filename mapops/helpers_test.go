package mapops_test

import (
	"testing"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/mapops"
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
