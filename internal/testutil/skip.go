package testutil

import (
	"fmt"
	"os"
	"testing"
)

// Reason is why a test skips. Tests skip through Skip only, naming one of
// these; a skip for any other reason is a test that does not run.
type Reason uint8

// The reasons a test may skip for.
const (
	// NoPrivilege: this process may not do what the test needs (bpf(2),
	// mount, setpriv's capabilities). BPFMAPS_REQUIRE_BPF=1 (set by CI)
	// makes it a failure.
	NoPrivilege Reason = iota + 1
	// NoTool: a host program or file the test needs is missing, as in the
	// kernel matrix's VMs. BPFMAPS_REQUIRE_TOOLS=1 (set by scripts/test.sh
	// on the host) makes it a failure.
	NoTool
	// Kernel: the running kernel is not the one the test is about: it
	// lacks the feature, or the test checks what older kernels answer. The
	// detail names the kernel version or config. Never a failure.
	Kernel
	// Short: the test is long and -short was given. Never a failure.
	Short
	// EmitOnly: the run only writes C sources for the kernel matrix's
	// runner (BPFMAPS_CTWINS_EMIT). Never a failure.
	EmitOnly
)

var reasonNames = [...]string{
	NoPrivilege: "no privilege",
	NoTool:      "no tool",
	Kernel:      "kernel",
	Short:       "short",
	EmitOnly:    "emit only",
}

// String names the reason as a skip message starts with it.
func (r Reason) String() string {
	if r > 0 && int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// requiredBy returns the environment variable that turns a skip for r into
// a failure, or "".
func (r Reason) requiredBy() string {
	switch r {
	case NoPrivilege:
		return RequireEnv
	case NoTool:
		return RequireToolsEnv
	}
	return ""
}

// Skip skips t for reason, with detail saying what exactly is missing, or
// fails it when the environment variable of reason (BPFMAPS_REQUIRE_BPF for
// NoPrivilege, BPFMAPS_REQUIRE_TOOLS for NoTool) is 1. It is the one way a
// test of this module skips; a Reason outside the list fails the test.
func Skip(t testing.TB, reason Reason, detail string) {
	t.Helper()
	if reason == 0 || int(reason) >= len(reasonNames) {
		t.Fatalf("skip for %v, which is not a reason to skip: %s", reason, detail)
		return
	}
	if env := reason.requiredBy(); env != "" && os.Getenv(env) == "1" {
		t.Fatalf("%s=1 but the test would skip (%s): %s", env, reason, detail)
		return
	}
	t.Skipf("skip (%s): %s", reason, detail)
}
