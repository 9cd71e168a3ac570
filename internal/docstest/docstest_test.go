package docstest

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/scanner"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

// A Go block of the documentation is either a whole file (its first line
// that is not a comment is a package clause), which must compile as it
// stands, or a fragment. A fragment is type-checked with
//
//   - the imports below: every package of the module a reader uses, and
//     the standard packages the pages use, by their usual names;
//   - the package-level names of prelude, which a fragment may use without
//     declaring them (ctx, counts, events, handle);
//   - its declarations (types, functions) at package level when it has no
//     statements, and otherwise its whole text as the body of a function
//     that returns an error, so that "return err" works.
//
// In a fragment, unused variables and imports are allowed (they are what
// a fragment leaves for the reader to use); every other error fails the
// test with the page's name and line.
var imports = []string{
	"context",
	"encoding/binary",
	"errors",
	"fmt",
	"os",
	"time",
	"unsafe",

	"golang.org/x/sys/unix",

	"github.com/bpfmaps/bpfmaps/mapops",
	"github.com/bpfmaps/bpfmaps/perf",
	"github.com/bpfmaps/bpfmaps/refs",
	"github.com/bpfmaps/bpfmaps/ringbuf",
	"github.com/bpfmaps/bpfmaps/structcodec",
	"github.com/bpfmaps/bpfmaps/btf",
	"github.com/bpfmaps/bpfmaps/sys",
	"github.com/bpfmaps/bpfmaps/userringbuf",
}

// prelude declares the names a fragment may use without declaring them.
const prelude = `
// ctx is the context of a blocking call.
var ctx context.Context

// counts is a hash map of uint32 keys and uint64 values.
var counts *mapops.Map

// events is a BPF_MAP_TYPE_RINGBUF map.
var events *mapops.Map

// handle is what a program does with one record.
func handle(sample []byte) {}
`

// docs returns the repository's documentation pages, relative to its
// root.
func docs(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob("../../*.md")
	if err != nil {
		t.Fatal(err)
	}
	more, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	pages = append(pages, more...)
	if len(pages) == 0 && os.Getenv("BPFMAPS_VMTEST") == "1" {
		testutil.Skip(t, testutil.NoTool, "the documentation is not in the kernel matrix's VM (the host run of scripts/test.sh covers this test)")
	}
	for i, p := range pages {
		pages[i] = strings.TrimPrefix(filepath.ToSlash(p), "../../")
	}
	return pages
}

// TestDocsCompile type-checks every Go block of the documentation.
func TestDocsCompile(t *testing.T) {
	if os.Getenv("BPFMAPS_VMTEST") == "1" {
		testutil.Skip(t, testutil.NoTool, "the go command is not in the kernel matrix's VM (the host run of scripts/test.sh covers this test)")
	}
	pages := docs(t)
	imp := exportImporter(t)
	n := 0
	for _, page := range pages {
		text, err := os.ReadFile(filepath.Join("../..", page))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range goBlocks(page, text) {
			n++
			for _, err := range check(b, imp) {
				t.Error(err)
			}
		}
	}
	// The README shows the example program and a snippet for each main
	// package: finding none means the extraction is broken.
	if n < 10 {
		t.Errorf("found %d Go blocks in %s; want at least 10", n, strings.Join(pages, ", "))
	}
	t.Logf("%d Go blocks in %d pages", n, len(pages))
}

