package structcodec_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/bpfmaps/bpfmaps/structcodec"
)

// TestLeadingCommaTags accepts tags written as encoding/json users write
// them, with an empty name before the options, and lays them out as the
// same tags without it.
func TestLeadingCommaTags(t *testing.T) {
	type Plain struct {
		A uint8
		B uint16  `bpf:"be"`
		C uint32  `bpf:"offset=8,be"`
		D [4]byte `bpf:"cstring"`
	}
	type Comma struct {
		A uint8
		B uint16  `bpf:",be"`
		C uint32  `bpf:",offset=8,be"`
		D [4]byte `bpf:"cstring,"`
	}
	plain, err := structcodec.For[Plain]()
	if err != nil {
		t.Fatal(err)
	}
	comma, err := structcodec.For[Comma]()
	if err != nil {
		t.Fatalf("leading comma refused: %v", err)
	}
	if plain.Size() != comma.Size() {
		t.Fatalf("size %d with leading commas, %d without", comma.Size(), plain.Size())
	}
	pb, cb := make([]byte, plain.Size()), make([]byte, comma.Size())
	if err := plain.Encode(pb, &Plain{1, 0x0203, 0x04050607, [4]byte{'a'}}); err != nil {
		t.Fatal(err)
	}
	if err := comma.Encode(cb, &Comma{1, 0x0203, 0x04050607, [4]byte{'a'}}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pb, cb) {
		t.Fatalf("leading commas encode % x, plain tags % x", cb, pb)
	}
	if want := []byte{1, 0, 2, 3, 0, 0, 0, 0, 4, 5, 6, 7, 'a', 0, 0, 0}; !bytes.Equal(cb, want) {
		t.Fatalf("encoded % x, want % x", cb, want)
	}
}

// TestHugeOffsetsAndSizes refuses offsets and sizes past math.MaxInt32
// (far beyond any BPF map value) with an error naming the field, instead
// of a negative Size and a panic in Encode.
func TestHugeOffsetsAndSizes(t *testing.T) {
	field := func(name string, typ reflect.Type, tag string) reflect.StructField {
		return reflect.StructField{Name: name, Type: typ, Tag: reflect.StructTag(tag)}
	}
	u32 := reflect.TypeFor[uint32]()
	for _, tc := range []struct {
		name   string
		fields []reflect.StructField
		want   string
	}{
		{"max int64 offset", []reflect.StructField{field("A", u32, `bpf:"offset=9223372036854775807"`)}, "A: offset=9223372036854775807"},
		{"offset past int32", []reflect.StructField{field("A", u32, `bpf:"offset=2147483648"`)}, "A: offset=2147483648"},
		{"end past int32", []reflect.StructField{field("A", u32, `bpf:"offset=2147483640"`), field("B", u32, "")}, ".B: "},
		{"field end past int32", []reflect.StructField{field("A", u32, `bpf:"offset=2147483640,"`),
			field("B", reflect.TypeFor[[8]byte](), "")}, ".B: "},
		{"string size", []reflect.StructField{field("S", reflect.TypeFor[string](), `bpf:"cstring,size=9223372036854775807"`)}, "S: size=9223372036854775807"},
		{"array", []reflect.StructField{field("A", reflect.ArrayOf(1<<31, reflect.TypeFor[byte]()), "")}, ".A: "},
		{"array of arrays", []reflect.StructField{field("A", reflect.ArrayOf(1<<20, reflect.ArrayOf(1<<20, u32)), "")}, ".A"},
		{"two halves", []reflect.StructField{field("A", reflect.ArrayOf(1<<28, u32), ""),
			field("B", reflect.ArrayOf(1<<28, u32), "")}, ".B: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := structcodec.Compile(reflect.StructOf(tc.fields))
			var fe *structcodec.FieldError
			if err == nil {
				t.Fatalf("accepted: size %d", l.Size())
			}
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "2147483647") {
				t.Fatalf("error %v, want a field error containing %q and naming the limit 2147483647", err, tc.want)
			}
		})
	}
	// The same through For, which must not return a codec at all.
	type Far struct {
		A uint32 `bpf:"offset=9223372036854775807"`
	}
	if c, err := structcodec.For[Far](); err == nil {
		t.Fatalf("For accepted a field at offset 2^63-1 (size %d)", c.Size())
	}
	// The largest value the bound allows still compiles.
	if l, err := structcodec.Compile(reflect.StructOf([]reflect.StructField{
		field("A", reflect.TypeFor[byte](), `bpf:"offset=2147483646"`)})); err != nil || l.Size() != 1<<31-1 {
		t.Fatalf("field ending at 2^31-1: size %v, %v", l, err)
	}
}

// TestCStringNeedsRoom refuses cstring on a zero-length array: there is no
// room for the NUL every C string ends with.
func TestCStringNeedsRoom(t *testing.T) {
	type Empty struct {
		A    uint32
		Name [0]byte `bpf:"cstring"`
	}
	_, err := structcodec.For[Empty]()
	var fe *structcodec.FieldError
	if err == nil || !errors.As(err, &fe) || fe.Field != "Empty.Name" || !strings.Contains(err.Error(), "NUL") {
		t.Fatalf("cstring on [0]byte: %v, want a field error for Empty.Name about the NUL", err)
	}
}

// TestDuplicatedTagOptions refuses a tag that gives an option twice (the
// last offset used to win silently), with an error naming the field.
func TestDuplicatedTagOptions(t *testing.T) {
	u32 := reflect.TypeFor[uint32]()
	for _, tag := range []string{
		`bpf:"offset=4,offset=8"`,
		`bpf:"offset=8,offset=8"`,
		`bpf:"be,be"`,
		`bpf:"be,offset=4,be"`,
		`bpf:" be , be"`,
		`bpf:"cstring,cstring"`,
		`bpf:"cstring,size=4,size=8"`,
	} {
		typ := u32
		if strings.Contains(tag, "cstring") {
			typ = reflect.TypeFor[[4]byte]()
			if strings.Contains(tag, "size") {
				typ = reflect.TypeFor[string]()
			}
		}
		l, err := structcodec.Compile(reflect.StructOf([]reflect.StructField{
			{Name: "Pad", Type: u32},
			{Name: "Field", Type: typ, Tag: reflect.StructTag(tag)},
		}))
		var fe *structcodec.FieldError
		if err == nil {
			t.Errorf("%s accepted: Field at offset %d", tag, l.Fields()[1].Offset)
			continue
		}
		if !errors.As(err, &fe) || !strings.HasSuffix(fe.Field, ".Field") || !strings.Contains(err.Error(), "twice") {
			t.Errorf("%s: %v, want a field error for .Field saying an option is given twice", tag, err)
		}
	}
}
