package progs

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImporters checks the rule of the package documentation: outside
// tests, only this package, the bpfmaps command (its demo) and the bench
// module import internal/progs. The library must not ship test programs.
func TestImporters(t *testing.T) {
	const self = "github.com/bpfmaps/bpfmaps/internal/progs"
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module source not found at %s: %v", root, err)
	}
	allowed := map[string]bool{"internal/progs": true, "cmd/bpfmaps": true}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); (err == nil && path != root) || d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") && path != root {
				return filepath.SkipDir // another module, or not a package
			}
			if rel == "bench" {
				// The bench module may use the test programs (ARCHITECTURE.md);
				// the kernel matrix's copy of the tree lacks its go.mod.
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == self && !allowed[filepath.Dir(rel)] {
				t.Errorf("%s imports %s outside a test; only tests and cmd/bpfmaps may", rel, self)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("checked only %d files under %s", checked, root)
	}
}
