package btf

import (
	"fmt"
	"reflect"

	"github.com/bpfmaps/bpfmaps/structcodec"
)

// AddLayout adds the C type of a structcodec layout, with the types it
// needs, and returns its id: structs are named after the Go type and their
// members after the Go fields (blank fields are padding and left out),
// integers get their C names ("unsigned int", …), big-endian fields the
// typedefs __be16, __be32 and __be64, cstring fields char arrays. What
// Check accepts against the layout, it accepts against this type too.
// Types already added by AddLayout are reused.
func (b *Builder) AddLayout(l *structcodec.Layout) (TypeID, error) {
	id, err := b.layout(l, false, false)
	if err != nil {
		return 0, err
	}
	return id, b.err
}

type scalarKey struct {
	kind          reflect.Kind
	be, char      bool
	arrayIndexTyp bool
}

func (b *Builder) scalar(k scalarKey, make func() TypeID) TypeID {
	if b.scalars == nil {
		b.scalars = map[scalarKey]TypeID{}
	}
	if id, ok := b.scalars[k]; ok {
		return id
	}
	id := make()
	b.scalars[k] = id
	return id
}

var cInts = map[reflect.Kind]struct {
	name   string
	signed bool
}{
	reflect.Int8: {"signed char", true}, reflect.Uint8: {"unsigned char", false},
	reflect.Int16: {"short", true}, reflect.Uint16: {"unsigned short", false},
	reflect.Int32: {"int", true}, reflect.Uint32: {"unsigned int", false},
	reflect.Int64: {"long long", true}, reflect.Uint64: {"unsigned long long", false},
}

func (b *Builder) layout(l *structcodec.Layout, be, cstring bool) (TypeID, error) {
	t := l.Type()
	k := t.Kind()
	switch k {
	case reflect.Bool:
		return b.scalar(scalarKey{kind: k}, func() TypeID {
			return b.Add(&Type{Kind: KindInt, Name: "_Bool", Size: 1, Encoding: Bool, IntBits: 8})
		}), nil
	case reflect.Int8, reflect.Uint8, reflect.Int16, reflect.Uint16, reflect.Int32, reflect.Uint32, reflect.Int64, reflect.Uint64:
		if cstring && l.Size() == 1 {
			return b.char(), nil
		}
		c := cInts[k]
		plain := b.scalar(scalarKey{kind: k}, func() TypeID { return b.Int(c.name, uint32(l.Size()), c.signed) })
		if !be || l.Size() == 1 {
			return plain, nil
		}
		return b.scalar(scalarKey{kind: k, be: true}, func() TypeID {
			return b.Add(&Type{Kind: KindTypedef, Name: fmt.Sprintf("__be%d", l.Size()*8), Ref: plain})
		}), nil
	case reflect.Float32, reflect.Float64:
		name := map[reflect.Kind]string{reflect.Float32: "float", reflect.Float64: "double"}[k]
		return b.scalar(scalarKey{kind: k}, func() TypeID {
			return b.Add(&Type{Kind: KindFloat, Name: name, Size: uint32(l.Size())})
		}), nil
	case reflect.String: // cstring,size=N
		return b.array(b.char(), uint32(l.Size())), nil
	case reflect.Array:
		elem, err := b.layout(l.Elem(), be, cstring)
		if err != nil {
			return 0, err
		}
		return b.array(elem, uint32(l.Len())), nil
	case reflect.Struct:
		if id, ok := b.structs[l]; ok {
			return id, nil
		}
		fields := l.Fields()
		members := make([]Member, 0, len(fields))
		for _, f := range fields {
			if f.Name == "_" {
				continue
			}
			id, err := b.layout(f.Layout, f.BigEndian, f.CString)
			if err != nil {
				return 0, err
			}
			members = append(members, Member{Name: f.Name, Type: id, BitOffset: uint32(f.Offset) * 8})
		}
		id := b.Struct(cIdent(t.Name()), uint32(l.Size()), members...)
		if b.structs == nil {
			b.structs = map[*structcodec.Layout]TypeID{}
		}
		b.structs[l] = id
		return id, nil
	}
	return 0, fmt.Errorf("btf: no C type for Go %s", t)
}

func (b *Builder) char() TypeID {
	return b.scalar(scalarKey{kind: reflect.Uint8, char: true}, func() TypeID {
		return b.Add(&Type{Kind: KindInt, Name: "char", Size: 1, Encoding: Char, IntBits: 8})
	})
}

func (b *Builder) array(elem TypeID, n uint32) TypeID {
	index := b.scalar(scalarKey{arrayIndexTyp: true}, func() TypeID { return b.Int("__ARRAY_SIZE_TYPE__", 4, false) })
	return b.Add(&Type{Kind: KindArray, Ref: elem, Index: index, Len: n})
}

// cIdent makes a Go type name a C identifier, as the kernel wants names:
// generic instantiations (Pair[int32]) and package paths lose what C
// cannot spell.
func cIdent(name string) string {
	out := []byte(name)
	for i, c := range out {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			out[i] = '_'
		}
	}
	return string(out)
}
