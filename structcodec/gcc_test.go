package structcodec_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/structcodec"
	"github.com/bpfmaps/bpfmaps/structcodec/internal/codegentest"
	"github.com/bpfmaps/bpfmaps/structcodec/internal/shapes"
)

// TestAgainstGCC generates a few hundred struct shapes (mixed widths,
// nesting, arrays, packed structs, big-endian fields, pinned offsets,
// blank padding, bools, floats, text), writes each one's C twin, and
// requires the codec to agree with gcc on sizeof, _Alignof, offsetof of
// every field and the bytes of a filled instance.
//
// The runtime codec is held against 300 shapes built with reflect.StructOf,
// the generated code against the 120 shapes checked in as Go source in
// internal/codegentest.
func TestAgainstGCC(t *testing.T) {
	t.Run("Runtime", func(t *testing.T) {
		all := shapes.Random(1, 300)
		types := make([]reflect.Type, len(all))
		for i, s := range all {
			types[i] = s.Type
		}
		holdAgainstGCC(t, all, types, false)
	})
	t.Run("Generated", func(t *testing.T) {
		all := shapes.Random(shapes.CheckedInSeed, shapes.CheckedInCount)
		types := make([]reflect.Type, len(all))
		for i, p := range codegentest.Shapes {
			types[i] = reflect.TypeOf(p).Elem()
		}
		holdAgainstGCC(t, all, types, true)
	})
}

// holdAgainstGCC compiles the C twins of shapes, fills an instance of each
// in C and in Go (types[i] is the Go type of all[i]), and compares.
func holdAgainstGCC(t *testing.T, all []*shapes.Shape, types []reflect.Type, generated bool) {
	n := len(all)

	var src strings.Builder
	src.WriteString("#include <endian.h>\n#include <stdint.h>\n#include <stdio.h>\n#include <string.h>\n#include <stddef.h>\n\n")
	for _, s := range all {
		s.CDecl(&src)
	}
	src.WriteString(`
static void dump(const char *name, const void *p, size_t size, size_t align) {
	const unsigned char *b = p;
	printf("%s %zu %zu ", name, size, align);
	for (size_t i = 0; i < size; i++)
		printf("%02x", b[i]);
	printf("\n");
}

int main(void) {
`)
	values := make([]reflect.Value, n)
	r := rand.New(rand.NewPCG(2, 0))
	for i, s := range all {
		values[i] = reflect.New(types[i]).Elem()
		fmt.Fprintf(&src, "\t{\n\tstatic struct %s v;\n\tmemset(&v, 0, sizeof v);\n", s.Name)
		s.Fill(r, values[i], "v", &src)
		fmt.Fprintf(&src, "\tdump(%q, &v, sizeof v, _Alignof(struct %s));\n", s.Name, s.Name)
		fmt.Fprintf(&src, "\tprintf(\"offsets")
		for range s.Fields {
			src.WriteString(" %zu")
		}
		src.WriteString(`\n"`)
		for _, name := range s.FieldNames() {
			fmt.Fprintf(&src, ", offsetof(struct %s, %s)", s.Name, name)
		}
		src.WriteString(");\n\t}\n")
	}
	src.WriteString("\treturn 0;\n}\n")

	out := testutil.RunC(t, src.String(), "-std=gnu11", "-O0", "-Wall", "-Werror")

	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for i, s := range all {
		if !sc.Scan() {
			t.Fatalf("C output ends before %s", s.Name)
		}
		var name, hexBytes string
		var size, align int
		if _, err := fmt.Sscan(sc.Text(), &name, &size, &align, &hexBytes); err != nil && size != 0 {
			t.Fatalf("bad C output %q: %v", sc.Text(), err)
		}
		sc.Scan()
		cOffsets := strings.Fields(sc.Text())[1:]

		l, err := structcodec.Compile(types[i])
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		var decl strings.Builder
		s.CDecl(&decl)
		if l.Size() != size || l.Align() != align {
			t.Errorf("%s: codec size %d align %d, gcc %d and %d\n%s", s.Name, l.Size(), l.Align(), size, align, decl.String())
			continue
		}
		var goOffsets []string
		for _, f := range l.Fields() {
			if f.Name != "_" {
				goOffsets = append(goOffsets, strconv.Itoa(f.Offset))
			}
		}
		if strings.Join(goOffsets, " ") != strings.Join(cOffsets, " ") {
			t.Errorf("%s: codec offsets %v, gcc %v\n%s", s.Name, goOffsets, cOffsets, decl.String())
			continue
		}
		buf := bytes.Repeat([]byte{0xee}, size)
		encode := func() error { return l.EncodeValue(buf, values[i]) }
		back := reflect.New(types[i])
		decode := func() error { return l.DecodeValue(buf, back) }
		if generated {
			encode = func() error { return values[i].Addr().Interface().(structcodec.Marshaler).MarshalBPF(buf) }
			decode = func() error { return back.Interface().(structcodec.Unmarshaler).UnmarshalBPF(buf) }
		}
		if err := encode(); err != nil {
			t.Errorf("%s: encode: %v", s.Name, err)
			continue
		}
		if got := hex.EncodeToString(buf); got != hexBytes {
			t.Errorf("%s: codec bytes\n%s\ngcc bytes\n%s\n%s", s.Name, got, hexBytes, decl.String())
			continue
		}
		if err := decode(); err != nil {
			t.Errorf("%s: decode: %v", s.Name, err)
			continue
		}
		if !reflect.DeepEqual(back.Elem().Interface(), values[i].Interface()) {
			t.Errorf("%s: decoded %+v\nwant %+v", s.Name, back.Elem(), values[i])
		}
	}
}
