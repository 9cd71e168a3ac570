package sys_test

import (
	"fmt"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"os"
	"strings"
	"testing"

	"github.com/bpfmaps/bpfmaps/sys"
)

// TestDocsMapKinds holds the map-kind table of docs/maps.md to the one it
// is generated from: sys's table of map types.
func TestDocsMapKinds(t *testing.T) {
	if os.Getenv("BPFMAPS_VMTEST") == "1" {
		testutil.Skip(t, testutil.NoTool, "the documentation is not in the kernel matrix's VM (the host run of scripts/test.sh covers this test)")
	}
	readme, err := os.ReadFile("../docs/maps.md")
	if err != nil {
		t.Fatal(err)
	}
	want := mapKindsTable()
	_, section, ok := strings.Cut(string(readme), "\n## Map kinds\n")
	if !ok {
		t.Fatalf("docs/maps.md has no \"## Map kinds\" section; it should hold:\n%s", want)
	}
	var got strings.Builder
	inTable := false
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "|") {
			inTable = true
			got.WriteString(line + "\n")
		} else if inTable || strings.HasPrefix(line, "#") {
			break
		}
	}
	if got.String() != want {
		t.Errorf("docs/maps.md's map-kind table differs from sys's table; replace it with:\n%s", want)
	}
}

// mapKindsTable renders docs/maps.md's table of map types from sys.
func mapKindsTable() string {
	var b strings.Builder
	b.WriteString("| type | since | what bpfmaps offers |\n|---|---|---|\n")
	for _, typ := range sys.MapTypes() {
		f, _ := typ.Facts()
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", typ, f.Since, offers(f))
	}
	return b.String()
}

// offers says in words what user space can do with maps of one type.
func offers(f sys.MapTypeFacts) string {
	var ops []string
	for _, op := range []struct {
		op   sys.MapOps
		word string
	}{
		{sys.OpLookup, "lookup"}, {sys.OpUpdate, "update"}, {sys.OpDelete, "delete"},
		{sys.OpNextKey, "iterate"}, {sys.OpBatch, "batch"},
		{sys.OpPush, "push"}, {sys.OpPop, "pop"}, {sys.OpPeek, "peek"}, {sys.OpMmap, "mmap"},
	} {
		switch {
		case f.Ops&op.op == 0:
		case op.op == sys.OpMmap && f.Key != sys.KeyNone:
			ops = append(ops, "mmap when created with BPF_F_MMAPABLE (`Map.Memory`)")
		default:
			ops = append(ops, op.word)
		}
	}
	parts := []string{strings.Join(ops, ", ")}
	switch f.Value {
	case sys.ValuePerCPU:
		parts = append(parts, "one value per CPU")
	case sys.ValueFD:
		if f.Instead == "" {
			parts = append(parts, "values are "+f.FDKind+" descriptors, stored from the process that holds them")
		}
	}
	if f.Store && f.Value == sys.ValueBytes {
		parts = append(parts, "`refs.EntryRef`")
	}
	if f.Instead != "" {
		parts = append(parts, "no element reads: "+f.Instead)
	}
	return strings.Join(parts, "; ")
}
