// Package layers holds the test that keeps the house's imports going
// down: cmd -> refs -> ringbuf, userringbuf, perf -> mapops -> btf ->
// structcodec -> sys.
package layers

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/bpfmaps/bpfmaps/"

// rank gives each library package its floor; a package may import only
// packages of a lower rank. Packages not
// listed (cmd, examples, vmtests, test support) stand above the library.
var rank = map[string]int{
	"sys":                0,
	"internal/ringproto": 1,
	"internal/epoll":     1,
	"structcodec":        2,
	"btf":                3,
	"mapops":             4,
	"ringbuf":            5,
	"userringbuf":        5,
	"perf":               5,
	"refs":               6,
}

// testSupport are the packages for tests and demos: the library imports
// them only from its tests.
var testSupport = []string{"internal/progs", "internal/testutil", "internal/asm", "structcodec/internal/"}

// layerOf returns the library layer of a package directory relative to
// the module ("structcodec/internal/shapes" is test support, not
// structcodec).
func layerOf(rel string) (string, bool) {
	for _, p := range testSupport {
		if rel == p || strings.HasSuffix(p, "/") && strings.HasPrefix(rel, p) {
			return "", false
		}
	}
	for l := range rank {
		if rel == l || strings.HasPrefix(rel, l+"/") {
			return l, true
		}
	}
	return "", false
}

// imports returns, for each package directory of the module (relative
// to root), what its non-test Go files import from the module.
func imports(t *testing.T, root string) map[string][]string {
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != root {
				return filepath.SkipDir // another module (bench)
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if dep, ok := strings.CutPrefix(p, module); ok {
				out[rel] = append(out[rel], dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// moduleRoot is the directory of the module's go.mod, above this test's.
func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module "+strings.TrimSuffix(module, "/")+"\n") {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod of " + module + " above the test's directory")
		}
		dir = up
	}
}

// violations lists every import of the packages in deps that goes up or
// sideways, or from the library into test support.
func violations(deps map[string][]string) []string {
	var bad []string
	for pkg, imps := range deps {
		from, lib := layerOf(pkg)
		if !lib {
			continue
		}
		for _, imp := range imps {
			for _, p := range testSupport {
				if imp == p || strings.HasSuffix(p, "/") && strings.HasPrefix(imp, p) {
					bad = append(bad, pkg+" imports test support "+imp+" outside its tests")
				}
			}
			to, ok := layerOf(imp)
			if !ok {
				if !strings.HasPrefix(imp, from+"/") && !strings.HasPrefix(imp, "internal/") {
					bad = append(bad, pkg+" imports "+imp+", which stands above the library")
				}
				continue
			}
			if to == from || rank[to] < rank[from] {
				continue
			}
			bad = append(bad, pkg+" imports "+imp+": imports go down (cmd -> refs -> ringbuf, userringbuf, perf -> mapops -> btf -> structcodec -> sys)")
		}
	}
	sort.Strings(bad)
	return bad
}

// TestImportsGoDown fails for every import of the module's own packages
// that goes up the house: sys importing anything of ours, structcodec
// importing btf, the ring packages importing each other, anything below
// refs importing refs, the library importing test programs outside
// tests.
func TestImportsGoDown(t *testing.T) {
	deps := imports(t, moduleRoot(t))
	for _, pkg := range []string{"sys", "btf", "structcodec", "mapops", "ringbuf", "userringbuf", "perf", "refs"} {
		if _, ok := deps[pkg]; !ok && pkg != "sys" && pkg != "structcodec" {
			t.Errorf("found no imports of package %s: the walk missed the source tree", pkg)
		}
	}
	for _, v := range violations(deps) {
		t.Error(v)
	}
}

// TestViolationsAreFound holds the checker against imports that break
// each rule, so that TestImportsGoDown cannot pass by checking nothing.
func TestViolationsAreFound(t *testing.T) {
	for _, tc := range []struct{ pkg, imp string }{
		{"sys", "structcodec"},
		{"structcodec", "btf"},
		{"btf", "mapops"},
		{"mapops", "ringbuf"},
		{"mapops", "userringbuf"},
		{"mapops", "perf"},
		{"ringbuf", "userringbuf"},
		{"userringbuf", "ringbuf"},
		{"perf", "ringbuf"},
		{"mapops", "perf"},
		{"mapops", "refs"},
		{"ringbuf", "refs"},
		{"refs", "cmd/bpfmaps"},
		{"mapops", "internal/progs"},
		{"btf", "internal/testutil"},
		{"internal/ringproto", "ringbuf"},
	} {
		if v := violations(map[string][]string{tc.pkg: {tc.imp}}); len(v) != 1 {
			t.Errorf("%s importing %s: got %q, want one violation", tc.pkg, tc.imp, v)
		}
	}
	for _, tc := range []struct{ pkg, imp string }{
		{"btf", "structcodec"},
		{"perf", "mapops"},
		{"btf", "sys"},
		{"ringbuf", "internal/ringproto"},
		{"refs", "mapops"},
		{"cmd/bpfmaps", "internal/progs"},
		{"mapops", "btf"},
		{"ringbuf", "mapops"},
		{"userringbuf", "mapops"},
		{"perf", "mapops"},
	} {
		if v := violations(map[string][]string{tc.pkg: {tc.imp}}); len(v) != 0 {
			t.Errorf("%s importing %s: got %q, want none", tc.pkg, tc.imp, v)
		}
	}
}