// TestCheckNamesThePlace: a block that does not compile is reported with
// its page and the line of the error in the page.
func TestCheckNamesThePlace(t *testing.T) {
	if os.Getenv("BPFMAPS_VMTEST") == "1" {
		testutil.Skip(t, testutil.NoTool, "the go command is not in the kernel matrix's VM (the host run of scripts/test.sh covers this test)")
	}
	imp := exportImporter(t)
	page := "# Title\n\nText.\n\n```go\nm, err := mapops.Open(\"/sys/fs/bpf/x\")\nn, err := m.LookupInt(7)\nvar s string = n\n```\n\n" +
		"```go\npackage main\n\nimport \"fmt\"\n\nfunc main() {}\n```\n\n" +
		"```go\ntype T struct{ A uint32 }\n\nfunc (t T) Size() int { return undefinedName }\n```\n\n" +
		"```go\nfor {\n```\n\n" +
		"```go\nn, err := counts.LookupInt(7) // unused n and err are fine in a fragment\n```\n"
	blocks := goBlocks("docs/x.md", []byte(page))
	if len(blocks) != 5 {
		t.Fatalf("found %d blocks, want 5", len(blocks))
	}
	want := [][]string{
		{"docs/x.md:8:"},         // string = uint64
		{"docs/x.md:14:", "fmt"}, // a whole file must not leave an import unused
		{"docs/x.md:22:", "undefinedName"},
		{"docs/x.md:26:"}, // does not parse: named at its last line
		nil,
	}
	for i, b := range blocks {
		errs := check(b, imp)
		if len(want[i]) == 0 {
			if len(errs) != 0 {
				t.Errorf("block %d: %v, want no error", i, errs)
			}
			continue
		}
		if len(errs) == 0 {
			t.Errorf("block %d: no error, want one naming %q", i, want[i])
			continue
		}
		for _, w := range want[i] {
			if !strings.Contains(errs[0].Error(), w) {
				t.Errorf("block %d: %v, want it to name %q", i, errs[0], w)
			}
		}
	}
}

// A block is one ```go block of a page.
type block struct {
	page string // relative to the repository's root
	line int    // of the block's first line of code in the page
	code string
}

// goBlocks returns the ```go blocks of a Markdown page.
func goBlocks(page string, text []byte) []block {
	var blocks []block
	var cur *block
	var code strings.Builder
	fence := ""
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		l := sc.Text()
		trimmed := strings.TrimLeft(l, " ")
		switch {
		case fence == "" && strings.HasPrefix(trimmed, "```"):
			fence = trimmed[:len(trimmed)-len(strings.TrimLeft(trimmed, "`"))]
			if strings.TrimSpace(strings.TrimPrefix(trimmed, fence)) == "go" {
				cur = &block{page: page, line: line + 1}
				code.Reset()
			}
		case fence != "" && strings.HasPrefix(trimmed, fence) && strings.TrimSpace(strings.TrimLeft(trimmed, "`")) == "":
			if cur != nil {
				cur.code = code.String()
				blocks = append(blocks, *cur)
				cur = nil
			}
			fence = ""
		case cur != nil:
			code.WriteString(l)
			code.WriteByte('\n')
		}
	}
	return blocks
}

// isFile reports whether code is a whole Go file: its first line that is
// neither blank nor a comment is a package clause.
func isFile(code string) bool {
	for _, l := range strings.Split(code, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "//") {
			continue
		}
		return strings.HasPrefix(l, "package ")
	}
	return false
}

// check type-checks one block and returns its errors, each naming the
// page and the line in it.
func check(b block, imp types.Importer) []error {
	fset := token.NewFileSet()
	at := fmt.Sprintf("//line %s:%d\n", b.page, b.line)
	var files []*ast.File
	soft := false // whether unused variables and imports are allowed
	if isFile(b.code) {
		f, err := parser.ParseFile(fset, "block.go", at+b.code, parser.ParseComments)
		if err != nil {
			return []error{b.parseError(err)}
		}
		files = append(files, f)
	} else {
		soft = true
		var head strings.Builder
		head.WriteString("package fragment\n\nimport (\n")
		for _, p := range imports {
			fmt.Fprintf(&head, "\t%q\n", p)
		}
		head.WriteString(")\n")
		pre, err := parser.ParseFile(fset, "prelude.go", head.String()+prelude, 0)
		if err != nil {
			return []error{fmt.Errorf("the test's prelude: %v", err)}
		}
		files = append(files, pre)
		// Declarations only, at package level; else statements in a
		// function body.
		f, err := parser.ParseFile(fset, "block.go", head.String()+at+b.code, parser.ParseComments)
		if err != nil {
			f, err = parser.ParseFile(fset, "block.go", head.String()+"func _() error {\n"+at+b.code+"\nreturn nil\n}\n", parser.ParseComments)
		}
		if err != nil {
			return []error{b.parseError(err)}
		}
		files = append(files, f)
	}
	var errs []error
	conf := types.Config{
		Importer: imp,
		Error: func(err error) {
			if te, ok := err.(types.Error); ok && te.Soft && soft {
				return
			}
			errs = append(errs, err)
		},
	}
	conf.Check("fragment", fset, files, nil)
	return errs
}

