package main

import (
	"testing"

	"github.com/bpfmaps/bpfmaps/btf"
)

// TestMemberInDeepAnonymousStructs sets a member that C reaches through
// ten anonymous structs, fewer than btf.MaxDepth, the one bound of every
// walk over BTF. Before, the CLI's member search stopped at 8 levels of
// its own and said there was no such member.
func TestMemberInDeepAnonymousStructs(t *testing.T) {
	var b btf.Builder
	u32 := b.Int("unsigned int", 4, false)
	id := b.Struct("", 4, btf.Member{Name: "deep", Type: u32})
	for range 10 {
		id = b.Struct("", 4, btf.Member{Type: id})
	}
	root := b.Struct("outer", 4, btf.Member{Type: id})
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	bt, err := newBTFType(spec, root)
	if err != nil {
		t.Fatal(err)
	}
	m, err := bt.member(root, "deep")
	if err != nil {
		t.Fatalf("member deep: %v", err)
	}
	if m.typ != u32 || m.bitOff != 0 {
		t.Errorf("member deep = type %d at bit %d, want type %d at bit 0", m.typ, m.bitOff, u32)
	}
}
