package btf_test

import (
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

func buildFunc(t *testing.T) ([]byte, btf.TypeID) {
	var b btf.Builder
	i := b.Int("int", 4, true)
	proto := b.FuncProto(i, btf.Member{Name: "ctx", Type: b.Ptr(0)})
	fn := b.Func("f", proto, btf.Static)
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return raw, fn
}

// The blob has the layout of include/uapi/linux/btf.h: a 24-byte header,
// 12-byte types with their trailing words, a string table that starts
// with the empty name.
func TestWriteLayout(t *testing.T) {
	raw, fn := buildFunc(t)
	le := binary.NativeEndian
	if le.Uint16(raw) != 0xeB9F || raw[2] != 1 || le.Uint32(raw[4:]) != 24 {
		t.Fatalf("bad header % x", raw[:24])
	}
	typeLen, strOff, strLen := le.Uint32(raw[12:]), le.Uint32(raw[16:]), le.Uint32(raw[20:])
	// INT 12+4, PTR 12, FUNC_PROTO 12+8, FUNC 12
	if typeLen != 16+12+20+12 || strOff != typeLen || int(24+strOff+strLen) != len(raw) {
		t.Fatalf("sections: types %d, strings at %d (%d bytes), blob %d bytes", typeLen, strOff, strLen, len(raw))
	}
	if fn != 4 {
		t.Fatalf("FUNC is type %d, want 4", fn)
	}
	if strs := string(raw[24+strOff:]); strs != "\x00int\x00ctx\x00f\x00" {
		t.Fatalf("strings %q", strs)
	}
}

// The kernel accepts it.
func TestWriteLoad(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	raw, _ := buildFunc(t)
	fd, err := sys.BTFLoad(raw)
	if err != nil {
		t.Fatal(err)
	}
	fd.Close()
}

// everyKind holds one type of every kind the kernel defines, with the
// kind-specific details set.
func everyKind() []btf.Type {
	return []btf.Type{
		{Kind: btf.KindInt, Name: "int", Size: 4, Encoding: btf.Signed, IntBits: 32}, // 1
		{Kind: btf.KindPtr, Ref: 1},                      // 2
		{Kind: btf.KindArray, Ref: 1, Index: 1, Len: 16}, // 3
		{Kind: btf.KindStruct, Name: "s", Size: 72, Members: []btf.Member{{Name: "a", Type: 1}, {Name: "arr", Type: 3, BitOffset: 32}}}, // 4
		{Kind: btf.KindUnion, Name: "u", Size: 4, KindFlag: true, Members: []btf.Member{{Name: "x", Type: 1, BitfieldSize: 3}, {Name: "y", Type: 1}}},
		{Kind: btf.KindEnum, Name: "e", Size: 4, KindFlag: true, Values: []btf.EnumValue{{Name: "A", Value: ^uint64(0)}, {Name: "B", Value: 7}}},
		{Kind: btf.KindFwd, Name: "later", KindFlag: true},
		{Kind: btf.KindTypedef, Name: "myint", Ref: 1}, // 8
		{Kind: btf.KindVolatile, Ref: 8},
		{Kind: btf.KindConst, Ref: 9},
		{Kind: btf.KindRestrict, Ref: 2},
		{Kind: btf.KindFuncProto, Ref: 1, Members: []btf.Member{{Name: "p", Type: 2}, {Type: 0}}}, // 12
		{Kind: btf.KindFunc, Name: "fn", Ref: 12, Linkage: btf.Global},
		{Kind: btf.KindVar, Name: "v", Ref: 1, Linkage: btf.Global}, // 14
		{Kind: btf.KindDatasec, Name: ".data", Size: 4, Vars: []btf.VarSecinfo{{Type: 14, Offset: 0, Size: 4}}},
		{Kind: btf.KindFloat, Name: "double", Size: 8},
		{Kind: btf.KindDeclTag, Name: "tag", Ref: 4, ComponentIdx: 1},
		{Kind: btf.KindTypeTag, Name: "user", Ref: 1},
		{Kind: btf.KindEnum64, Name: "e64", Size: 8, Values: []btf.EnumValue{{Name: "BIG", Value: 1 << 40}}},
	}
}

// Every kind survives a write and a parse, in both byte orders, and the
// parser tells the byte order from the magic.
func TestRoundTripBothByteOrders(t *testing.T) {
	for _, order := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		b := btf.Builder{Order: order}
		want := everyKind()
		for i := range want {
			if id := b.Add(&want[i]); id != btf.TypeID(i+1) {
				t.Fatalf("type %d got id %d", i+1, id)
			}
		}
		raw, err := b.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		s, err := btf.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", order, err)
		}
		if s.ByteOrder() != order.(binary.ByteOrder) {
			t.Errorf("parsed as %s, written %s", s.ByteOrder(), order)
		}
		if s.NumTypes() != len(want) {
			t.Fatalf("%s: %d types, want %d", order, s.NumTypes(), len(want))
		}
		for id, got := range s.All() {
			if diff := cmp.Diff(want[id-1], *got); diff != "" {
				t.Errorf("%s: type %d (%s) (-wrote +parsed):\n%s", order, id, got.Kind, diff)
			}
		}
		if n, err := s.Size(4); err != nil || n != 72 {
			t.Errorf("size of struct s: %d, %v", n, err)
		}
		if id, err := s.Resolve(10); err != nil || id != 1 {
			t.Errorf("const volatile myint resolves to %d, %v; want 1", id, err)
		}
		if got := s.Name(3); got != "int[16]" {
			t.Errorf("name of type 3: %q", got)
		}
	}
}
