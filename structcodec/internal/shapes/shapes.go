// Package shapes generates random struct shapes for the structcodec tests:
// each shape is a Go type with bpf tags (built with reflect.StructOf, or
// written as Go source) and its C twin, so that tests can hold the codec
// against gcc and the generated code against the runtime codec.
package shapes

import (
	"fmt"
	"go/format"
	"math/rand/v2"
	"reflect"
	"strings"

	"github.com/bpfmaps/bpfmaps/structcodec"
)

// A Shape is a random struct, written both as a Go type and as its C twin.
type Shape struct {
	Name   string
	Packed bool
	Fields []field
	Type   reflect.Type // built with reflect.StructOf
}

type field struct {
	name   string
	scalar string // u8 … u64, i8 … i64, f32, f64, bool; "" for the kinds below
	nested *Shape
	text   int   // cstring [N]byte when > 0 (textStr: a string of that size)
	str    bool  // the cstring is a Go string with size=N
	nul    bool  // the cstring has the nul option: room for a NUL terminator
	dims   []int // array dimensions, outermost first
	be     bool
	pad    int // explicit padding before the field: offset=N in Go, char[pad] in C
	blank  bool
}

var scalars = []struct {
	name, c string
	t       reflect.Type
	size    int
}{
	{"u8", "uint8_t", reflect.TypeFor[uint8](), 1},
	{"i8", "int8_t", reflect.TypeFor[int8](), 1},
	{"u16", "uint16_t", reflect.TypeFor[uint16](), 2},
	{"i16", "int16_t", reflect.TypeFor[int16](), 2},
	{"u32", "uint32_t", reflect.TypeFor[uint32](), 4},
	{"i32", "int32_t", reflect.TypeFor[int32](), 4},
	{"u64", "uint64_t", reflect.TypeFor[uint64](), 8},
	{"i64", "int64_t", reflect.TypeFor[int64](), 8},
	{"f32", "float", reflect.TypeFor[float32](), 4},
	{"f64", "double", reflect.TypeFor[float64](), 8},
	{"bool", "_Bool", reflect.TypeFor[bool](), 1},
}

func scalarInfo(name string) (c string, t reflect.Type, size int) {
	for _, s := range scalars {
		if s.name == name {
			return s.c, s.t, s.size
		}
	}
	panic(name)
}

// Random returns n shapes from a generator seeded with seed; later shapes
// nest earlier ones.
func Random(seed uint64, n int) []*Shape {
	r := rand.New(rand.NewPCG(seed, 0))
	var out []*Shape
	for k := range n {
		s := &Shape{Name: fmt.Sprintf("S%d", k), Packed: r.IntN(5) == 0}
		nf := 1 + r.IntN(8)
		for i := range nf {
			f := field{name: fmt.Sprintf("F%d", i)}
			switch x := r.IntN(100); {
			case x < 12 && k > 0:
				f.nested = out[r.IntN(k)]
			case x < 20:
				f.text = 2 + r.IntN(20)
				f.str = r.IntN(2) == 0
				f.nul = f.text%3 == 0 // no draw from r: the shapes stay those of the seed
			default:
				f.scalar = scalars[r.IntN(len(scalars))].name
				f.be = f.scalar[0] != 'f' && f.scalar != "bool" && r.IntN(3) == 0
			}
			if !f.str && r.IntN(5) == 0 {
				for range 1 + r.IntN(2) {
					f.dims = append(f.dims, 1+r.IntN(4))
				}
			}
			if r.IntN(10) == 0 {
				f.pad = r.IntN(4)
				if !s.Packed {
					f.pad *= f.align()
				}
			}
			f.blank = f.pad > 0 && r.IntN(2) == 0
			s.Fields = append(s.Fields, f)
		}
		s.Type = s.goType()
		out = append(out, s)
	}
	return out
}

// size and align compute the C layout independently of the codec, only to
// place explicit padding; gcc then checks everything.
func (s *Shape) sizeAlign() (size, align int) {
	end, align := 0, 1
	for _, f := range s.Fields {
		a := f.align()
		if s.Packed {
			a = 1
		}
		end = (end+a-1)/a*a + f.pad + f.size()
		align = max(align, a)
	}
	return (end + align - 1) / align * align, align
}

