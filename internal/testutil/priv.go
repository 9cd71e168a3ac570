package testutil

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// asUserEnv marks the child process that RunAsUser starts; its value is
// the capabilities the child was given.
const asUserEnv = "BPFMAPS_TEST_AS_USER"

// AsUser reports whether this process is a copy of the test binary that
// RunAsUser started as an unprivileged user, and with which capabilities
// (setpriv's names, such as "bpf"; "" for none). A test calls it first and,
// in the child, runs the unprivileged half of itself instead of the
// privilege gate.
func AsUser() (caps string, child bool) {
	return os.LookupEnv(asUserEnv)
}

// RunAsUser runs the test t again in a copy of this test binary, as user
// nobody (65534) with no groups and only the capabilities caps (setpriv's
// comma-separated names, "bpf" for CAP_BPF; "" for none), with env added to
// its environment, and fails t unless that run passes. The child runs the
// same test function, which tells it is the child by AsUser. It needs
// setpriv (util-linux) and root, and skips like RequireTool without them.
func RunAsUser(t *testing.T, caps string, env ...string) {
	t.Helper()
	RequireBPF(t)
	setpriv := RequireTool(t, "setpriv")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(t.Name(), "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	set := "-all"
	if caps != "" {
		for _, c := range strings.Split(caps, ",") {
			set += ",+" + c
		}
	}
	cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps="+set, "--ambient-caps="+set,
		exe, "-test.run="+strings.Join(parts, "/"), "-test.count=1", "-test.v")
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), asUserEnv+"="+caps,
		// A race-enabled binary sleeps a second on exit by default.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	who := "nobody with capabilities [" + caps + "]"
	if err != nil {
		t.Fatalf("%s as %s: %v\n%s", t.Name(), who, err, out)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s as %s did not pass:\n%s", t.Name(), who, out)
	}
	t.Logf("%s as %s:\n%s", t.Name(), who, out)
}
