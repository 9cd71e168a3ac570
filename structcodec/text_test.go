package structcodec_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/bpfmaps/bpfmaps/structcodec"
	"github.com/bpfmaps/bpfmaps/structcodec/internal/codegentest"
)

// roundTrip decodes src as a T and requires encoding it back to give src.
func roundTrip[T any](t *testing.T, name string, src []byte) {
	t.Helper()
	c, err := structcodec.For[T]()
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := c.Decode(src, &v); err != nil {
		t.Fatalf("%s: decode: %v", name, err)
	}
	out := make([]byte, c.Size())
	if err := c.Encode(out, &v); err != nil {
		t.Fatalf("%s: a value read from C bytes does not write back: %v", name, err)
	}
	if !bytes.Equal(out, src) {
		t.Fatalf("%s: wrote back % x, read % x", name, out, src)
	}
}

// TestFullCharArraysRoundTrip reads char[N] text that fills all N bytes,
// as C holds it (a char[N] need not end with a NUL: the kernel's comm of
// 16 bytes does not), and writes it back: cstring asks for no NUL; only
// the nul option does.
func TestFullCharArraysRoundTrip(t *testing.T) {
	type Bytes struct {
		Comm [16]byte `bpf:"cstring"`
	}
	type Int8s struct {
		Comm [16]int8 `bpf:"cstring"`
	}
	type String struct {
		Comm string `bpf:"cstring,size=16"`
	}
	full := []byte("0123456789abcdef")
	roundTrip[Bytes](t, "[16]byte", full)
	roundTrip[Int8s](t, "[16]int8", full)
	roundTrip[String](t, "string", full)
	roundTrip[String](t, "string with a NUL", []byte("0123\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))

	// Generated code: Text.Comm is a cstring [16]byte, Text.Name a
	// 12-byte cstring string; Short and Term have nul.
	c, err := structcodec.For[codegentest.Text]()
	if err != nil {
		t.Fatal(err)
	}
	src := make([]byte, c.Size())
	copy(src, "twelve chars")
	copy(src[12:], full)
	roundTrip[codegentest.Text](t, "generated", src)

	// With nul, a full array or string is refused, naming the field.
	type Strict struct {
		Comm [16]byte `bpf:"cstring,nul"`
	}
	type StrictString struct {
		Comm string `bpf:"cstring,size=16,nul"`
	}
	sc, _ := structcodec.For[Strict]()
	var s Strict
	copy(s.Comm[:], full)
	if err := sc.Encode(make([]byte, 16), &s); err == nil || !strings.Contains(err.Error(), "Strict.Comm: text fills all 16 bytes") {
		t.Errorf("cstring,nul with 16 bytes of text: %v", err)
	}
	ssc, _ := structcodec.For[StrictString]()
	if err := ssc.Encode(make([]byte, 16), &StrictString{string(full)}); err == nil || !strings.Contains(err.Error(), "StrictString.Comm: text of 16 bytes does not fit 16 bytes with its NUL terminator") {
		t.Errorf("cstring,size=16,nul with 16 bytes of text: %v", err)
	}
	if _, err := structcodec.For[struct {
		N uint32 `bpf:"nul"`
	}](); err == nil || !strings.Contains(err.Error(), "nul applies to cstring fields only") {
		t.Errorf("nul without cstring: %v", err)
	}
}
