package main

import (
	"path/filepath"
	"testing"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

// TestIntegerWidthsMatchClang generates Go types for a struct with a
// member of every C integer width, each after a smaller member (128-bit
// integers are 16-byte aligned), and holds the generated layout to the
// offsets clang wrote into the BTF, to btf.Check, and to gcc's sizeof,
// offsetof and bytes on the host.
func TestIntegerWidthsMatchClang(t *testing.T) {
	requireGo(t)
	obj := testutil.CompileBPF(t, filepath.Join("testdata", "ints", "ints.bpf.c"))
	spec, err := btf.LoadELFFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	_, twins := generateTwins(t, spec, []string{"ints", "with128", "after8"})
	for _, tw := range twins {
		id, err := spec.Lookup(tw.cName[len("struct "):], btf.KindStruct)
		if err != nil {
			t.Fatal(err)
		}
		ct, _ := spec.Type(id)
		if tw.layout.Size() != int(ct.Size) {
			t.Errorf("%s: Go size %d, clang %d", tw.cName, tw.layout.Size(), ct.Size)
		}
		offsets := map[string]int{}
		for _, f := range tw.layout.Fields() {
			if f.Name != "_" {
				offsets[tw.layout.Type().Field(f.Index).Tag.Get("btf")] = f.Offset
			}
		}
		for _, m := range ct.Members {
			if got, ok := offsets[m.Name]; !ok {
				t.Errorf("%s.%s: no Go field", tw.cName, m.Name)
			} else if want := int(m.BitOffset / 8); got != want {
				t.Errorf("%s.%s (%s): Go offset %d, clang %d", tw.cName, m.Name, spec.Name(m.Type), got, want)
			}
		}
	}
	inc, err := filepath.Abs(filepath.Join("testdata", "ints", "ints.h"))
	if err != nil {
		t.Fatal(err)
	}
	holdAgainstC(t, testutil.RequireTool(t, "gcc"), inc, twins)
}
