package structcodec

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
	"unsafe"
)

// TestSingleCopy checks which layouts encode and decode as one copy (plus
// a byte swap in place per big-endian field on a little-endian host; none
// on a big-endian one) and which need the general program.
func TestSingleCopy(t *testing.T) {
	type plain struct {
		A uint32
		B uint16
		C [2]uint8
		D uint64
		E [3]struct {
			X uint16
			Y bool
		}
		F float32
	}
	type padded struct { // padding at 1..4 and 9..16, zeroed after the copy
		A uint8
		B uint32
		C uint8
		D uint64
	}
	type bigEndian struct {
		Port uint16    `bpf:"be"`
		Addr [2]uint32 `bpf:"be"`
	}
	type text struct {
		Comm [16]byte `bpf:"cstring"`
		Pid  uint32
	}
	type withString struct {
		Name string `bpf:"cstring,size=16"`
	}
	type skipped struct {
		A    uint32
		Skip uint32 `bpf:"-"`
		B    uint32 `bpf:"offset=8"`
	}
	type packed struct {
		_ Packed
		A uint8
		B uint32
	}
	type moved struct {
		A uint32
		B uint32 `bpf:"offset=8"`
	}
	beSwaps := 3 // Port and the two elements of Addr
	if hostBigEndian {
		beSwaps = 0
	}
	for _, tc := range []struct {
		t     reflect.Type
		copy  bool
		swaps int
	}{
		{reflect.TypeFor[plain](), true, 0},
		{reflect.TypeFor[padded](), true, 0},
		{reflect.TypeFor[bigEndian](), true, beSwaps},
		{reflect.TypeFor[text](), true, 0},
		{reflect.TypeFor[[4]uint64](), true, 0},
		{reflect.TypeFor[withString](), false, 0},
		{reflect.TypeFor[skipped](), false, 0},
		{reflect.TypeFor[packed](), false, 0},
		{reflect.TypeFor[moved](), false, 0},
	} {
		l, err := Compile(tc.t)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.prog.whole == l.size; got != tc.copy || len(l.prog.swaps) != tc.swaps {
			t.Errorf("%v: single copy %v with %d swaps, want %v with %d", tc.t, got, len(l.prog.swaps), tc.copy, tc.swaps)
		}
	}
}

// TestPaddingIsZeroed fills Go memory, padding included, with 0xff and
// requires the padding of the encoding to be zeros anyway.
func TestPaddingIsZeroed(t *testing.T) {
	type elem struct {
		X uint16
		Y uint8
	}
	type outer struct {
		A uint8
		E [3]elem
		B uint64
		_ [2]byte
		C uint16 `bpf:"be"`
	}
	l, err := Compile(reflect.TypeFor[outer]())
	if err != nil {
		t.Fatal(err)
	}
	var v outer
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&v)), unsafe.Sizeof(v))
	for i := range mem {
		mem[i] = 0xff
	}
	v.A, v.B, v.C = 1, 2, 3
	for i := range v.E {
		v.E[i] = elem{X: 0x10, Y: 0x20}
	}
	got := make([]byte, l.Size())
	if err := l.encode(got, unsafe.Pointer(&v)); err != nil {
		t.Fatal(err)
	}
	ne := binary.NativeEndian
	want := []byte{1, 0} // A, padding
	for range v.E {
		want = append(ne.AppendUint16(want, 0x10), 0x20, 0) // X, Y, padding
	}
	want = append(want, 0, 0)                     // padding
	want = ne.AppendUint64(want, 2)               // B
	want = append(want, 0, 0)                     // blank
	want = binary.BigEndian.AppendUint16(want, 3) // C
	want = append(want, 0, 0, 0, 0)               // trailing padding
	if !bytes.Equal(got, want) {
		t.Fatalf("encoded\n% x\nwant\n% x", got, want)
	}
}
