package btf_test

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/bpfmaps/bpfmaps/btf"
)

func blob(t *testing.T, types ...btf.Type) []byte {
	t.Helper()
	var b btf.Builder
	for i := range types {
		b.Add(&types[i])
	}
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Malformed blobs give an error that says what is wrong; queries on
// types that parse but cannot be measured fail instead of looping.
func TestMalformed(t *testing.T) {
	le := binary.NativeEndian
	good := blob(t, btf.Type{Kind: btf.KindInt, Name: "int", Size: 4, IntBits: 32})
	patch := func(off int, v uint32) []byte {
		b := append([]byte(nil), good...)
		le.PutUint32(b[off:], v)
		return b
	}
	for _, c := range []struct {
		what string
		raw  []byte
		want string
	}{
		{"empty", nil, "shorter than the 24-byte header"},
		{"bad magic", append([]byte{1, 2}, good[2:]...), "bad magic"},
		{"bad version", append(append([]byte(nil), good[:2]...), append([]byte{9}, good[3:]...)...), "version 9"},
		{"header length past the end", patch(4, 1000), "header length 1000"},
		{"type section past the end", patch(12, 1000), "type section [0, +1000) runs past"},
		{"string section past the end", patch(20, 1000), "string section"},
		{"truncated", good[:len(good)-1], "runs past"},
		{"name past the strings", patch(24, 500), "name offset 500 is past the string section"},
		{"unknown kind", patch(28, 31<<24), "unknown kind 31"},
		{"int too wide", patch(36, 64), "64 bits at bit 0 do not fit 4 bytes"},
		{"type id out of range", blob(t, btf.Type{Kind: btf.KindPtr, Ref: 7}), "type 1: its referenced type is type 7, past the last type 1"},
		{"member out of range", blob(t, btf.Type{Kind: btf.KindStruct, Name: "s", Size: 4, Members: []btf.Member{{Name: "m", Type: 9}}}), `member "m" is type 9`},
		{"member past the end", blob(t, btf.Type{Kind: btf.KindInt, Name: "int", Size: 4, IntBits: 32},
			btf.Type{Kind: btf.KindStruct, Name: "s", Size: 4, Members: []btf.Member{{Name: "m", Type: 1, BitOffset: 40}}}), "at bit 40 lies past the 4-byte size"},
		{"typedef loop", blob(t, btf.Type{Kind: btf.KindTypedef, Name: "a", Ref: 2}, btf.Type{Kind: btf.KindConst, Ref: 1}), "typedefs and qualifiers in a row (a loop?)"},
		{"truncated struct", blob(t, btf.Type{Kind: btf.KindStruct, Name: "s", Size: 4, Members: []btf.Member{{Name: "m", Type: 1}}})[:24+12+6], "runs past"},
	} {
		_, err := btf.Parse(c.raw)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v\nwant an error containing %q", c.what, err, c.want)
		}
	}

	// Sizes that overflow, and an array that contains itself, parse (the
	// kernel would refuse them) but cannot be measured.
	s, err := btf.Parse(blob(t,
		btf.Type{Kind: btf.KindInt, Name: "int", Size: 4, IntBits: 32},
		btf.Type{Kind: btf.KindArray, Ref: 1, Index: 1, Len: 1 << 30},
		btf.Type{Kind: btf.KindArray, Ref: 2, Index: 1, Len: 1 << 30},
		btf.Type{Kind: btf.KindArray, Ref: 4, Index: 1, Len: 2},
		btf.Type{Kind: btf.KindStruct, Name: "s", Size: 4, Members: []btf.Member{{Name: "self", Type: 5}}},
	))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Size(3); err == nil || !strings.Contains(err.Error(), "overflows 32 bits") {
		t.Errorf("size of int[1<<30][1<<30]: %v", err)
	}
	if _, err := s.Size(4); err == nil || !strings.Contains(err.Error(), "a loop?") {
		t.Errorf("size of an array of itself: %v", err)
	}
	if _, err := s.Align(5); err == nil || !strings.Contains(err.Error(), "contains itself") {
		t.Errorf("alignment of a struct that contains itself: %v", err)
	}
	if _, err := btf.ParseSplit(good, nil); err == nil {
		t.Error("ParseSplit without a base succeeds")
	}
}