func (f field) elemSizeAlign() (int, int) {
	switch {
	case f.nested != nil:
		return f.nested.sizeAlign()
	case f.text > 0:
		return f.text, 1
	}
	_, _, n := scalarInfo(f.scalar)
	return n, n
}

func (f field) align() int { _, a := f.elemSizeAlign(); return a }

func (f field) size() int {
	n, _ := f.elemSizeAlign()
	for _, d := range f.dims {
		n *= d
	}
	return n
}

func (s *Shape) goType() reflect.Type {
	sfs, _ := s.goFields()
	return reflect.StructOf(sfs)
}

// goFields returns the Go struct fields of s and their types as Go source.
func (s *Shape) goFields() (sfs []reflect.StructField, exprs []string) {
	add := func(sf reflect.StructField, expr string) {
		sfs = append(sfs, sf)
		exprs = append(exprs, expr)
	}
	if s.Packed {
		add(reflect.StructField{Name: "_", PkgPath: "shapes", Type: reflect.TypeFor[structcodec.Packed]()}, "structcodec.Packed")
	}
	end := 0
	for _, f := range s.Fields {
		var t reflect.Type
		var expr string
		var tags []string
		switch {
		case f.nested != nil:
			t, expr = f.nested.Type, f.nested.Name
		case f.str:
			t, expr = reflect.TypeFor[string](), "string"
			tags = append(tags, "cstring", fmt.Sprintf("size=%d", f.text))
			if f.nul {
				tags = append(tags, "nul")
			}
		case f.text > 0:
			t, expr = reflect.ArrayOf(f.text, reflect.TypeFor[byte]()), fmt.Sprintf("[%d]byte", f.text)
			if len(f.dims) == 0 {
				tags = append(tags, "cstring")
				if f.nul {
					tags = append(tags, "nul")
				}
			}
		default:
			_, t, _ = scalarInfo(f.scalar)
			expr = t.String()
		}
		for i := len(f.dims) - 1; i >= 0; i-- {
			t = reflect.ArrayOf(f.dims[i], t)
			expr = fmt.Sprintf("[%d]%s", f.dims[i], expr)
		}
		if f.be {
			tags = append(tags, "be")
		}
		a := f.align()
		if s.Packed {
			a = 1
		}
		off := (end+a-1)/a*a + f.pad
		if f.blank {
			add(reflect.StructField{Name: "_", PkgPath: "shapes", Type: reflect.ArrayOf(off-end, reflect.TypeFor[byte]())}, fmt.Sprintf("[%d]byte", off-end))
		} else if f.pad > 0 {
			tags = append(tags, fmt.Sprintf("offset=%d", off))
		}
		end = off + f.size()
		var tag reflect.StructTag
		if len(tags) > 0 {
			tag = reflect.StructTag(`bpf:"` + strings.Join(tags, ",") + `"`)
		}
		add(reflect.StructField{Name: f.name, Type: t, Tag: tag}, expr)
	}
	return sfs, exprs
}

// The shapes of codegentest's shapes.go.
const (
	CheckedInSeed  = 7
	CheckedInCount = 120
)

// GoSource returns a Go file of package pkg that declares shapes as named
// types, lists them in a variable Shapes (pointers to zero values) and
// has bpfcodegen generate their methods.
func GoSource(pkg, cmdline string, shapes []*Shape) ([]byte, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "// Code generated by %s; DO NOT EDIT.\n\npackage %s\n\n", cmdline, pkg)
	b.WriteString("import \"github.com/bpfmaps/bpfmaps/structcodec\"\n\n")
	var names []string
	for _, s := range shapes {
		names = append(names, s.Name)
	}
	fmt.Fprintf(&b, "//go:generate go run github.com/bpfmaps/bpfmaps/cmd/bpfcodegen -type %s -output shapes_bpf.go\n\n", strings.Join(names, ","))
	b.WriteString("// Shapes holds a pointer to a zero value of each shape.\nvar Shapes = []any{")
	for _, n := range names {
		fmt.Fprintf(&b, "&%s{}, ", n)
	}
	b.WriteString("}\n\nvar _ structcodec.Packed\n")
	for _, s := range shapes {
		fmt.Fprintf(&b, "\n// %s is a random shape.\ntype %s struct {\n", s.Name, s.Name)
		sfs, exprs := s.goFields()
		for i, sf := range sfs {
			fmt.Fprintf(&b, "\t%s %s", sf.Name, exprs[i])
			if sf.Tag != "" {
				fmt.Fprintf(&b, " `%s`", sf.Tag)
			}
			b.WriteString("\n")
		}
		b.WriteString("}\n")
	}
	return format.Source([]byte(b.String()))
}

