package structcodec_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"

	"github.com/bpfmaps/bpfmaps/structcodec"
)

// A shape is a random struct, written both as a Go type (built with
// reflect.StructOf) and as its C twin. The tests hold the codec against
// what gcc makes of the C twin.
type shape struct {
	name   string
	packed bool
	fields []fieldShape
	typ    reflect.Type
}

type fieldShape struct {
	name   string
	scalar string // u8 … u64, i8 … i64, f32, f64, bool; "" for the kinds below
	nested *shape
	text   int   // cstring [N]byte when > 0 (textStr: a string of that size)
	str    bool  // the cstring is a Go string with size=N
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

// randomShapes returns n shapes from a seeded generator; later shapes nest
// earlier ones.
func randomShapes(seed uint64, n int) []*shape {
	r := rand.New(rand.NewPCG(seed, 0))
	var out []*shape
	for k := range n {
		s := &shape{name: fmt.Sprintf("S%d", k), packed: r.IntN(5) == 0}
		nf := 1 + r.IntN(8)
		for i := range nf {
			f := fieldShape{name: fmt.Sprintf("F%d", i)}
			switch x := r.IntN(100); {
			case x < 12 && k > 0:
				f.nested = out[r.IntN(k)]
			case x < 20:
				f.text = 2 + r.IntN(20)
				f.str = r.IntN(2) == 0
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
				if !s.packed {
					f.pad *= f.align()
				}
			}
			f.blank = f.pad > 0 && r.IntN(2) == 0
			s.fields = append(s.fields, f)
		}
		s.typ = s.goType()
		out = append(out, s)
	}
	return out
}

// size and align compute the C layout independently of the codec, only to
// place explicit padding; gcc then checks everything.
func (s *shape) sizeAlign() (size, align int) {
	end, align := 0, 1
	for _, f := range s.fields {
		a := f.align()
		if s.packed {
			a = 1
		}
		end = (end+a-1)/a*a + f.pad + f.size()
		align = max(align, a)
	}
	return (end + align - 1) / align * align, align
}

func (f fieldShape) elemSizeAlign() (int, int) {
	switch {
	case f.nested != nil:
		return f.nested.sizeAlign()
	case f.text > 0:
		return f.text, 1
	}
	_, _, n := scalarInfo(f.scalar)
	return n, n
}

func (f fieldShape) align() int { _, a := f.elemSizeAlign(); return a }

func (f fieldShape) size() int {
	n, _ := f.elemSizeAlign()
	for _, d := range f.dims {
		n *= d
	}
	return n
}

func (s *shape) goType() reflect.Type {
	var sfs []reflect.StructField
	if s.packed {
		sfs = append(sfs, reflect.StructField{Name: "_", PkgPath: "shapes", Type: reflect.TypeFor[structcodec.Packed]()})
	}
	end := 0
	for _, f := range s.fields {
		var t reflect.Type
		var tags []string
		switch {
		case f.nested != nil:
			t = f.nested.typ
		case f.str:
			t = reflect.TypeFor[string]()
			tags = append(tags, "cstring", fmt.Sprintf("size=%d", f.text))
		case f.text > 0:
			t = reflect.ArrayOf(f.text, reflect.TypeFor[byte]())
			if len(f.dims) == 0 {
				tags = append(tags, "cstring")
			}
		default:
			_, t, _ = scalarInfo(f.scalar)
		}
		for i := len(f.dims) - 1; i >= 0; i-- {
			t = reflect.ArrayOf(f.dims[i], t)
		}
		if f.be {
			tags = append(tags, "be")
		}
		a := f.align()
		if s.packed {
			a = 1
		}
		off := (end+a-1)/a*a + f.pad
		if f.blank {
			sfs = append(sfs, reflect.StructField{Name: "_", PkgPath: "shapes", Type: reflect.ArrayOf(off-end, reflect.TypeFor[byte]())})
		} else if f.pad > 0 {
			tags = append(tags, fmt.Sprintf("offset=%d", off))
		}
		end = off + f.size()
		var tag reflect.StructTag
		if len(tags) > 0 {
			tag = reflect.StructTag(`bpf:"` + strings.Join(tags, ",") + `"`)
		}
		sfs = append(sfs, reflect.StructField{Name: f.name, Type: t, Tag: tag})
	}
	return reflect.StructOf(sfs)
}

// cDecl writes the C twin of s.
func (s *shape) cDecl(b *strings.Builder) {
	attr := ""
	if s.packed {
		attr = "__attribute__((packed)) "
	}
	fmt.Fprintf(b, "struct %s%s {\n", attr, s.name)
	for i, f := range s.fields {
		if f.pad > 0 {
			fmt.Fprintf(b, "\tchar pad%d[%d];\n", i, f.pad)
		}
		var ct string
		switch {
		case f.nested != nil:
			ct = "struct " + f.nested.name
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

// fill sets every leaf of v (a value of s's Go type) from r and writes the
// C statements that set the same leaves of the C instance named c.
func (s *shape) fill(r *rand.Rand, v reflect.Value, c string, b *strings.Builder) {
	for _, f := range s.fields {
		fv := v.FieldByName(f.name)
		f.fillDims(r, fv, c+"."+f.name, f.dims, b)
	}
}

func (f fieldShape) fillDims(r *rand.Rand, v reflect.Value, c string, dims []int, b *strings.Builder) {
	if len(dims) > 0 {
		for i := range dims[0] {
			f.fillDims(r, v.Index(i), fmt.Sprintf("%s[%d]", c, i), dims[1:], b)
		}
		return
	}
	switch {
	case f.nested != nil:
		f.nested.fill(r, v, c, b)
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
			lit = fmt.Sprintf("__builtin_bswap%d(0x%xull)", bits, x)
		}
		fmt.Fprintf(b, "\t%s = %s;\n", c, lit)
	}
}
