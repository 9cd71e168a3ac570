package btf_test

import (
	"testing"

	"github.com/bpfmaps/bpfmaps/structcodec/btf"
	"github.com/google/go-cmp/cmp"
)

// TestDecodeOneEqualsAll holds the two ways a type is decoded against each
// other: Type one by one, and All for every type at once. Both must see
// the same types, and a type once returned is the same one later.
func TestDecodeOneEqualsAll(t *testing.T) {
	raw := blob(t, everyKind()...)
	one, err := btf.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	all, err := btf.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for id, want := range all.All() {
		got, err := one.Type(id)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("type %d decoded alone differs from All (-all +one):\n%s", id, diff)
		}
		if again, _ := all.Type(id); again != want {
			t.Errorf("type %d: Type returns another *Type than All did", id)
		}
		n++
	}
	if n != all.NumTypes() || n != len(everyKind()) {
		t.Errorf("All yields %d types, NumTypes %d, the blob holds %d", n, all.NumTypes(), len(everyKind()))
	}
}