// CDecl writes the C twin of s.
func (s *Shape) CDecl(b *strings.Builder) {
	attr := ""
	if s.Packed {
		attr = "__attribute__((packed)) "
	}
	fmt.Fprintf(b, "struct %s%s {\n", attr, s.Name)
	for i, f := range s.Fields {
		if f.pad > 0 {
			fmt.Fprintf(b, "\tchar pad%d[%d];\n", i, f.pad)
		}
		var ct string
		switch {
		case f.nested != nil:
			ct = "struct " + f.nested.Name
		case f.text > 0:
			ct = "char"
		case f.be:
			_, _, n := scalarInfo(f.scalar)
			ct = fmt.Sprintf("uint%d_t", 8*n)
		default:
			ct, _, _ = scalarInfo(f.scalar)
		}
		fmt.Fprintf(b, "\t%s %s", ct, f.name)
		for _, d := range f.dims {
			fmt.Fprintf(b, "[%d]", d)
		}
		if f.text > 0 {
			fmt.Fprintf(b, "[%d]", f.text)
		}
		b.WriteString(";\n")
	}
	b.WriteString("};\n")
}

// Fill sets every leaf of v (a value of s's Go type) from r and writes the
// C statements that set the same leaves of the C instance named c.
func (s *Shape) Fill(r *rand.Rand, v reflect.Value, c string, b *strings.Builder) {
	for _, f := range s.Fields {
		fv := v.FieldByName(f.name)
		f.fillDims(r, fv, c+"."+f.name, f.dims, b)
	}
}

func (f field) fillDims(r *rand.Rand, v reflect.Value, c string, dims []int, b *strings.Builder) {
	if len(dims) > 0 {
		for i := range dims[0] {
			f.fillDims(r, v.Index(i), fmt.Sprintf("%s[%d]", c, i), dims[1:], b)
		}
		return
	}
	switch {
	case f.nested != nil:
		f.nested.Fill(r, v, c, b)
	case f.text > 0:
		text := make([]byte, r.IntN(f.text))
		for i := range text {
			text[i] = byte('a' + r.IntN(26))
		}
		if f.str {
			v.SetString(string(text))
		} else {
			reflect.Copy(v, reflect.ValueOf(text))
		}
		fmt.Fprintf(b, "\tmemcpy(%s, %q, %d);\n", c, text, len(text))
	case f.scalar == "bool":
		x := r.IntN(2)
		v.SetBool(x == 1)
		fmt.Fprintf(b, "\t%s = %d;\n", c, x)
	case f.scalar == "f32" || f.scalar == "f64":
		x := float64(r.IntN(1<<20)-1<<19) + 0.25
		v.SetFloat(x)
		fmt.Fprintf(b, "\t%s = %g;\n", c, x)
	default:
		ct, _, n := scalarInfo(f.scalar)
		bits := uint(8 * n)
		x := r.Uint64() >> (64 - bits)
		if v.CanInt() {
			v.SetInt(int64(x<<(64-bits)) >> (64 - bits))
		} else {
			v.SetUint(x)
		}
		lit := fmt.Sprintf("(%s)0x%xull", ct, x)
		if f.be && n > 1 {
			// htobe: a big-endian field holds the same bytes on every
			// machine (a swap on a big-endian one would reverse them).
			lit = fmt.Sprintf("htobe%d(0x%xull)", bits, x)
		}
		fmt.Fprintf(b, "\t%s = %s;\n", c, lit)
	}
}

// FieldNames returns the names of the fields of s that are in the C twin
// too, in order: all but explicit padding.
func (s *Shape) FieldNames() []string {
	var names []string
	for _, f := range s.Fields {
		names = append(names, f.name)
	}
	return names
}
