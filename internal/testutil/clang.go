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
