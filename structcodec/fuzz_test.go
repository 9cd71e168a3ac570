package structcodec_test

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"

	"github.com/bpfmaps/bpfmaps/structcodec"
	"github.com/bpfmaps/bpfmaps/structcodec/internal/codegentest"
	"github.com/bpfmaps/bpfmaps/structcodec/internal/shapes"
)

// FuzzDecode decodes arbitrary bytes as each shape family, with the
// runtime codec and with generated code: neither may panic, both must
// agree, and whatever decoded must encode again (text read from bytes
// without a NUL is the one exception: it no longer fits).
func FuzzDecode(f *testing.F) {
	f.Add(uint16(0), []byte{})
	f.Add(uint16(5), bytes.Repeat([]byte{0x41}, 64))
	f.Add(uint16(6), bytes.Repeat([]byte{0xff}, 100))
	for i := range len(generatedTypes) + len(codegentest.Shapes) {
		f.Add(uint16(i), bytes.Repeat([]byte{byte(i), 0, 2, 0x80}, 60))
	}
	f.Fuzz(func(t *testing.T, which uint16, data []byte) {
		all := append(generatedTypes[:len(generatedTypes):len(generatedTypes)], codegentest.Shapes...)
		p := all[int(which)%len(all)]
		typ := reflect.TypeOf(p).Elem()
		l, err := structcodec.Compile(typ)
		if err != nil {
			t.Fatal(err)
		}
		runtime := reflect.New(typ)
		rerr := l.DecodeValue(data, runtime)
		generated := reflect.New(typ)
		gerr := generated.Interface().(structcodec.Unmarshaler).UnmarshalBPF(data)
		if (rerr == nil) != (len(data) >= l.Size()) || fmt.Sprint(rerr) != fmt.Sprint(gerr) {
			t.Fatalf("%d bytes as %s: runtime error %v, generated %v", len(data), typ, rerr, gerr)
		}
		if rerr != nil {
			return
		}
		clearBlank(runtime.Elem())
		clearBlank(generated.Elem())
		if a, b := fmt.Sprintf("%+v", runtime.Elem()), fmt.Sprintf("%+v", generated.Elem()); a != b {
			t.Fatalf("% x as %s: runtime %s, generated %s", data, typ, a, b)
		}
		buf := make([]byte, l.Size())
		if err := l.EncodeValue(buf, runtime); err != nil {
			var fe *structcodec.FieldError
			if !asFieldError(err, &fe) {
				t.Fatalf("re-encode: %v", err)
			}
		}
	})
}

func asFieldError(err error, fe **structcodec.FieldError) bool {
	e, ok := err.(*structcodec.FieldError)
	*fe = e
	return ok && e.Op == "encode"
}

// FuzzRoundTrip requires Encode(Decode(b)) == b for layouts without
// padding, bools or text, where every byte string is one value's encoding.
func FuzzRoundTrip(f *testing.F) {
	f.Add(bytes.Repeat([]byte{0x5a}, 64))
	f.Add(bytes.Repeat([]byte{0xff, 0x00, 0x7f}, 30))
	runtime, err := structcodec.Compile(reflect.TypeFor[noPad]())
	if err != nil {
		f.Fatal(err)
	}
	generated, err := structcodec.For[codegentest.NoPad]()
	if err != nil {
		f.Fatal(err)
	}
	if runtime.Size() != generated.Size() {
		f.Fatalf("sizes %d and %d", runtime.Size(), generated.Size())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < runtime.Size() {
			return
		}
		data = data[:runtime.Size()]
		var v noPad
		if err := runtime.DecodeValue(data, reflect.ValueOf(&v)); err != nil {
			t.Fatal(err)
		}
		out := make([]byte, len(data))
		if err := runtime.EncodeValue(out, reflect.ValueOf(&v)); err != nil || !bytes.Equal(out, data) {
			t.Fatalf("runtime: % x encodes back as % x (%v)", data, out, err)
		}
		var g codegentest.NoPad
		if err := generated.Decode(data, &g); err != nil {
			t.Fatal(err)
		}
		if err := generated.Encode(out, &g); err != nil || !bytes.Equal(out, data) {
			t.Fatalf("generated: % x encodes back as % x (%v)", data, out, err)
		}
	})
}

// noPad is codegentest.NoPad without generated code.
type noPad codegentest.NoPad

// FuzzShapes builds a random shape from the seed and decodes arbitrary
// bytes as it: no panic, and the value encodes back to the same bytes
// except where padding, bools and text normalise them.
func FuzzShapes(f *testing.F) {
	for seed := range uint64(8) {
		f.Add(seed, bytes.Repeat([]byte{byte(seed) * 37}, 200))
	}
	f.Fuzz(func(t *testing.T, seed uint64, data []byte) {
		shapes := shapes.Random(seed, 4)
		s := shapes[len(shapes)-1]
		l, err := structcodec.Compile(s.Type)
		if err != nil {
			t.Fatal(err)
		}
		v := reflect.New(s.Type)
		if err := l.DecodeValue(data, v); (err != nil) != (len(data) < l.Size()) {
			t.Fatalf("decode %d bytes of a %d-byte layout: %v", len(data), l.Size(), err)
		}
		if err != nil {
			return
		}
		out := make([]byte, l.Size())
		if err := l.EncodeValue(out, v); err != nil {
			if _, ok := err.(*structcodec.FieldError); !ok {
				t.Fatal(err)
			}
		}
	})
}
