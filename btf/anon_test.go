package btf_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/structcodec"
)

// TestCheckFlexibleAndAnonymous holds the natural Go forms of a flexible
// array, a zero-length array and C11 anonymous structs and unions (whose
// members the parent reaches directly) against the BTF clang writes for
// them (fixtures.h: flex, marked, c11): accepted, like the forms that
// write the anonymous members as one nested field; wrong forms are still
// refused, naming the member.
func TestCheckFlexibleAndAnonymous(t *testing.T) {
	s, _ := loadFixtures(t, "bpfel")
	check := func(goType reflect.Type, cName string) error {
		l, err := structcodec.Compile(goType)
		if err != nil {
			t.Fatal(err)
		}
		return btf.Check(l, s, lookupStruct(t, s, cName))
	}
	for _, c := range []struct {
		what  string
		typ   reflect.Type
		cName string
		want  string // "" when accepted
	}{
		{"flexible array", reflect.TypeFor[struct {
			Len  uint32
			Data [0]uint64
		}](), "flex", ""},
		{"flexible array left out", reflect.TypeFor[struct {
			Len uint32
			_   [4]byte
		}](), "flex", ""},
		{"flexible array of the wrong type", reflect.TypeFor[struct {
			Len  uint32
			Data [0]float64
		}](), "flex", "a float stands for a C float or double"},
		{"zero-length marker", reflect.TypeFor[struct {
			A    uint32
			Mark [0]uint32
			B    uint32
		}](), "marked", ""},
		{"zero-length marker left out", reflect.TypeFor[struct{ A, B uint32 }](), "marked", ""},
		{"anonymous members as fields", reflect.TypeFor[struct {
			A uint32
			B uint16
			C uint16
			D uint32
			F uint64
		}](), "c11", ""},
		{"the float of the union", reflect.TypeFor[struct {
			A    uint32
			B, C uint16
			E    float32
			F    uint64
		}](), "c11", ""},
		{"the struct in the union", reflect.TypeFor[struct {
			A      uint32
			B, C   uint16
			Lo, Hi uint16
			F      uint64
		}](), "c11", ""},
		{"nested forms (bpfcodegen's)", reflect.TypeFor[struct {
			A       uint32
			BStruct struct{ B, C uint16 }
			DUnion  [4]byte
			F       uint64
		}](), "c11", ""},
		{"an integer over two members", reflect.TypeFor[struct {
			A  uint32
			BC uint32
			D  uint32
			F  uint64
		}](), "c11", "C member c11.b (offset 4, 2 bytes)"},
		{"a member missing", reflect.TypeFor[struct {
			A uint32
			B uint16
			_ [2]byte
			D uint32
			X uint32
			F uint64
		}](), "c11", "Go field struct { A uint32; B uint16; _ [2]uint8; D uint32; X uint32; F uint64 }.X (offset 12, 4 bytes)"},
		{"bool for the union's int", reflect.TypeFor[struct {
			A    uint32
			B, C uint16
			D    bool
			_    [3]byte
			F    uint64
		}](), "c11", "vs C member c11.d (offset 8, 4 bytes)"},
	} {
		err := check(c.typ, c.cName)
		if c.want == "" && err != nil {
			t.Errorf("%s: %v", c.what, err)
		}
		if c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: %v, want an error containing %q", c.what, err, c.want)
		}
	}
}
