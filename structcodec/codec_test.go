package structcodec_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bpfmaps/bpfmaps/structcodec"
)

// Event is the 40-byte mixed struct of the benchmarks.
type Event struct {
	Pid   uint32
	Port  uint16 `bpf:"be"`
	Proto uint8
	Flags uint8
	Addr  [4]byte `bpf:"be"`
	Time  uint64
	Comm  [16]byte `bpf:"cstring"`
}

func TestEventLayout(t *testing.T) {
	c, err := structcodec.For[Event]()
	if err != nil {
		t.Fatal(err)
	}
	if c.Size() != 40 || c.Layout().Align() != 8 {
		t.Fatalf("size %d align %d, want 40 and 8", c.Size(), c.Layout().Align())
	}
	var offs []int
	for _, f := range c.Layout().Fields() {
		offs = append(offs, f.Offset)
	}
	if diff := cmp.Diff([]int{0, 4, 6, 7, 8, 16, 24}, offs); diff != "" {
		t.Fatalf("offsets (-want +got):\n%s", diff)
	}
	v := Event{Pid: 0x01020304, Port: 0x1f90, Proto: 6, Flags: 0x80, Addr: [4]byte{10, 0, 0, 1}, Time: 0x1122334455667788}
	copy(v.Comm[:], "bash")
	buf := bytes.Repeat([]byte{0xee}, 41)
	if err := c.Encode(buf, &v); err != nil {
		t.Fatal(err)
	}
	// Pid and Time in host order, Port and Addr in network order.
	want := hex.EncodeToString(u32s(0x01020304)) + "1f90" + "06" + "80" + "0a000001" + "00000000" +
		hex.EncodeToString(binary.NativeEndian.AppendUint64(nil, 0x1122334455667788)) +
		hex.EncodeToString([]byte("bash")) + strings.Repeat("00", 12) + "ee"
	if got := hex.EncodeToString(buf); got != want {
		t.Fatalf("encoded\n got %s\nwant %s", got, want)
	}
	var back Event
	if err := c.Decode(buf, &back); err != nil {
		t.Fatal(err)
	}
	if back != v {
		t.Fatalf("decoded %+v, want %+v", back, v)
	}
}

// u32s is the C array uint32_t[len(vs)] holding vs: host byte order, as
// the codec stores every integer not tagged "be".
func u32s(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.NativeEndian.AppendUint32(b, v)
	}
	return b
}

