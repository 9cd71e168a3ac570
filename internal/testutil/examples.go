package testutil

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
)

// RunExamples runs the examples of a package that talk to the kernel.
//
// Such examples cannot carry an "// Output:" comment: go test runs every
// example that has one, and an example cannot skip, so without privileges
// the package's tests would fail. They are written without it (go test
// then only compiles them) and end with a "// Prints:" comment instead,
// which godoc shows with the code. RunExamples, called from a test that has
// passed the privilege gate, runs each function of examples (name ->
// function), captures what it writes to standard output and compares it
// with the "// Prints:" comment of the function of that name in file. Every
// Example function of file must be in examples, and have the comment.
func RunExamples(t *testing.T, file string, examples map[string]func()) {
	t.Helper()
	want := printsComments(t, file)
	for name := range want {
		if examples[name] == nil {
			t.Errorf("%s: %s is not run by the test", file, name)
		}
	}
	names := make([]string, 0, len(examples))
	for name := range examples {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("%s has no Example function %s with a // Prints: comment", file, name)
			}
			if got := stdout(t, examples[name]); strings.TrimSpace(got) != w {
				t.Errorf("%s printed\n%s\nwant\n%s", name, got, w)
			}
		})
	}
}

// printsComments returns the "// Prints:" text of every Example function
// of file, by function name.
func printsComments(t *testing.T, file string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || !strings.HasPrefix(fn.Name.Name, "Example") || fn.Body == nil {
			continue
		}
		for _, cg := range f.Comments {
			if cg.Pos() < fn.Body.Lbrace || cg.End() > fn.Body.Rbrace {
				continue
			}
			if text, ok := strings.CutPrefix(cg.Text(), "Prints:"); ok {
				want[fn.Name.Name] = strings.TrimSpace(text)
			}
		}
		if _, ok := want[fn.Name.Name]; !ok {
			t.Errorf("%s: %s has no // Prints: comment", file, fn.Name.Name)
		}
	}
	return want
}

// stdout runs f and returns what it wrote to os.Stdout.
func stdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		r.Close()
		out <- string(b)
	}()
	defer func() { // also when f fails the test
		os.Stdout = saved
		w.Close()
	}()
	f()
	os.Stdout = saved
	w.Close()
	return <-out
}