// parseError names the page and line of a syntax error; an error past
// the block's end (a block that does not end) is named at its last line.
func (b block) parseError(err error) error {
	list, ok := err.(scanner.ErrorList)
	if !ok || len(list) == 0 {
		return err
	}
	e := list[0]
	last := b.line + strings.Count(b.code, "\n") - 1
	if e.Pos.Filename != b.page || e.Pos.Line > last {
		e.Pos = token.Position{Filename: b.page, Line: last}
	}
	if len(list) > 1 {
		return fmt.Errorf("%s (and %d more errors)", e, len(list)-1)
	}
	return e
}

// exportImporter returns an importer that reads the export data the go
// command writes for the packages of imports and their dependencies.
func exportImporter(t *testing.T) types.Importer {
	t.Helper()
	goTool := testutil.RequireTool(t, "go")
	cmd := exec.Command(goTool, append([]string{"list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}"}, imports...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export: %v\n%s", err, stderr.Bytes())
	}
	export := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, file, _ := strings.Cut(l, "\t")
		if file != "" {
			export[path] = file
		}
	}
	for _, p := range imports {
		if _, ok := export[p]; !ok && !slices.Contains([]string{"unsafe"}, p) {
			t.Fatalf("go list -export gave no export data for %s", p)
		}
	}
	return importer.ForCompiler(token.NewFileSet(), "gc", func(path string) (io.ReadCloser, error) {
		file, ok := export[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s (add it to the test's imports)", path)
		}
		return os.Open(file)
	})
}

// TestDocsLinks: every relative link of the documentation names a file
// of the repository, and every #fragment a heading of the page it points
// to, so that moving a section does not leave a reader at a dead end.
func TestDocsLinks(t *testing.T) {
	pages := docs(t)
	anchors := map[string]map[string]bool{}
	for _, page := range pages {
		text, err := os.ReadFile(filepath.Join("../..", page))
		if err != nil {
			t.Fatal(err)
		}
		anchors[page] = headings(text)
	}
	n := 0
	for _, page := range pages {
		text, err := os.ReadFile(filepath.Join("../..", page))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range links(text) {
			n++
			if err := checkLink(page, l.target, anchors); err != nil {
				t.Errorf("%s:%d: link %s: %v", page, l.line, l.target, err)
			}
		}
	}
	if n < 10 {
		t.Errorf("found %d relative links in %s; want at least 10", n, strings.Join(pages, ", "))
	}
}

// checkLink checks one relative link of page.
func checkLink(page, target string, anchors map[string]map[string]bool) error {
	file, frag, _ := strings.Cut(target, "#")
	dest := page // a bare #fragment is a heading of the page itself
	if file != "" {
		dest = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(page), file)))
		if strings.HasPrefix(dest, "../") {
			return fmt.Errorf("leaves the repository")
		}
		if _, err := os.Stat(filepath.Join("../..", dest)); err != nil {
			return fmt.Errorf("no file %s", dest)
		}
	}
	if frag == "" {
		return nil
	}
	a, ok := anchors[dest]
	if !ok {
		return fmt.Errorf("#%s points into %s, which is not a documentation page", frag, dest)
	}
	if !a[frag] {
		return fmt.Errorf("%s has no heading #%s", dest, frag)
	}
	return nil
}

