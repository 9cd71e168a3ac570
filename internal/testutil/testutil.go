// Package testutil holds the helpers every bpfmaps test shares: the
// privilege gate, the descriptor-leak check and a private bpf filesystem.
package testutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

// RequireEnv is the environment variable that turns every skip for missing
// privileges or kernel features into a failure, so that a green CI run
// always means the kernel was exercised.
const RequireEnv = "BPFMAPS_REQUIRE_BPF"

// Required reports whether BPFMAPS_REQUIRE_BPF=1 is set.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Skip skips the test with reason, or fails it when BPFMAPS_REQUIRE_BPF=1.
func Skip(t testing.TB, reason string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s=1 but the test would skip: %s", RequireEnv, reason)
	}
	t.Skip(reason)
}

// RequireBPF skips the test (or fails it, see Skip) unless this process can
// create BPF maps.
func RequireBPF(t testing.TB) {
	t.Helper()
	if err := sys.HaveMapType(unix.BPF_MAP_TYPE_ARRAY); err != nil {
		Skip(t, fmt.Sprintf("cannot create BPF maps here: %v", err))
	}
}

// RequireFeature skips the test (or fails it under BPFMAPS_REQUIRE_BPF=1
// when the reason is not a missing kernel feature) unless probe succeeds. A
// feature that the running kernel lacks is a legitimate skip even in CI.
func RequireFeature(t testing.TB, probe func() error) {
	t.Helper()
	RequireBPF(t)
	err := probe()
	if err == nil {
		return
	}
	if errors.Is(err, sys.ErrNotSupported) {
		t.Skipf("kernel lacks the feature: %v", err)
	}
	Skip(t, fmt.Sprintf("feature probe failed: %v", err))
}

// OpenFDs lists the descriptors this process has open.
func OpenFDs(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("list open descriptors: %v", err)
	}
	var fds []string
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue // the descriptor ReadDir itself used
		}
		fds = append(fds, e.Name()+" -> "+target)
	}
	return fds
}

// CheckLeaks records the open descriptors now and, when the test ends,
// fails it if descriptors were left open. Call it first in a test so its
// check runs after the test's other cleanups. Descriptors are closed by
// finalizers only as a backstop, so a leak here is a real missing Close.
func CheckLeaks(t testing.TB) {
	t.Helper()
	// Start the runtime's network poller (an epoll descriptor and an
	// eventfd it keeps for the life of the process) before the snapshot, so
	// that it is not mistaken for a leak of the test.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	before := OpenFDs(t)
	t.Cleanup(func() {
		var leaked []string
		// Closing may finish on another goroutine (the last user of an FD
		// closes it), so give it a moment.
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			leaked = leaked[:0]
			for _, fd := range OpenFDs(t) {
				if !slices.Contains(before, fd) {
					leaked = append(leaked, fd)
				}
			}
			if len(leaked) == 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(leaked) > 0 {
			t.Errorf("descriptors leaked by the test:\n\t%s", strings.Join(leaked, "\n\t"))
		}
	})
}

// BPFFS mounts a private bpf filesystem on a temporary directory for the
// test and returns its path; it is unmounted when the test ends.
func BPFFS(t testing.TB) string {
	t.Helper()
	RequireBPF(t)
	dir := t.TempDir()
	if err := unix.Mount("bpf", dir, "bpf", 0, "mode=0700"); err != nil {
		Skip(t, fmt.Sprintf("cannot mount a bpf filesystem: %v", err))
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount bpffs: %v", err)
		}
	})
	return dir
}

// RequireToolsEnv is the environment variable that turns a skip for a
// missing host tool (gcc, bpftool) into a failure. CI on the host sets it;
// the VM kernel matrix, whose minimal initramfs has no such tools, does not.
const RequireToolsEnv = "BPFMAPS_REQUIRE_TOOLS"

// RequireTool returns the path of the named program, or skips the test
// when it is not installed (fails instead under BPFMAPS_REQUIRE_TOOLS=1).
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		reason := fmt.Sprintf("%s is not installed (scripts/test.sh installs it)", name)
		if os.Getenv("BPFMAPS_VMTEST") == "1" {
			reason = fmt.Sprintf("%s is not in the kernel matrix's VM (the host run of scripts/test.sh covers this test)", name)
		}
		if os.Getenv(RequireToolsEnv) == "1" {
			t.Fatalf("%s=1 but the test would skip: %s", RequireToolsEnv, reason)
		}
		t.Skip(reason)
	}
	return path
}
