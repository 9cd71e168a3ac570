package perf_test

import (
	"testing"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

// TestExamples runs the package's examples, which need privileges and so
// are only compiled by go test (see testutil.RunExamples), and checks what
// they print.
func TestExamples(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	testutil.RunExamples(t, "example_test.go", map[string]func(){
		"ExampleNewReader": ExampleNewReader,
	})
}
