package testutil

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOneDefinitionOfEachSentinel: the map conditions and the closed state
// are defined once, in sys (closed is os.ErrClosed itself): no other
// package of the module declares a variable of the same name, so callers
// have one value to match with errors.Is.
func TestOneDefinitionOfEachSentinel(t *testing.T) {
	owned := map[string]bool{"ErrKeyNotExist": true, "ErrKeyExist": true, "ErrFull": true, "ErrEmpty": true,
		"ErrReadOnly": true, "ErrNotSupported": true, "ErrClosed": true}
	root := filepath.Join("..", "..")
	fset := token.NewFileSet()
	found := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // another module (bench)
				}
			}
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				for _, name := range spec.(*ast.ValueSpec).Names {
					if owned[name.Name] {
						rel, _ := filepath.Rel(root, path)
						found[name.Name] = append(found[name.Name], filepath.ToSlash(rel))
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range owned {
		for _, file := range found[name] {
			switch {
			case name == "ErrClosed":
				t.Errorf("%s declares ErrClosed: a closed object's error wraps os.ErrClosed", file)
			case filepath.Dir(file) != "sys":
				t.Errorf("%s declares %s: the module's one definition is sys.%[2]s", file, name)
			}
		}
		if name != "ErrClosed" && len(found[name]) != 1 {
			t.Errorf("%s is declared %d times (%v), want once, in sys", name, len(found[name]), found[name])
		}
	}
}