func TestErrors(t *testing.T) {
	type Ptr struct {
		A   uint32
		Ptr *int
	}
	type Slice struct{ S []byte }
	type Int struct{ N int }
	type Str struct{ S string }
	type Inner struct{ M map[string]int }
	type Nested struct {
		A     uint8
		Inner Inner
	}
	type Backwards struct {
		A uint64
		B uint32 `bpf:"offset=4"`
	}
	type Misaligned struct {
		A uint8
		B uint32 `bpf:"offset=2"`
	}
	type BadTag struct {
		A uint32 `bpf:"le"`
	}
	type BeFloat struct {
		F float32 `bpf:"be"`
	}
	type CstrInt struct {
		A uint32 `bpf:"cstring"`
	}
	for _, tc := range []struct {
		t    reflect.Type
		want string
	}{
		{reflect.TypeFor[Ptr](), "structcodec: Ptr.Ptr: unsupported kind *int (pointers have no C layout)"},
		{reflect.TypeFor[Slice](), "structcodec: Slice.S: unsupported kind []uint8 (slices have no fixed size; use an array)"},
		{reflect.TypeFor[Int](), "structcodec: Int.N: unsupported kind int (its size depends on the platform; use int32 or int64)"},
		{reflect.TypeFor[Str](), `structcodec: Str.S: unsupported kind string (an unsized string; give it a size: bpf:"cstring,size=N")`},
		{reflect.TypeFor[Nested](), "structcodec: Nested.Inner.M: unsupported kind map[string]int (maps have no C layout)"},
		{reflect.TypeFor[Backwards](), "structcodec: Backwards.B: offset=4 overlaps A, which ends at 8"},
		{reflect.TypeFor[Misaligned](), "structcodec: Misaligned.B: offset=2 is not a multiple of the field's alignment 4"},
		{reflect.TypeFor[BadTag](), `structcodec: BadTag.A: unknown tag option "le"`},
		{reflect.TypeFor[BeFloat](), "structcodec: BeFloat.F: be applies to integers and arrays of integers, not to float32"},
		{reflect.TypeFor[CstrInt](), "structcodec: CstrInt.A: cstring applies to [N]byte and string fields, not to uint32"},
		{reflect.TypeFor[complex64](), "structcodec: complex64: unsupported kind complex64"},
		{reflect.TypeFor[chan int](), "structcodec: chan int: unsupported kind chan int (channels have no C layout)"},
		{reflect.TypeFor[func()](), "structcodec: func(): unsupported kind func() (funcs have no C layout)"},
		{reflect.TypeFor[any](), "structcodec: interface {}: unsupported kind interface {} (interfaces have no C layout)"},
		{reflect.TypeFor[[2]uintptr](), "structcodec: [2]uintptr[]: unsupported kind uintptr"},
	} {
		_, err := structcodec.Compile(tc.t)
		var fe *structcodec.FieldError
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !errors.As(err, &fe) {
			t.Errorf("Compile(%v) = %v, want an error starting %q", tc.t, err, tc.want)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	c, err := structcodec.For[Event]()
	if err != nil {
		t.Fatal(err)
	}
	var v Event
	err = c.Encode(make([]byte, 12), &v)
	if err == nil || err.Error() != "structcodec: encode Event: buffer of 12 bytes, need 40" || !errors.Is(err, io.ErrShortBuffer) {
		t.Errorf("short encode: %v", err)
	}
	err = c.Decode(make([]byte, 39), &v)
	if err == nil || err.Error() != "structcodec: decode Event: buffer of 39 bytes, need 40" {
		t.Errorf("short decode: %v", err)
	}
	type Term struct {
		Comm [16]byte `bpf:"cstring,nul"`
	}
	tc, err := structcodec.For[Term]()
	if err != nil {
		t.Fatal(err)
	}
	term := Term{}
	copy(term.Comm[:], "0123456789abcdef")
	err = tc.Encode(make([]byte, 16), &term)
	if err == nil || err.Error() != "structcodec: encode Term.Comm: text fills all 16 bytes, no room for the NUL terminator" {
		t.Errorf("unterminated cstring,nul: %v", err)
	}
	if err := c.Encode(make([]byte, 40), nil); err == nil {
		t.Error("Encode(nil) succeeded")
	}

	type Named struct {
		Name string `bpf:"cstring,size=8,nul"`
	}
	nc, err := structcodec.For[Named]()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	for _, tc := range []struct{ s, want string }{
		{"12345678", "structcodec: encode Named.Name: text of 8 bytes does not fit 8 bytes with its NUL terminator"},
		{"ab\x00c", "structcodec: encode Named.Name: text holds a NUL byte at index 2, C would cut it there"},
	} {
		if err := nc.Encode(buf, &Named{tc.s}); err == nil || err.Error() != tc.want {
			t.Errorf("Encode(%q) = %v, want %q", tc.s, err, tc.want)
		}
	}
	if err := nc.Encode(buf, &Named{"1234567"}); err != nil {
		t.Fatal(err)
	}
	var back Named
	if err := nc.Decode(buf, &back); err != nil || back.Name != "1234567" {
		t.Fatalf("Decode = %q, %v", back.Name, err)
	}
	// Without a NUL the whole field is the text.
	if err := nc.Decode([]byte("abcdefgh"), &back); err != nil || back.Name != "abcdefgh" {
		t.Fatalf("Decode = %q, %v", back.Name, err)
	}
}

func TestBoolDecodesNonzeroAsTrue(t *testing.T) {
	type Flags struct {
		A, B, C bool
		D       [3]bool
	}
	c, err := structcodec.For[Flags]()
	if err != nil {
		t.Fatal(err)
	}
	var v Flags
	if err := c.Decode([]byte{0, 1, 0xff, 2, 0, 1}, &v); err != nil {
		t.Fatal(err)
	}
	if want := (Flags{false, true, true, [3]bool{true, false, true}}); v != want {
		t.Fatalf("decoded %+v, want %+v", v, want)
	}
	buf := make([]byte, 6)
	if err := c.Encode(buf, &v); err != nil || !bytes.Equal(buf, []byte{0, 1, 1, 1, 0, 1}) {
		t.Fatalf("encoded % x, %v", buf, err)
	}
}

func TestSkippedFieldsKeepTheirValues(t *testing.T) {
	type S struct {
		A    uint32
		Skip uint32 `bpf:"-"`
		B    uint32 `bpf:"offset=8"`
		_    uint32
		C    uint32
	}
	c, err := structcodec.For[S]()
	if err != nil {
		t.Fatal(err)
	}
	if c.Size() != 20 {
		t.Fatalf("size %d, want 20", c.Size())
	}
	v := S{A: 1, Skip: 7, B: 2, C: 3}
	src := u32s(9, 0xffffffff, 8, 0xffffffff, 6)
	if err := c.Decode(src, &v); err != nil {
		t.Fatal(err)
	}
	if v.A != 9 || v.Skip != 7 || v.B != 8 || v.C != 6 {
		t.Fatalf("decoded %+v", v)
	}
	buf := bytes.Repeat([]byte{0xee}, 20)
	if err := c.Encode(buf, &v); err != nil {
		t.Fatal(err)
	}
	if want := u32s(9, 0, 8, 0, 6); !bytes.Equal(buf, want) {
		t.Fatalf("encoded % x, want % x", buf, want)
	}
}

func TestScalarsAndArrays(t *testing.T) {
	u, err := structcodec.For[uint32]()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	x := uint32(0xdeadbeef)
	if err := u.Encode(buf, &x); err != nil || u.Size() != 4 || !bytes.Equal(buf, u32s(0xdeadbeef)) {
		t.Fatalf("uint32: % x, %v", buf, err)
	}
	type Pair struct {
		K uint8
		V uint32
	}
	a, err := structcodec.For[[3]Pair]()
	if err != nil {
		t.Fatal(err)
	}
	if a.Size() != 24 {
		t.Fatalf("[3]Pair size %d, want 24", a.Size())
	}
	in := [3]Pair{{1, 2}, {3, 4}, {5, 6}}
	buf = bytes.Repeat([]byte{0xee}, 24)
	if err := a.Encode(buf, &in); err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, p := range in {
		want = append(want, p.K, 0, 0, 0) // K, padding
		want = append(want, u32s(p.V)...)
	}
	if !bytes.Equal(buf, want) {
		t.Fatalf("encoded % x, want % x", buf, want)
	}
	var out [3]Pair
	if err := a.Decode(buf, &out); err != nil || out != in {
		t.Fatalf("decoded %v, %v", out, err)
	}
}

func TestValueForms(t *testing.T) {
	typ := reflect.StructOf([]reflect.StructField{
		{Name: "Port", Type: reflect.TypeFor[uint16](), Tag: `bpf:"be"`},
		{Name: "Comm", Type: reflect.TypeFor[[8]byte](), Tag: `bpf:"cstring"`},
	})
	l, err := structcodec.Compile(typ)
	if err != nil {
		t.Fatal(err)
	}
	v := reflect.New(typ).Elem()
	v.Field(0).SetUint(80)
	buf := make([]byte, l.Size())
	if err := l.EncodeValue(buf, v); err != nil {
		t.Fatal(err)
	}
	if err := l.EncodeValue(buf, reflect.ValueOf(v.Interface())); err != nil { // not addressable
		t.Fatal(err)
	}
	if !bytes.Equal(buf, []byte{0, 80, 0, 0, 0, 0, 0, 0, 0, 0}) {
		t.Fatalf("encoded % x", buf)
	}
	out := reflect.New(typ)
	if err := l.DecodeValue(buf, out); err != nil || out.Elem().Field(0).Uint() != 80 {
		t.Fatalf("decode: %v", err)
	}
	if err := l.DecodeValue(buf, reflect.ValueOf(uint32(1))); err == nil {
		t.Fatal("DecodeValue of the wrong type succeeded")
	}
}

// stale has methods that claim a layout other than its own, as generated
// code does after the struct changed and go generate was not run.
type stale struct{ A, B uint32 }

func (stale) SizeBPF() int                   { return 4 }
func (*stale) MarshalBPF(dst []byte) error   { return nil }
func (*stale) UnmarshalBPF(src []byte) error { return nil }

func TestForRefusesStaleGeneratedCode(t *testing.T) {
	_, err := structcodec.For[stale]()
	want := "structcodec: stale: generated code is for a 4-byte layout, the type's is 8 bytes: run go generate"
	if err == nil || err.Error() != want {
		t.Fatalf("For = %v, want %q", err, want)
	}
}

func TestConcurrentUse(t *testing.T) {
	type fresh struct {
		A uint16 `bpf:"be"`
		B uint64
		C string `bpf:"cstring,size=8"`
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := structcodec.For[fresh]()
			if err != nil {
				errs <- err
				return
			}
			buf := make([]byte, c.Size())
			for i := range 1000 {
				in := fresh{A: uint16(g), B: uint64(i), C: strconv.Itoa(i)}
				var out fresh
				if err := c.Encode(buf, &in); err != nil {
					errs <- err
					return
				}
				if err := c.Decode(buf, &out); err != nil || out != in {
					errs <- fmt.Errorf("decoded %+v, %v; want %+v", out, err, in)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestFieldLayoutsEncode(t *testing.T) {
	type named struct {
		N    uint8
		Name string `bpf:"cstring,size=4"`
	}
	l, err := structcodec.Compile(reflect.TypeFor[named]())
	if err != nil {
		t.Fatal(err)
	}
	f := l.Fields()[1]
	buf := make([]byte, f.Size)
	s := "abc"
	if err := f.Layout.EncodeValue(buf, reflect.ValueOf(&s)); err != nil || string(buf) != "abc\x00" {
		t.Fatalf("field layout encoded %q, %v", buf, err)
	}
	s = "abcde"
	if err := f.Layout.EncodeValue(buf, reflect.ValueOf(&s)); err == nil {
		t.Fatal("a too long text encoded")
	}
}

func TestEncodeDecodeDoNotAllocate(t *testing.T) {
	c, err := structcodec.For[Event]()
	if err != nil {
		t.Fatal(err)
	}
	v := benchEvent()
	buf := make([]byte, c.Size())
	if n := testing.AllocsPerRun(100, func() {
		if err := c.Encode(buf, &v); err != nil {
			t.Fatal(err)
		}
		if err := c.Decode(buf, &v); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Encode and Decode allocate %v times", n)
	}
}
