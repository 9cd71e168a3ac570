package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// UnprivilegedEnv is set to 1 in the environment of the test run that
// RunUnprivileged starts.
const UnprivilegedEnv = "BPFMAPS_TEST_UNPRIVILEGED"

// Unprivileged reports whether this process is a test run started by
// RunUnprivileged: the test that started it does its unprivileged part.
func Unprivileged() bool { return os.Getenv(UnprivilegedEnv) == "1" }

// RunUnprivileged runs the test named test of this test binary again as
// the user nobody with no capabilities (setpriv, from util-linux), with
// files as its descriptors 3, 4, … and env added to its environment. It
// fails t when that run fails, and returns its output. The test tells the
// two runs apart with Unprivileged. Without setpriv the test skips (see
// RequireTool).
func RunUnprivileged(t testing.TB, test string, files []*os.File, env ...string) string {
	t.Helper()
	RequireUnprivilegedCommands(t)
	setpriv := RequireTool(t, "setpriv")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
		exe, "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Env = append(append(os.Environ(), UnprivilegedEnv+"=1",
		// A race-enabled binary sleeps a second on exit by default.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")), env...)
	cmd.ExtraFiles = files
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s as nobody without capabilities: %v\n%s", test, err, out)
	}
	return string(out)
}

// RequireUnprivilegedCommands skips the test on kernels before 6.5 whose
// kernel.unprivileged_bpf_disabled is set: there bpf(2) refuses every
// command to a process without CAP_BPF, BPF_OBJ_GET_INFO_BY_FD and
// BPF_OBJ_GET included, so no unprivileged use of a map is possible.
func RequireUnprivilegedCommands(t testing.TB) {
	t.Helper()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	release := unix.ByteSliceToString(u.Release[:])
	var major, minor int
	fmt.Sscanf(release, "%d.%d", &major, &minor)
	disabled, _ := os.ReadFile("/proc/sys/kernel/unprivileged_bpf_disabled")
	if (major < 6 || major == 6 && minor < 5) && strings.TrimSpace(string(disabled)) != "0" {
		Skip(t, Kernel, fmt.Sprintf("Linux %s before 6.5 with kernel.unprivileged_bpf_disabled=%s refuses every bpf(2) command without CAP_BPF",
			release, strings.TrimSpace(string(disabled))))
	}
}
