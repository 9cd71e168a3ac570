package btf_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/structcodec"
)

// fixtureStructs names the structs of testdata/fixtures.h.
var fixtureStructs = []string{
	"flow_key", "endpoint", "conn", "bucket", "hist", "packet", "session", "bits",
	"task_event", "hdr", "opts", "grid", "stats", "wrapper", "with_big",
}

// loadFixtures compiles testdata/fixtures.bpf.c with clang for the BPF
// target of the given byte order ("bpfel" or "bpfeb") and parses its .BTF.
func loadFixtures(t testing.TB, target string) (*btf.Spec, string) {
	t.Helper()
	obj := testutil.CompileBPF(t, filepath.Join("testdata", "fixtures.bpf.c"), "-target", target)
	s, err := btf.LoadELFFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	return s, obj
}

func lookupStruct(t testing.TB, s *btf.Spec, name string) btf.TypeID {
	t.Helper()
	id, err := s.Lookup(name, btf.KindStruct)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestFixturesAgainstGCC parses the BTF clang writes for the fixture
// structs, in both byte orders, and holds what the parser computes (size,
// alignment, the offset of every member, the bit offsets of bitfields) to
// what gcc reports for the same structs on the host; the type counts to
// bpftool's.
func TestFixturesAgainstGCC(t *testing.T) {
	el, elObj := loadFixtures(t, "bpfel")
	eb, ebObj := loadFixtures(t, "bpfeb")
	if el.NumTypes() != eb.NumTypes() {
		t.Fatalf("bpfel has %d types, bpfeb %d", el.NumTypes(), eb.NumTypes())
	}
	for id, a := range el.All() {
		b, err := eb.Type(id)
		if err != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("type %d: bpfel %+v, bpfeb %+v (%v)", id, a, b, err)
		}
	}

	// Bitfields: a:3, b:5, c:24 share the first word.
	bits, _ := el.Type(lookupStruct(t, el, "bits"))
	want := []struct{ off, size uint32 }{{0, 3}, {3, 5}, {8, 24}, {32, 0}}
	for i, m := range bits.Members {
		if m.BitOffset != want[i].off || uint32(m.BitfieldSize) != want[i].size {
			t.Errorf("bits.%s: bit %d, %d bits; want %d, %d", m.Name, m.BitOffset, m.BitfieldSize, want[i].off, want[i].size)
		}
	}
	big, _ := el.Type(lookupStruct(t, el, "with_big"))
	// clang 15 and later write ENUM64; older ones an 8-byte ENUM.
	if e, _ := el.Type(big.Members[0].Type); (e.Kind != btf.KindEnum64 && e.Kind != btf.KindEnum) || e.Size != 8 {
		t.Errorf("with_big.b: %+v, want an 8-byte enum", e)
	} else if e.Kind == btf.KindEnum64 && e.Values[1].Value != 1<<32 {
		t.Errorf("with_big.b: %+v, want BIG_HUGE = 1<<32", e)
	}

	gcc := testutil.RequireTool(t, "gcc")
	var src strings.Builder
	src.WriteString("#include <stdio.h>\n#include <stddef.h>\n#include \"fixtures.h\"\nint main(void) {\n")
	for _, name := range fixtureStructs {
		fmt.Fprintf(&src, "\tprintf(\"%s %%zu %%zu\", sizeof(struct %s), _Alignof(struct %s));\n", name, name, name)
		st, _ := el.Type(lookupStruct(t, el, name))
		for _, m := range st.Members {
			if !m.Bitfield() {
				fmt.Fprintf(&src, "\tprintf(\" %%zu\", offsetof(struct %s, %s));\n", name, m.Name)
			}
		}
		src.WriteString("\tprintf(\"\\n\");\n")
	}
	src.WriteString("\treturn 0;\n}\n")
	dir := t.TempDir()
	abs, _ := filepath.Abs("testdata")
	cfile, bin := filepath.Join(dir, "offsets.c"), filepath.Join(dir, "offsets")
	if err := os.WriteFile(cfile, []byte(src.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(gcc, "-Wall", "-Werror", "-I", abs, "-o", bin, cfile).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for _, name := range fixtureStructs {
		sc.Scan()
		f := strings.Fields(sc.Text())
		id := lookupStruct(t, el, name)
		st, _ := el.Type(id)
		size, _ := el.Size(id)
		align, _ := el.Align(id)
		got := []string{name, strconv.Itoa(int(size)), strconv.Itoa(int(align))}
		for _, m := range st.Members {
			if !m.Bitfield() {
				got = append(got, strconv.Itoa(int(m.BitOffset/8)))
			}
		}
		if strings.Join(got, " ") != strings.Join(f, " ") {
			t.Errorf("%s: BTF says size, align, offsets %v; gcc %v", name, got[1:], f[1:])
		}
	}

	bpftool := testutil.RequireTool(t, "bpftool")
	for _, c := range []struct {
		s   *btf.Spec
		obj string
	}{{el, elObj}, {eb, ebObj}} {
		if n := bpftoolCount(t, bpftool, c.obj, ""); n != c.s.NumTypes() {
			t.Errorf("%s: parsed %d types, bpftool lists %d", c.obj, c.s.NumTypes(), n)
		}
	}
}

// Go twins of the fixture structs, tagged as a user would write them.
type (
	FlowKey struct {
		Saddr uint32 `bpf:"be"`
		Daddr uint32 `bpf:"be"`
		Sport uint16 `bpf:"be"`
		Dport uint16 `bpf:"be"`
		Proto uint8
	}
	Endpoint struct {
		Addr uint32 `bpf:"be"`
		Port uint16 `bpf:"be"`
	}
	Conn struct {
		Src, Dst Endpoint
		Bytes    uint64
	}
	Bucket struct {
		Lo, Hi uint64
		Count  uint32
	}
	Hist struct {
		N       uint32
		Buckets [4]Bucket
	}
	Packet struct {
		Kind uint8
		Addr [16]byte `bpf:"offset=4"` // the union: v4 or v6
		Len  uint16
		_    [2]byte
	}
	Session struct {
		St     uint32
		Flags  uint16
		Cookie uint64 `bpf:"be"`
	}
	Bits struct {
		ABC  uint32 // a:3, b:5, c:24
		Tail uint16
	}
	TaskEvent struct {
		Pid  uint32
		Comm [16]byte `bpf:"cstring"`
		Ts   uint64
	}
	TaskEventString struct {
		Pid  uint32
		Comm string `bpf:"cstring,size=16"`
		Ts   uint64
	}
	Hdr struct {
		_    structcodec.Packed
		Type uint8
		Len  uint32
		ID   uint16
	}
	Opts struct {
		On    bool
		Level int8
		X     int16
		Y     int32
		Z     int64
	}
	Grid struct {
		Cells [3][4]uint16
		Tag   uint8
	}
	Stats struct {
		Mean float64
		P99  float32
	}
	Wrapper struct {
		Key   FlowKey
		Value uint32
	}
	WithBig struct {
		B     uint64
		Small uint8
	}
)

// Wrong twins, one mistake each.
type (
	FlowBadOffset struct {
		Saddr uint32 `bpf:"be"`
		Daddr uint32 `bpf:"be"`
		Sport uint16 `bpf:"be"`
		Dport uint16 `bpf:"be,offset=12"`
		Proto uint8
	}
	FlowBadSize struct {
		Saddr uint32 `bpf:"be"`
		Daddr uint32 `bpf:"be"`
		Sport uint32 `bpf:"be"`
		Dport uint16 `bpf:"be"`
		Proto uint8
	}
	SessionNoFlags struct {
		St     uint32
		Cookie uint64 `bpf:"be"`
	}
	FlowExtra struct {
		Saddr uint32 `bpf:"be"`
		Daddr uint32 `bpf:"be"`
		Sport uint16 `bpf:"be"`
		Dport uint16 `bpf:"be"`
		Proto uint8
		Extra uint16
	}
	GridTransposed struct {
		Cells [4][3]uint16
		Tag   uint8
	}
	TaskEventShortComm struct {
		Pid  uint32
		Comm [12]byte `bpf:"cstring"`
		_    [4]byte
		Ts   uint64
	}
	EndpointShifted struct {
		Addr uint32 `bpf:"be"`
		Port uint16 `bpf:"be,offset=6"`
	}
	ConnShifted struct {
		Src, Dst EndpointShifted
		Bytes    uint64
	}
	EndpointShort struct {
		Addr uint32 `bpf:"be"`
	}
	ConnShort struct {
		Src   EndpointShort
		_     [4]byte
		Dst   Endpoint
		Bytes uint64
	}
	FlowBig struct {
		FlowKey
		More uint64
	}
	FlowNoBE struct {
		Saddr uint32
		Daddr uint32 `bpf:"be"`
		Sport uint16 `bpf:"be"`
		Dport uint16 `bpf:"be"`
		Proto uint8
	}
	OptsBoolLevel struct {
		On    bool
		Level bool
		X     int16
		Y     int32
		Z     int64
	}
	PacketStruct struct {
		Kind uint8
		Addr struct{ V4, A, B, C uint32 }
		Len  uint16
		_    [2]byte
	}
	BitsSplit struct {
		AB   uint16 // a, b and the first byte of c
		C    uint16
		Tail uint16
		_    [2]byte
	}
	StatsInts struct {
		Mean uint64
		P99  uint32
	}
)

// TestCheck holds the Go twin of every fixture struct against its BTF
// (accepted), and a table of wrong twins (each refused with the message
// that names the mismatch on both sides).
func TestCheck(t *testing.T) {
	s, _ := loadFixtures(t, "bpfel")
	check := func(goType reflect.Type, cName string) error {
		l, err := structcodec.Compile(goType)
		if err != nil {
			t.Fatal(err)
		}
		return btf.Check(l, s, lookupStruct(t, s, cName))
	}
	twins := map[string][]any{
		"flow_key": {FlowKey{}}, "endpoint": {Endpoint{}}, "conn": {Conn{}}, "bucket": {Bucket{}},
		"hist": {Hist{}}, "packet": {Packet{}}, "session": {Session{}}, "bits": {Bits{}},
		"task_event": {TaskEvent{}, TaskEventString{}}, "hdr": {Hdr{}}, "opts": {Opts{}}, "grid": {Grid{}},
		"stats": {Stats{}}, "wrapper": {Wrapper{}}, "with_big": {WithBig{}},
	}
	for _, name := range fixtureStructs {
		if len(twins[name]) == 0 {
			t.Errorf("no Go twin for %s", name)
		}
		for _, twin := range twins[name] {
			if err := check(reflect.TypeOf(twin), name); err != nil {
				t.Errorf("the right twin of %s: %v", name, err)
			}
		}
	}

	for _, c := range []struct {
		what  string
		twin  any
		cName string
		want  string
	}{
		{"wrong offset", FlowBadOffset{}, "flow_key", "Go field FlowBadOffset.Dport (offset 12, 2 bytes) vs C member flow_key.dport (offset 10, 2 bytes)"},
		{"wrong size", FlowBadSize{}, "flow_key", "Go field FlowBadSize.Sport (offset 8, 4 bytes) vs C member flow_key.sport (offset 8, 2 bytes)"},
		{"missing field", SessionNoFlags{}, "session", "C member session.flags (offset 4, 2 bytes): no Go field covers it"},
		{"extra field", FlowExtra{}, "flow_key", "Go field FlowExtra.Extra (offset 14, 2 bytes): C struct flow_key has no member at offsets 14 to 15"},
		{"wrong array length", GridTransposed{}, "grid", "Go field GridTransposed.Cells (offset 0, 24 bytes) vs C member grid.cells (offset 0, 24 bytes): Go [4][3]uint16 has 4 elements, C __u16[3][4] has 3"},
		{"short array", TaskEventShortComm{}, "task_event", "Go field TaskEventShortComm.Comm (offset 4, 12 bytes) vs C member task_event.comm (offset 4, 16 bytes)"},
		{"nested struct off by one", ConnShifted{}, "conn", "Go field ConnShifted.Src.Port (offset 6, 2 bytes) vs C member conn.src.port (offset 4, 2 bytes)"},
		{"nested struct one member short", ConnShort{}, "conn", "Go field ConnShort.Src (offset 0, 4 bytes) vs C member conn.src (offset 0, 8 bytes)"},
		{"wrong total size", FlowBig{}, "flow_key", "Go type FlowBig (24 bytes) vs C type struct flow_key (16 bytes)"},
		{"be missing", FlowNoBE{}, "flow_key", "Go field FlowNoBE.Saddr (offset 0, 4 bytes) vs C member flow_key.saddr (offset 0, 4 bytes): C __be32 is big-endian (network order): tag the Go field `bpf:\"be\"`"},
		{"bool for an integer", OptsBoolLevel{}, "opts", "Go bool vs C __s8: bool stands for _Bool only; use int8"},
		{"struct for a union", PacketStruct{}, "packet", "C anonymous union: a Go struct cannot express a union; use a [16]byte field"},
		{"bitfields split", BitsSplit{}, "bits", "which Go cannot express: cover its storage with one integer or byte array field that holds it whole"},
		{"integers for floats", StatsInts{}, "stats", "Go uint64 vs C double: an integer stands for a C integer, enum or pointer"},
	} {
		err := check(reflect.TypeOf(c.twin), c.cName)
		t.Logf("%s: %v", c.what, err)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v\nwant an error containing %q", c.what, err, c.want)
		}
		var mm *btf.MismatchError
		if err != nil && !errorsAs(err, &mm) {
			t.Errorf("%s: %T is not a *btf.MismatchError", c.what, err)
		}
	}
}

func errorsAs(err error, target **btf.MismatchError) bool {
	m, ok := err.(*btf.MismatchError)
	*target = m
	return ok
}
