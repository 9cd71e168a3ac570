package btf_test

import (
	"testing"

	"github.com/bpfmaps/bpfmaps/btf"
)

// TestGoScalar holds the C -> Go mapping of scalars to what structcodec
// lays out as C does: the same size, and an alignment that explicit
// padding can match.
func TestGoScalar(t *testing.T) {
	for _, tc := range []struct {
		c    btf.Type
		want btf.GoType
	}{
		{btf.Type{Kind: btf.KindInt, Name: "_Bool", Size: 1, Encoding: btf.Bool}, btf.GoType{Expr: "bool", Size: 1, Align: 1}},
		{btf.Type{Kind: btf.KindInt, Name: "char", Size: 1}, btf.GoType{Expr: "uint8", Size: 1, Align: 1, Char: true}},
		{btf.Type{Kind: btf.KindInt, Name: "signed char", Size: 1, Encoding: btf.Signed | btf.Char}, btf.GoType{Expr: "int8", Size: 1, Align: 1, Char: true}},
		{btf.Type{Kind: btf.KindInt, Name: "int", Size: 4, Encoding: btf.Signed}, btf.GoType{Expr: "int32", Size: 4, Align: 4}},
		{btf.Type{Kind: btf.KindInt, Name: "unsigned long", Size: 8}, btf.GoType{Expr: "uint64", Size: 8, Align: 8}},
		{btf.Type{Kind: btf.KindInt, Name: "__int128", Size: 16, Encoding: btf.Signed}, btf.GoType{Expr: "[16]byte", Size: 16, Align: 1}},
		{btf.Type{Kind: btf.KindFloat, Name: "double", Size: 8}, btf.GoType{Expr: "float64", Size: 8, Align: 8}},
		{btf.Type{Kind: btf.KindFloat, Name: "long double", Size: 16}, btf.GoType{Expr: "[16]byte", Size: 16, Align: 1}},
		{btf.Type{Kind: btf.KindPtr}, btf.GoType{Expr: "uint64", Size: 8, Align: 8}},
		{btf.Type{Kind: btf.KindEnum, Size: 2}, btf.GoType{Expr: "uint16", Size: 2, Align: 2}},
	} {
		got, ok := btf.GoScalar(&tc.c)
		if !ok || got != tc.want {
			t.Errorf("GoScalar(%s) = %+v, %v; want %+v", tc.c.Describe(), got, ok, tc.want)
		}
	}
	if _, ok := btf.GoScalar(&btf.Type{Kind: btf.KindStruct, Size: 4}); ok {
		t.Error("GoScalar of a struct: ok, want not a scalar")
	}
}

// TestGoEnumValue: enumerators print in the enum's width and sign.
func TestGoEnumValue(t *testing.T) {
	unsigned := &btf.Type{Kind: btf.KindEnum, Size: 1}
	signed := &btf.Type{Kind: btf.KindEnum, Size: 1, KindFlag: true}
	v := btf.EnumValue{Name: "X", Value: 0xffff_ffff_ffff_ffff}
	if got := unsigned.GoEnumValue(v); got != "255" {
		t.Errorf("unsigned 1-byte enum: %s, want 255", got)
	}
	if got := signed.GoEnumValue(v); got != "-1" {
		t.Errorf("signed 1-byte enum: %s, want -1", got)
	}
}
