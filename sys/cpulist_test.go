package sys_test

import (
	"runtime"
	"slices"
	"testing"

	"github.com/bpfmaps/bpfmaps/sys"
)

// TestParseCPUList: sysfs CPU lists, and the malformed ones refused.
func TestParseCPUList(t *testing.T) {
	for in, want := range map[string][]int{
		"":          nil,
		"0":         {0},
		"0-3":       {0, 1, 2, 3},
		"0,2-4,7":   {0, 2, 3, 4, 7},
		"5,0-1,1-2": {0, 1, 2, 5},
	} {
		got, err := sys.ParseCPUList(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseCPUList(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"x", "3-1", "-1", "0,", "1-", "70000"} {
		if got, err := sys.ParseCPUList(in); err == nil {
			t.Errorf("ParseCPUList(%q) = %v, want an error", in, got)
		}
	}
}

// TestOnlineCPUs: the online CPUs include the ones this process runs on.
func TestOnlineCPUs(t *testing.T) {
	cpus, err := sys.OnlineCPUs()
	if err != nil {
		t.Fatal(err)
	}
	if len(cpus) < runtime.NumCPU() {
		t.Fatalf("online %v, but runtime.NumCPU is %d", cpus, runtime.NumCPU())
	}
}
