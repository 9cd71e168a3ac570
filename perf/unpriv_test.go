package perf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

// TestReaderWithoutPerfmon: a process with CAP_BPF but without
// CAP_PERFMON may create the map but not the CPU-wide perf events (with
// the usual perf_event_paranoid of 2 or more); NewReader says which
// privilege is missing and leaves no descriptor, mapping or map entry
// behind.
func TestReaderWithoutPerfmon(t *testing.T) {
	if caps, child := testutil.AsUser(); child && caps == "bpf" {
		testutil.CheckLeaks(t)
		maps := perfMappings(t)
		m := newArray(t, 0)
		_, err := NewReader(m)
		if paranoid() < 1 { // any user may open CPU-wide events here
			if err != nil {
				t.Fatalf("NewReader with perf_event_paranoid %d: %v", paranoid(), err)
			}
			return
		}
		if !errors.Is(err, unix.EACCES) && !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), "CAP_PERFMON") {
			t.Fatalf("NewReader without CAP_PERFMON: %v; want a privilege error naming CAP_PERFMON", err)
		}
		if got := perfMappings(t); got != maps {
			t.Fatalf("%d perf mappings after the failure, want %d", got, maps)
		}
		return
	}
	testutil.RunAsUser(t, "bpf")
}

// TestReaderWithPerfmon: CAP_BPF and CAP_PERFMON are enough to read
// what a program sends (loading the program needs only CAP_BPF here).
func TestReaderWithPerfmon(t *testing.T) {
	if _, child := testutil.AsUser(); child {
		testutil.CheckLeaks(t)
		m := newArray(t, 0)
		r, err := NewReader(m)
		if err != nil {
			t.Fatalf("NewReader with CAP_BPF and CAP_PERFMON: %v", err)
		}
		t.Cleanup(func() { r.Close() })
		w := newWriter(t, m)
		onCPU(t, r.CPUs()[0])
		if ret, err := w.Output([]byte("unprivileged"), 12, progs.CurrentCPU, 1); err != nil || ret != 0 {
			t.Fatalf("write: %d, %v", ret, err)
		}
		rec, err := r.Read(context.Background())
		if err != nil || !sameSample(rec.RawSample, []byte("unprivileged")) {
			t.Fatalf("read: %q, %v", rec.RawSample, err)
		}
		return
	}
	if p := paranoidLevel(); p > 2 {
		// Debian's kernels add perf_event_paranoid levels above 2, at which
		// CAP_PERFMON is not enough (the kernel matrix's newest Debian
		// kernel under virtme-ng has 3).
		testutil.Skip(t, testutil.Kernel, fmt.Sprintf("kernel.perf_event_paranoid=%d lets only CAP_SYS_ADMIN open CPU-wide perf events", p))
	}
	testutil.RunAsUser(t, "bpf,perfmon")
}

// paranoid returns perf_event_paranoid with the levels above 2 (Debian's)
// taken as 2.
func paranoid() int { return min(paranoidLevel(), 2) }

// paranoidLevel returns /proc/sys/kernel/perf_event_paranoid as the kernel
// has it (Debian's kernels know levels above 2), or 2 when it cannot be
// read.
func paranoidLevel() int {
	b, err := os.ReadFile("/proc/sys/kernel/perf_event_paranoid")
	if err != nil {
		return 2
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 2
	}
	return n
}
