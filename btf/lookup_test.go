package btf_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

// TestTypeByNameExplainsDroppedTypes looks up a struct that clang left out
// of an object's BTF (nothing uses it): the error says why and how to
// keep it, and the line it suggests does keep it.
func TestTypeByNameExplainsDroppedTypes(t *testing.T) {
	dir := t.TempDir()
	compile := func(name, src string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return testutil.CompileBPF(t, path)
	}
	const decl = "struct event { unsigned int pid; char comm[16]; };\nint counter;\n"
	spec, err := btf.LoadFile(compile("dropped.bpf.c", decl))
	if err != nil {
		t.Fatal(err)
	}
	_, err = spec.TypeByName("event")
	const hint = `"struct event *unused __attribute__((unused));"`
	if err == nil || !strings.Contains(err.Error(), `no struct, union, enum or typedef named "event"`) ||
		!strings.Contains(err.Error(), "maps, global variables and functions") || !strings.Contains(err.Error(), hint) {
		t.Fatalf("TypeByName of a dropped struct: %v\nwant the reason and the hint %s", err, hint)
	}
	_, err = spec.TypeByName("union event")
	if err == nil || !strings.Contains(err.Error(), `"union event *unused __attribute__((unused));"`) {
		t.Errorf("TypeByName of a dropped union: %v", err)
	}

	// The suggested line keeps the type.
	spec, err = btf.LoadFile(compile("kept.bpf.c", decl+strings.Trim(hint, `"`)+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spec.TypeByName("event"); err != nil {
		t.Errorf("with the suggested line: %v", err)
	}
}
