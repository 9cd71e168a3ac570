package btf_test

import (
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/structcodec"
)

// seedBlobs are valid blobs of every kind in both byte orders.
func seedBlobs(f *testing.F) [][]byte {
	var out [][]byte
	for _, order := range []binary.AppendByteOrder{binary.LittleEndian, binary.BigEndian} {
		b := btf.Builder{Order: order}
		types := everyKind()
		for i := range types {
			b.Add(&types[i])
		}
		raw, err := b.Bytes()
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

// fuzzLayouts are Go types held against every struct of a fuzzed spec.
var fuzzLayouts = func() []*structcodec.Layout {
	var out []*structcodec.Layout
	for _, v := range []any{FlowKey{}, Conn{}, Packet{}, Bits{}, TaskEventString{}, [8]byte{}, uint32(0)} {
		l, err := structcodec.Compile(reflect.TypeOf(v))
		if err != nil {
			panic(err)
		}
		out = append(out, l)
	}
	return out
}()

// exercise walks every type of a parsed spec through the queries a user
// makes, Check included; on a spec that parsed, none may panic or loop.
func exercise(s *btf.Spec) {
	// Every other type decoded one by one, the rest by All at once.
	for id := s.FirstID(); id <= s.MaxID(); id += 2 {
		s.Type(id)
	}
	for id, t := range s.All() {
		for _, l := range fuzzLayouts {
			btf.Check(l, s, id)
		}
		s.Size(id)
		s.Align(id)
		s.Resolve(id)
		s.Name(id)
		s.ByName(t.Name)
		for _, m := range t.Members {
			s.Size(m.Type)
		}
	}
	s.Type(s.MaxID() + 1)
}

// FuzzParse feeds arbitrary bytes to Parse, and to ParseSplit on top of a
// small base: malformed blobs must give an error, never a panic or a hang.
func FuzzParse(f *testing.F) {
	seeds := seedBlobs(f)
	for _, raw := range seeds {
		f.Add(raw)
		f.Add(raw[:len(raw)-3])
		f.Add(raw[:30])
	}
	base, err := btf.Parse(seeds[0])
	if err != nil {
		f.Fatal(err)
	}
	// Split BTF on that base: types that refer to the base's.
	sb := btf.Builder{Base: base}
	td := sb.Add(&btf.Type{Kind: btf.KindTypedef, Name: "t", Ref: 4})
	sb.Struct("split", 80, btf.Member{Name: "s", Type: td}, btf.Member{Name: "a", Type: 1, BitOffset: 576})
	split, err := sb.Bytes()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(split)
	f.Fuzz(func(t *testing.T, raw []byte) {
		if s, err := btf.Parse(raw); err == nil {
			exercise(s)
		}
		if s, err := btf.ParseSplit(raw, base); err == nil {
			exercise(s)
		}
	})
}
