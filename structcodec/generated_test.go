package structcodec_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"testing"
	"unsafe"

	"github.com/bpfmaps/bpfmaps/structcodec"
	"github.com/bpfmaps/bpfmaps/structcodec/internal/codegentest"
	"github.com/bpfmaps/bpfmaps/structcodec/internal/shapes"
)

// generatedTypes has one type of each shape family; bpfcodegen wrote their
// methods (cmd/bpfcodegen's tests check that the code is up to date).
var generatedTypes = []any{
	&codegentest.Mixed{}, &codegentest.Nested{}, &codegentest.Arrays{}, &codegentest.Packed{},
	&codegentest.Pinned{}, &codegentest.Text{}, &codegentest.Floats{}, &codegentest.Named{},
	new(codegentest.Addrs), new(codegentest.Port), new(codegentest.Matrix), &codegentest.Empty{}, &codegentest.NoPad{},
}

// TestGeneratedMatchesRuntime encodes random values and decodes random
// bytes with both the generated methods and the runtime codec, and
// requires the same bytes, values and errors.
func TestGeneratedMatchesRuntime(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 0))
	for _, p := range append(generatedTypes, codegentest.Shapes...) {
		typ := reflect.TypeOf(p).Elem()
		t.Run(typ.Name(), func(t *testing.T) {
			l, err := structcodec.Compile(typ)
			if err != nil {
				t.Fatal(err)
			}
			if n := p.(structcodec.Sizer).SizeBPF(); n != l.Size() {
				t.Fatalf("SizeBPF %d, layout %d", n, l.Size())
			}
			m, u := p.(structcodec.Marshaler), p.(structcodec.Unmarshaler)
			v := reflect.ValueOf(p)
			for i := range 100 {
				fill(r, v.Elem(), l, false, i%10 == 0)
				want := make([]byte, l.Size())
				wantErr := l.EncodeValue(want, v)
				got := make([]byte, l.Size())
				gotErr := m.MarshalBPF(got)
				if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
					t.Fatalf("value %+v: generated error %v, runtime %v", v.Elem(), gotErr, wantErr)
				}
				if wantErr == nil && !bytes.Equal(got, want) {
					t.Fatalf("value %+v: generated\n% x\nruntime\n% x", v.Elem(), got, want)
				}

				src := make([]byte, l.Size())
				for k := range src {
					src[k] = byte(r.IntN(4)) * 0x55 // many NULs and bools > 1
				}
				viaRuntime := reflect.New(typ)
				viaRuntime.Elem().Set(v.Elem())
				if err := l.DecodeValue(src, viaRuntime); err != nil {
					t.Fatal(err)
				}
				if err := u.UnmarshalBPF(src); err != nil {
					t.Fatal(err)
				}
				clearBlank(v.Elem())
				clearBlank(viaRuntime.Elem())
				if fmt.Sprintf("%+v", v.Elem()) != fmt.Sprintf("%+v", viaRuntime.Elem()) { // NaN != NaN
					t.Fatalf("bytes % x: generated decode %+v, runtime %+v", src, v.Elem(), viaRuntime.Elem())
				}
			}
			short := make([]byte, l.Size()-1+boolInt(l.Size() == 0))
			if l.Size() > 0 {
				if a, b := m.MarshalBPF(short), l.EncodeValue(short, v); fmt.Sprint(a) != fmt.Sprint(b) {
					t.Errorf("short buffer: generated %v, runtime %v", a, b)
				}
				if a, b := u.UnmarshalBPF(short), l.DecodeValue(short, v); fmt.Sprint(a) != fmt.Sprint(b) {
					t.Errorf("short buffer: generated %v, runtime %v", a, b)
				}
			}
		})
	}
}

func TestForUsesGeneratedCode(t *testing.T) {
	c, err := structcodec.For[codegentest.Text]()
	if err != nil {
		t.Fatal(err)
	}
	v := codegentest.Text{Name: "eleven char", Short: "ab", After: 7}
	v.Comm[0], v.Sign[3] = 'x', 0
	buf := make([]byte, c.Size())
	if err := c.Encode(buf, &v); err != nil {
		t.Fatal(err)
	}
	var back codegentest.Text
	if err := c.Decode(buf, &back); err != nil || back != v {
		t.Fatalf("decoded %+v, %v; want %+v", back, err, v)
	}
	if n := testing.AllocsPerRun(100, func() { _ = c.Decode(buf, &back) }); n != 0 {
		t.Errorf("Decode of unchanged strings allocates %v times", n)
	}
	v.Name = "thirteen char"
	if err := c.Encode(buf, &v); err == nil || err.Error() != "structcodec: encode Text.Name: text of 13 bytes does not fit 12 bytes" {
		t.Errorf("too long: %v", err)
	}
	v.Name, v.Short = "twelve chars", "abc"
	if err := c.Encode(buf, &v); err == nil || err.Error() != "structcodec: encode Text.Short: text of 3 bytes does not fit 3 bytes with its NUL terminator" {
		t.Errorf("too long for nul: %v", err)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// fill sets every field of v that has a C layout to random contents; text
// fields get NUL-terminated text, or with tooLong sometimes text that does
// not fit.
func fill(r *rand.Rand, v reflect.Value, l *structcodec.Layout, cstr, tooLong bool) {
	if !v.CanSet() { // unexported field
		v = reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		for _, f := range l.Fields() {
			if f.Name != "_" {
				fill(r, v.Field(f.Index), f.Layout, f.CString, tooLong)
			}
		}
	case reflect.Array:
		if cstr {
			n := r.IntN(v.Len())
			if tooLong && r.IntN(3) == 0 {
				n = v.Len()
			}
			for i := range v.Len() {
				c := int64(0)
				if i < n {
					c = int64('a' + r.IntN(26))
				}
				if v.Index(i).CanInt() {
					v.Index(i).SetInt(c)
				} else {
					v.Index(i).SetUint(uint64(c))
				}
			}
			return
		}
		for i := range v.Len() {
			fill(r, v.Index(i), l.Elem(), false, tooLong)
		}
	case reflect.String:
		n := r.IntN(l.Size())
		if tooLong && r.IntN(3) == 0 {
			n = l.Size() + r.IntN(2)
		}
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('a' + r.IntN(26))
		}
		if tooLong && n > 0 && r.IntN(3) == 0 {
			b[r.IntN(n)] = 0
		}
		v.SetString(string(b))
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(r.NormFloat64())
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(r.Uint64()))
	default:
		v.SetUint(r.Uint64())
	}
}

// TestCheckedInShapes requires codegentest's shapes.go to be the shapes
// the seeded generator gives.
func TestCheckedInShapes(t *testing.T) {
	want, err := shapes.GoSource("codegentest", "writeshapes", shapes.Random(shapes.CheckedInSeed, shapes.CheckedInCount))
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile("internal/codegentest/shapes.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, want) {
		t.Fatal("internal/codegentest/shapes.go is stale: run go generate there")
	}
}

// clearBlank zeroes the blank (_) fields in v: they are padding, Go's ==
// ignores them, and what decoding leaves in them is unspecified.
func clearBlank(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Field(i)
			if v.Type().Field(i).Name == "_" {
				reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().SetZero()
			} else {
				clearBlank(f)
			}
		}
	case reflect.Array:
		for i := range v.Len() {
			clearBlank(v.Index(i))
		}
	}
}
