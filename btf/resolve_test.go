package btf_test

import (
	"testing"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/structcodec"
)

// TestResolveFuncVisitsTheChain: ResolveFunc passes each typedef and
// qualifier on the way, in order, and ends where Resolve does.
func TestResolveFuncVisitsTheChain(t *testing.T) {
	var b btf.Builder
	u32 := b.Int("unsigned int", 4, false)
	td := b.Add(&btf.Type{Kind: btf.KindTypedef, Name: "u32", Ref: u32})
	c := b.Add(&btf.Type{Kind: btf.KindConst, Ref: td})
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	var seen []btf.TypeID
	got, err := spec.ResolveFunc(c, func(id btf.TypeID, _ *btf.Type) { seen = append(seen, id) })
	if err != nil || got != u32 || len(seen) != 2 || seen[0] != c || seen[1] != td {
		t.Errorf("ResolveFunc(%d) = %d, %v, visiting %v; want %d, visiting [%d %d]", c, got, err, seen, u32, c, td)
	}
}

// TestCheckBigEndianTypedefsAsGenerated: Check and the generator agree
// on which typedefs are network-order integers. Before, Check took any
// typedef whose name starts with __be for one, so the uint32 that
// bpfcodegen writes for a "__be_flags" member failed Check.
func TestCheckBigEndianTypedefsAsGenerated(t *testing.T) {
	var b btf.Builder
	u32 := b.Int("unsigned int", 4, false)
	flags := b.Add(&btf.Type{Kind: btf.KindTypedef, Name: "__be_flags", Ref: u32})
	port := b.Add(&btf.Type{Kind: btf.KindTypedef, Name: "__be32", Ref: u32})
	b.Struct("s", 8, btf.Member{Name: "flags", Type: flags}, btf.Member{Name: "addr", Type: port, BitOffset: 32})
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	id, err := spec.TypeByName("struct s")
	if err != nil {
		t.Fatal(err)
	}
	type s struct {
		Flags uint32
		Addr  uint32 `bpf:"be"`
	}
	c, err := structcodec.For[s]()
	if err != nil {
		t.Fatal(err)
	}
	if err := btf.Check(c.Layout(), spec, id); err != nil {
		t.Errorf("Check: %v", err)
	}
}
