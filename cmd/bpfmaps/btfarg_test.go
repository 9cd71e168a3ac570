package main

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

// The key and value of TestBTFTextInfoAndGet as field=value pairs: the
// same bytes.
const (
	flowKeyFields   = "saddr=10.0.0.1,daddr=10.0.0.2,sport=20480,dport=47873,proto=6"
	flowValueFields = "packets=1,bytes=18446744073709551615,state=FLOW_ESTABLISHED,comm=bash," +
		"peer.addr=10.0.0.3,peer.port=13568,peer.zone=7,flags=9"
	flowKeyHex   = "0a000001 0a000002 0050 01bb 06 000000"
	flowValueHex = "0100000000000000 ffffffffffffffff 01000000 62617368000000000000000000000000 0a000003 0035 0700 09000000"
	flowKeyText  = `{"saddr":16777226,"daddr":33554442,"sport":20480,"dport":47873,"proto":6}`
	flowValText  = `{"packets":1,"bytes":18446744073709551615,"state":"FLOW_ESTABLISHED","comm":"bash","peer":{"addr":50331658,"port":13568,"zone":7},"flags":9}`
)

// TestBTFFieldValues: on a map with BTF, keys and values are given as
// field=value pairs without --layout, encoded through the map's C types
// (nested members, enums by name, text, IPv4 addresses, bitfields).
// Before, get took "saddr=…" for hex and said "odd number of digits (for
// an integer write u32:saddr=…)".
func TestBTFFieldValues(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	bpftool := testutil.RequireTool(t, "bpftool")
	maps := loadExample(t, bpftool, buildExample(t))
	flows := filepath.Join(maps, "flows")
	ok(t, "put", flows, flowKeyFields, flowValueFields)
	if got := ok(t, "get", flows, flowKeyHex); got != flowValText+"\n" {
		t.Errorf("value put as fields, read back by hex key = %q, want %q", got, flowValText)
	}
	if got := ok(t, "get", flows, flowKeyFields); got != flowValText+"\n" {
		t.Errorf("get by field key = %q, want %q", got, flowValText)
	}
	ok(t, "del", flows, flowKeyFields)
	ok(t, "put", flows, flowKeyHex, flowValueHex)
	if got := ok(t, "get", flows, flowKeyFields); got != flowValText+"\n" {
		t.Errorf("value put as hex, read by field key = %q, want %q", got, flowValText)
	}
	// Bitfields: what bpftool prints for the same bytes.
	flags := filepath.Join(maps, "flags")
	ok(t, "put", flags, "u32:0", "urgent=1,window=0x3fff,reserved=5,after=7,tail=5")
	if got, want := ok(t, "get", flags, "u32:0"), `{"urgent":"0x1","ack":"0x0","window":"0x3fff","reserved":"0x5","after":7,"tail":"0x5"}`+"\n"; got != want {
		t.Errorf("bitfields = %q, want %q", got, want)
	}
	for _, tc := range []struct{ value, msg string }{
		{"nope=1", `value: no member "nope" in struct flow_stats (members: packets, bytes, state, comm, peer, flags)`},
		{"state=BOGUS", `"BOGUS" is not an enumerator of enum flow_state (FLOW_NEW, FLOW_ESTABLISHED, FLOW_CLOSING, FLOW_CLOSED)`},
		{"peer=1", "struct endpoint has members: name them with dots"},
		{"comm=" + strings.Repeat("a", 16), "is 16 bytes, the array holds 15 and a NUL"},
		{"packets=-1", `member packets of struct flow_stats: bad 64-bit unsigned integer "-1"`},
		{"peer.port=65536", `bad 16-bit unsigned integer "65536": value out of range`},
		{"packets", `malformed hex "packets": want hex byte pairs`},
	} {
		fails(t, 2, []string{tc.msg}, "put", flows, flowKeyFields, tc.value)
	}
	fails(t, 2, []string{"field=value pairs need a struct or union, and __u32 is int"}, "put", flags, "x=1", "after=1")

	// A map without BTF says what field=value needs.
	_, id := newMap(t, unix.BPF_MAP_TYPE_HASH, uniqueName("cli_nobtf"), 16, 48, 2)
	fails(t, 2, []string{"key: field=value pairs need --key-layout, or a C type", "has no BTF type for its keys (give --btf FILE --key-type NAME)"},
		"get", id, flowKeyFields)
	_, errOut, _ := cli(t, "get", id, flowKeyFields)
	if strings.Contains(errOut, "odd number of digits") {
		t.Errorf("get with field=value on a map without BTF: %q", errOut)
	}
}

