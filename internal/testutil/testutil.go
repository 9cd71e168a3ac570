// Package testutil holds the helpers every bpfmaps test shares: the
// privilege gate, the descriptor-leak check and a private bpf filesystem.
package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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

// RequireBPF skips the test for NoPrivilege (see Skip) unless this process
// can create BPF maps.
func RequireBPF(t testing.TB) {
	t.Helper()
	if err := sys.HaveMapType(unix.BPF_MAP_TYPE_ARRAY); err != nil {
		Skip(t, NoPrivilege, fmt.Sprintf("cannot create BPF maps here: %v", err))
	}
}

// RequireFeature skips the test unless probe succeeds: for Kernel when the
// probe says the running kernel lacks the feature (a legitimate skip even in
// CI), for NoPrivilege otherwise.
func RequireFeature(t testing.TB, probe func() error) {
	t.Helper()
	RequireBPF(t)
	err := probe()
	if err == nil {
		return
	}
	if errors.Is(err, sys.ErrNotSupported) {
		Skip(t, Kernel, fmt.Sprintf("the kernel lacks the feature: %v", err))
	}
	Skip(t, NoPrivilege, fmt.Sprintf("feature probe failed: %v", err))
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

// CheckLeaks records the open descriptors and the running goroutines now
// and, when the test ends, fails it if descriptors or goroutines were left
// behind, printing the target of each leaked descriptor and the stack of
// each leaked goroutine. Call it first in a test so its check runs after
// the test's other cleanups. Descriptors are closed by finalizers only as a
// backstop, so a leak here is a real missing Close.
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
	beforeG := Goroutines()
	t.Cleanup(func() {
		var leaked, leakedG []string
		// Closing may finish on another goroutine (the last user of an FD
		// closes it), and goroutines told to stop take a moment to return,
		// so give them a moment.
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			leaked = leaked[:0]
			for _, fd := range OpenFDs(t) {
				if !slices.Contains(before, fd) {
					leaked = append(leaked, fd)
				}
			}
			leakedG = leakedG[:0]
			for id, stack := range Goroutines() {
				if _, ok := beforeG[id]; !ok && !ignoredGoroutine(stack) {
					leakedG = append(leakedG, stack)
				}
			}
			if len(leaked)+len(leakedG) == 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(leaked) > 0 {
			t.Errorf("descriptors leaked by the test (number -> target):\n\t%s", strings.Join(leaked, "\n\t"))
		}
		if len(leakedG) > 0 {
			slices.Sort(leakedG)
			t.Errorf("%d goroutines leaked by the test:\n\n%s", len(leakedG), strings.Join(leakedG, "\n\n"))
		}
	})
}

// Goroutines returns the stack of every goroutine, by goroutine id, as
// runtime.Stack prints them.
func Goroutines() map[uint64]string {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	gs := make(map[uint64]string)
	for _, g := range strings.Split(string(buf), "\n\n") {
		var id uint64
		if _, err := fmt.Sscanf(g, "goroutine %d ", &id); err == nil {
			gs[id] = strings.TrimSpace(g)
		}
	}
	return gs
}

// ignoredGoroutine reports whether a goroutine that started during a test
// belongs to the runtime or the testing package rather than to the test:
// the signal loop, the finalizer and cleanup goroutines, a test run by the
// testing package.
func ignoredGoroutine(stack string) bool {
	for _, s := range []string{
		"os/signal.loop", "runtime.ensureSigM", "runtime.runfinq", "runtime.runCleanups",
		"created by testing.(*T).Run", "created by testing.runTests", "created by testing.(*B).",
	} {
		if strings.Contains(stack, s) {
			return true
		}
	}
	return false
}

// BPFFS mounts a private bpf filesystem on a temporary directory for the
// test and returns its path; it is unmounted when the test ends.
func BPFFS(t testing.TB) string {
	t.Helper()
	RequireBPF(t)
	dir := t.TempDir()
	if err := unix.Mount("bpf", dir, "bpf", 0, "mode=0700"); err != nil {
		Skip(t, NoPrivilege, fmt.Sprintf("cannot mount a bpf filesystem: %v", err))
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

// RequireTool returns the path of the named program, or skips the test for
// NoTool when it is not installed (see Skip).
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		reason := fmt.Sprintf("%s is not installed (scripts/test.sh installs it)", name)
		if os.Getenv("BPFMAPS_VMTEST") == "1" {
			reason = fmt.Sprintf("%s is not in the kernel matrix's VM (the host run of scripts/test.sh covers this test)", name)
		}
		Skip(t, NoTool, reason)
	}
	return path
}

// CTwinsEnv names the directory of C programs that the kernel matrix's
// runner compiled ahead of time for the VM's architecture (the initramfs has
// no compiler): RunC runs the program named by the SHA-256 of its source.
const CTwinsEnv = "BPFMAPS_CTWINS"

// CTwinsEmitEnv names a directory where RunC writes each C source (as
// SHA-256.c, with its compiler flags in SHA-256.flags) and skips the test,
// for the runner to compile the sources for another architecture. The runner
// runs the tests whose names match AgainstGCC or LayoutMatchesKernelHeader
// this way: a test calling RunC needs such a name to run in the matrix.
const CTwinsEmitEnv = "BPFMAPS_CTWINS_EMIT"

// HaveCTwins reports whether RunC runs programs compiled ahead of time
// (BPFMAPS_CTWINS is set) rather than calling gcc.
func HaveCTwins() bool { return os.Getenv(CTwinsEnv) != "" }

// RunC compiles the C program src with gcc and flags, runs it and returns its
// standard output. Tests hold the library's layouts and bytes to the C
// compiler's this way. In the kernel matrix's VMs it runs the program built
// ahead of time from the same source for the VM's architecture (see
// CTwinsEnv), so that the check runs on a big-endian kernel too; without
// gcc elsewhere the test skips (see RequireTool).
func RunC(t testing.TB, src string, flags ...string) []byte {
	t.Helper()
	sum := sha256.Sum256([]byte(strings.Join(flags, " ") + "\n" + src))
	name := hex.EncodeToString(sum[:])
	if dir := os.Getenv(CTwinsEmitEnv); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name+".c"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".flags"), []byte(strings.Join(flags, " ")), 0o644); err != nil {
			t.Fatal(err)
		}
		Skip(t, EmitOnly, fmt.Sprintf("%s: wrote the C source %s.c for the kernel matrix's runner", CTwinsEmitEnv, name))
	}
	bin := filepath.Join(os.Getenv(CTwinsEnv), name)
	if !HaveCTwins() {
		cc := RequireTool(t, "gcc")
		dir := t.TempDir()
		cfile := filepath.Join(dir, "prog.c")
		bin = filepath.Join(dir, "prog")
		if err := os.WriteFile(cfile, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		args := append(append([]string{}, flags...), "-o", bin, cfile)
		if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
			t.Fatalf("gcc %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	} else if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s: no C program built ahead of time from this source (%s): the runner writes the sources of tests matching AgainstGCC|LayoutMatchesKernelHeader only: %v",
			CTwinsEnv, name, err)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("run the C program %s: %v", bin, err)
	}
	return out
}