// A link is the target of a Markdown link, outside code.
type link struct {
	line   int
	target string
}

// links returns the relative links of a Markdown page: inline links
// [text](target) outside fenced blocks and code spans, except those with
// a scheme (https:, mailto:).
func links(text []byte) []link {
	var out []link
	fenced := false
	for i, l := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, " "), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		l = stripCodeSpans(l)
		for {
			j := strings.Index(l, "](")
			if j < 0 {
				break
			}
			l = l[j+2:]
			end := strings.IndexByte(l, ')')
			if end < 0 {
				break
			}
			target := l[:end]
			l = l[end+1:]
			if target == "" || strings.Contains(target, ":") {
				continue
			}
			out = append(out, link{line: i + 1, target: target})
		}
	}
	return out
}

// stripCodeSpans removes `code` spans from a line.
func stripCodeSpans(l string) string {
	var b strings.Builder
	in := false
	for _, r := range l {
		if r == '`' {
			in = !in
			continue
		}
		if !in {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// headings returns the anchors GitHub gives the headings of a Markdown
// page: lower case, punctuation dropped, spaces as hyphens, and -1, -2, …
// after a repeated one.
func headings(text []byte) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	fenced := false
	for _, l := range strings.Split(string(text), "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, " "), "```") {
			fenced = !fenced
			continue
		}
		if fenced || !strings.HasPrefix(l, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(l, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		a := b.String()
		if k := seen[a]; k > 0 {
			anchors[fmt.Sprintf("%s-%d", a, k)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors
}

// TestLinkCheckFindsDeadEnds: a link to a missing file, or to a heading a
// page does not have, is reported; links GitHub resolves are not.
func TestLinkCheckFindsDeadEnds(t *testing.T) {
	if os.Getenv("BPFMAPS_VMTEST") == "1" {
		// checkLink looks for the files it is given in the tree.
		testutil.Skip(t, testutil.NoTool, "the documentation is not in the kernel matrix's VM (the host run of scripts/test.sh covers this test)")
	}
	page := []byte("# Maps: sys and mapops\n\n## sys: the system call\n\n## Per-CPU values\n\n## Per-CPU values\n\n```sh\n# not a heading\n```\n" +
		"See [a](maps.md#sys-the-system-call), [b](#per-cpu-values-1), `[c](nowhere.md)`, [d](https://example.com/x.md).\n")
	anchors := map[string]map[string]bool{"docs/maps.md": headings(page), "README.md": {}}
	for _, a := range []string{"maps-sys-and-mapops", "sys-the-system-call", "per-cpu-values", "per-cpu-values-1"} {
		if !anchors["docs/maps.md"][a] {
			t.Errorf("headings lack #%s: %v", a, anchors["docs/maps.md"])
		}
	}
	if anchors["docs/maps.md"]["not-a-heading"] {
		t.Error("a comment in a code block was taken for a heading")
	}
	ls := links(page)
	if len(ls) != 2 || ls[0].target != "maps.md#sys-the-system-call" || ls[1].target != "#per-cpu-values-1" || ls[0].line != 12 {
		t.Errorf("links = %v, want the two outside code and without a scheme, on line 12", ls)
	}
	for _, l := range ls {
		if err := checkLink("docs/maps.md", l.target, anchors); err != nil {
			t.Errorf("%s: %v", l.target, err)
		}
	}
	for target, want := range map[string]string{
		"maps.md#no-such-heading": "has no heading #no-such-heading",
		"nowhere.md":              "no file docs/nowhere.md",
		"../../etc/passwd":        "leaves the repository",
		"../LICENSE#x":            "not a documentation page",
	} {
		err := checkLink("docs/maps.md", target, anchors)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("link %s: %v, want an error saying %q", target, err, want)
		}
	}
}
