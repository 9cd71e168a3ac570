package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// CompileBPF compiles the C source file src with clang for the BPF target
// (`clang -g -O2 -target bpf -c`, so the object carries BTF) into the
// test's temporary directory and returns the object's path; args come
// after those (a later -target bpfeb wins). It skips the test where clang
// is not installed (see RequireTool).
func CompileBPF(t testing.TB, src string, args ...string) string {
	t.Helper()
	clang := RequireTool(t, "clang")
	abs, err := filepath.Abs(src)
	if err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(t.TempDir(), filepath.Base(src)+".o")
	cmd := exec.Command(clang, append([]string{"-g", "-O2", "-target", "bpf", "-Wall", "-Werror", "-c", abs, "-o", obj}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("clang %s: %v\n%s", src, err, out)
	}
	if _, err := os.Stat(obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// OptionalTool returns the path of the named program, or "" when it is not
// installed, for a test that checks more with the tool than without it
// (the kernel matrix's VMs have no host tools). Under
// BPFMAPS_REQUIRE_TOOLS=1 a missing tool fails the test.
func OptionalTool(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(RequireToolsEnv) == "1" {
			RequireTool(t, name)
		}
		t.Logf("%s is not installed: the part of the test that needs it is left out", name)
		return ""
	}
	return path
}
