package btf

import (
	"encoding/binary"
	"testing"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

func build() ([]byte, TypeID) {
	var b Builder
	i := b.Int("int", 4, true)
	proto := b.FuncProto(i, Param{Name: "ctx", Type: b.Ptr(0)})
	fn := b.Func("f", proto, Static)
	return b.Bytes(), fn
}

// The blob has the layout of include/uapi/linux/btf.h: a 24-byte header,
// 12-byte types with their trailing words, a string table that starts
// with the empty name.
func TestLayout(t *testing.T) {
	raw, fn := build()
	le := binary.NativeEndian
	if le.Uint16(raw) != 0xeB9F || raw[2] != 1 || le.Uint32(raw[4:]) != 24 {
		t.Fatalf("bad header % x", raw[:24])
	}
	typeLen, strOff, strLen := le.Uint32(raw[12:]), le.Uint32(raw[16:]), le.Uint32(raw[20:])
	// INT 12+4, PTR 12, FUNC_PROTO 12+8, FUNC 12
	if typeLen != 16+12+20+12 || strOff != typeLen || int(24+strOff+strLen) != len(raw) {
		t.Fatalf("sections: types %d, strings at %d (%d bytes), blob %d bytes", typeLen, strOff, strLen, len(raw))
	}
	if fn != 4 {
		t.Fatalf("FUNC is type %d, want 4", fn)
	}
	if strs := string(raw[24+strOff:]); strs != "\x00int\x00ctx\x00f\x00" {
		t.Fatalf("strings %q", strs)
	}
}

// The kernel accepts it.
func TestLoad(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	raw, _ := build()
	fd, err := sys.BTFLoad(raw)
	if err != nil {
		t.Fatal(err)
	}
	fd.Close()
}
