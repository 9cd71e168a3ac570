package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

// requireGo skips a test that loads packages when the go command is
// missing (as in the kernel VM matrix): go/build asks `go list` to find
// packages in module mode.
func requireGo(t *testing.T) {
	t.Helper()
	testutil.RequireTool(t, "go")
}

// codegentest is the package whose generated code the structcodec tests
// hold against the runtime codec.
const codegentest = "../../structcodec/internal/codegentest"

// TestGeneratedCodeIsUpToDate regenerates the checked-in code and requires
// it to be what is in the repository.
func TestGeneratedCodeIsUpToDate(t *testing.T) {
	requireGo(t)
	files, err := filepath.Glob(filepath.Join(codegentest, "*_bpf.go"))
	if err != nil || len(files) < 2 {
		t.Fatalf("generated files in %s: %v %v", codegentest, files, err)
	}
	for _, file := range files {
		have, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := bytes.Cut(have, []byte("\n"))
		args, ok := strings.CutPrefix(string(first), generatedHeader+" -type ")
		names, ok2 := strings.CutSuffix(args, "; DO NOT EDIT.")
		if !ok || !ok2 {
			t.Fatalf("%s: unexpected first line %q", file, first)
		}
		want, err := Generate(codegentest, strings.Split(names, ","))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(have, want) {
			t.Errorf("%s is stale: run go generate in %s", file, codegentest)
		}
	}
}

func TestGenerateErrors(t *testing.T) {
	requireGo(t)
	for _, tc := range []struct{ typ, want string }{
		{"Ptr", "structcodec: Ptr.Ptr: unsupported kind *int (pointers have no C layout)"},
		{"Int", "structcodec: Int.N: unsupported kind int (its size depends on the platform; use int32 or int64)"},
		{"Unsized", `structcodec: Unsized.Name: unsupported kind string (an unsized string; give it a size: bpf:"cstring,size=N")`},
		{"Nested", "structcodec: Nested.Inner.M: unsupported kind map[string]int (maps have no C layout)"},
		{"Pinned", "structcodec: Pinned.B: offset=4 overlaps A, which ends at 8"},
		{"Missing", "no type Missing in package bad"},
		{"Foreign", "Foreign.T.wall: unexported field of package time, which generated code cannot reach"},
		{"Generic", "Generic is generic: generate code for a type without type parameters"},
	} {
		_, err := Generate("testdata/bad", []string{tc.typ})
		if err == nil || err.Error() != tc.want {
			t.Errorf("Generate(%s) = %v, want %q", tc.typ, err, tc.want)
		}
	}
	src, err := Generate("testdata/bad", []string{"Good"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(src, []byte("func (v *Good) MarshalBPF(dst []byte) error {")) {
		t.Errorf("no MarshalBPF in\n%s", src)
	}
}

// TestLeadingCommaTags generates code for tags written with an empty name
// before the options (bpf:",be", bpf:",offset=8,be"), as for bpf:"be".
func TestLeadingCommaTags(t *testing.T) {
	requireGo(t)
	src, err := Generate("testdata/bad", []string{"Comma"})
	if err != nil {
		t.Fatalf("Generate(Comma): %v", err)
	}
	for _, want := range []string{
		"binary.BigEndian.PutUint16(dst[0:], uint16(v.A))",
		"binary.BigEndian.PutUint32(dst[8:], uint32(v.B))",
		"func (Comma) SizeBPF() int { return 12 }",
	} {
		if !bytes.Contains(src, []byte(want)) {
			t.Errorf("generated code lacks %q:\n%s", want, src)
		}
	}
}