// TestBTFFlagsOnMapWithoutBTF gives a map created without BTF its C types
// from an object file: dump, get, put and watch take --btf FILE --type
// NAME --key-type NAME as tail does. Before, they had no such flags.
func TestBTFFlagsOnMapWithoutBTF(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	obj := buildExample(t)
	_, id := newMap(t, unix.BPF_MAP_TYPE_HASH, uniqueName("cli_btff"), 16, 48, 2)
	types := []string{"--btf", obj, "--key-type", "struct flow_key", "--type", "flow_stats"}
	ok(t, append([]string{"put", id, flowKeyFields, flowValueFields}, types...)...)
	if got, want := ok(t, append([]string{"dump", id}, types...)...), "key: "+flowKeyText+"  value: "+flowValText+"\nFound 1 element\n"; got != want {
		t.Errorf("dump --btf =\n%s\nwant\n%s", got, want)
	}
	if got := ok(t, "dump", id); !strings.Contains(got, "key: 0a 00 00 01 0a 00 00 02") {
		t.Errorf("dump without --btf = %q, want hex", got)
	}
	if got := ok(t, "get", id, flowKeyHex, "--btf", obj, "--type", "struct flow_stats"); got != flowValText+"\n" {
		t.Errorf("get --btf --type = %q", got)
	}
	if got := ok(t, "dump", "--json", id, "--btf", obj, "--type", "struct flow_stats"); !strings.Contains(got, `"formatted":{"value":`+flowValText) {
		t.Errorf("dump --json --btf = %q", got)
	}
	// Reading --btf counts towards --timeout: give it time enough on a
	// loaded machine.
	fails(t, 1, []string{"watch " + flowKeyText + ": timed out after 3s"},
		append([]string{"watch", id, flowKeyFields, "--timeout", "3s"}, types...)...)
	fails(t, 1, []string{": read --btf " + obj + ": timed out after 1ns"},
		append([]string{"watch", id, flowKeyFields, "--timeout", "1ns"}, types...)...)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--type", "flow_stats"}, "--type and --key-type name types of a --btf file"},
		{[]string{"--btf", obj}, "--btf needs --type"},
		{[]string{"--btf", obj, "--type", "flow_key"}, "--type struct flow_key is 16 bytes, map " + id},
		{[]string{"--btf", obj, "--type", "flow_stats", "--layout", "a:u64"}, "value layout is 8 bytes"},
		{[]string{"--btf", obj, "--key-type", "flow_key", "--key-layout", "a:u64,b:u64"}, "--key-layout and --key-type exclude each other"},
		{[]string{"--btf", "/dev/zero", "--type", "flow_stats"}, "--btf /dev/zero: a character device, not a regular file"},
	} {
		failsWithin(t, 2, []string{tc.msg}, append([]string{"dump", id}, tc.args...)...)
	}
	fails(t, 1, []string{`--btf ` + obj + `: no struct, union, enum or typedef named "nope"`}, "dump", id, "--btf", obj, "--type", "nope")
}

// exampleObject is the checked-in object of exampleSource: fuzzing needs
// no clang.
const exampleObject = "../../examples/flowtypes/bpf/flow.bpf.o"

// FuzzBTFFields: any field=value argument encodes or fails cleanly
// against the example's C types (nested structs, a union, bitfields, a
// packed struct, anonymous members, enums, text), and what encodes has
// the type's size and formats.
func FuzzBTFFields(f *testing.F) {
	spec, err := loadBTFFile(exampleObject)
	if err != nil {
		f.Fatal(err)
	}
	var types []*btfType
	for _, name := range []string{"flow_key", "flow_stats", "tcp_flags", "tagged_addr", "wire", "anon", "path"} {
		id, err := spec.TypeByName(name)
		if err != nil {
			f.Fatal(err)
		}
		bt, err := newBTFType(spec, id)
		if err != nil {
			f.Fatal(err)
		}
		types = append(types, bt)
	}
	for _, s := range []string{flowKeyFields, flowValueFields, "urgent=1,window=0x3fff,tail=7", "addr.v4=10.0.0.1,port=1",
		"addr.v6=00112233445566778899aabbccddeeff", "pts=00", "a.b.c=1", "=", ",,", "state=-1", "x=1=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		for _, bt := range types {
			b, err := bt.encode(arg)
			if err != nil {
				continue
			}
			if len(b) != bt.size() {
				t.Fatalf("%s: encode(%q) gave %d bytes, the type has %d", bt.Name(), arg, len(b), bt.size())
			}
			if _, err := bt.Format(b); err != nil {
				t.Fatalf("%s: encode(%q) gave bytes that do not format: %v", bt.Name(), arg, err)
			}
		}
	})
}

// TestBTFFieldsAgainstTheExample encodes members of each kind of the
// example's types and reads them back with the formatter, as dump would.
func TestBTFFieldsAgainstTheExample(t *testing.T) {
	spec, err := loadBTFFile(exampleObject)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ typ, arg, want string }{
		// peer.addr's bytes are 10.0.0.3 in network order; as a __u32 the
		// formatter prints them in host order, as bpftool does.
		{"flow_stats", flowValueFields, strings.Replace(flowValText, `"addr":50331658`,
			fmt.Sprintf(`"addr":%d`, binary.NativeEndian.Uint32([]byte{10, 0, 0, 3})), 1)},
		{"tcp_flags", "urgent=1,ack=1,window=5,reserved=0xffff,after=2,tail=3",
			`{"urgent":"0x1","ack":"0x1","window":"0x5","reserved":"0xffff","after":2,"tail":"0x3"}`},
		{"tagged_addr", "family=2,addr.v4=10.0.0.1,port=53", `"port":53`},
		{"flow_stats", "state=2", `"state":"FLOW_CLOSING"`},
	} {
		id, err := spec.TypeByName(tc.typ)
		if err != nil {
			t.Fatal(err)
		}
		bt, err := newBTFType(spec, id)
		if err != nil {
			t.Fatal(err)
		}
		b, err := bt.encode(tc.arg)
		if err != nil {
			t.Errorf("%s: encode(%q): %v", tc.typ, tc.arg, err)
			continue
		}
		if got := bt.text(b); !strings.Contains(got, tc.want) {
			t.Errorf("%s: encode(%q) formats as %s, want %s", tc.typ, tc.arg, got, tc.want)
		}
	}
}
