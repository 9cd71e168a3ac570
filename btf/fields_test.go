package btf_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/bpfmaps/bpfmaps/btf"
)

// TestFields: the members C reaches through anonymous structs and unions,
// at their offsets from the outer struct, without bitfield padding.
func TestFields(t *testing.T) {
	var b btf.Builder
	u32 := b.Int("unsigned int", 4, false)
	inner := b.Add(&btf.Type{Kind: btf.KindUnion, Size: 4, Members: []btf.Member{{Name: "a", Type: u32}, {Name: "b", Type: u32}}})
	anon := b.Struct("", 8, btf.Member{Name: "c", Type: u32}, btf.Member{Type: inner, BitOffset: 32})
	outer := b.Struct("outer", 16, btf.Member{Name: "d", Type: u32}, btf.Member{Type: u32, BitOffset: 32}, btf.Member{Type: anon, BitOffset: 64})
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	ot, err := spec.Type(outer)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for m := range spec.Fields(ot) {
		got = append(got, fmt.Sprintf("%s@%d", m.Name, m.BitOffset))
	}
	if want := []string{"d@0", "c@64", "a@96", "b@96"}; !slices.Equal(got, want) {
		t.Errorf("Fields = %v, want %v", got, want)
	}
}
