package main

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// Map names of the tests in this file, unique per run: other runs of the
// tests may share the kernel (see uniqueName).
var (
	nPutGet = uniqueName("cli_putget")
	nBad    = uniqueName("cli_bad")
	nTwice  = uniqueName("cli_twice")
	nInfo   = uniqueName("cli_info")
	nLayout = uniqueName("cli_layout")
	nQueue  = uniqueName("cli_queue")
	nStack  = uniqueName("cli_stack")
	nPin    = uniqueName("cli_pin")
	nPriv   = uniqueName("cli_priv")
)

// newMap creates a map for one test; it is closed (and so removed) when the
// test ends.
func newMap(t *testing.T, typ sys.MapType, name string, key, value, max uint32) (*sys.FD, string) {
	t.Helper()
	attr := sys.MapCreateAttr{MapType: typ, KeySize: key, ValueSize: value, MaxEntries: max}
	sys.SetName(&attr.MapName, name)
	fd, err := sys.MapCreate(&attr)
	if err != nil {
		t.Fatalf("create %s map: %v", typ.String(), err)
	}
	t.Cleanup(func() { fd.Close() })
	info, err := sys.MapGetInfo(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fd, fmt.Sprint(info.ID)
}

// ok runs the tool, requires exit status 0 and returns stdout.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := cli(t, args...)
	if code != 0 {
		t.Fatalf("bpfmaps %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// fails runs the tool and requires the exit status and a stderr that
// contains every one of msgs.
func fails(t *testing.T, code int, msgs []string, args ...string) {
	t.Helper()
	_, errOut, got := cli(t, args...)
	if got != code {
		t.Errorf("bpfmaps %s: exit %d, want %d (stderr %q)", strings.Join(args, " "), got, code, errOut)
		return
	}
	for _, m := range msgs {
		if !strings.Contains(errOut, m) {
			t.Errorf("bpfmaps %s: stderr %q does not contain %q", strings.Join(args, " "), errOut, m)
		}
	}
}

func TestPutGetDel(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	_, id := newMap(t, unix.BPF_MAP_TYPE_HASH, nPutGet, 4, 8, 16)

	// Integer arguments are in host order, as C stores them.
	u32 := func(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
	u64 := func(v uint64) []byte { return binary.NativeEndian.AppendUint64(nil, v) }
	one, fortyTwo := u32(1), u64(42)
	ok(t, "put", nPutGet, hexBytes(one), "0x"+hex.EncodeToString(fortyTwo))
	ok(t, "put", "id:"+id, "u32:2", "u64:0x1234")
	ok(t, "put", id, "3", "-1", "--int")
	jsonHex := func(b []byte) string { return `["` + strings.Join(jsonBytes(b), `","`) + `"]` }
	for _, tc := range []struct{ args, want string }{
		{"get " + nPutGet + " " + hex.EncodeToString(one), hexBytes(fortyTwo) + "\n"},
		{"get " + nPutGet + " u32:1 --int", "42\n"},
		{"get " + nPutGet + " --key-int 2 --value-int", "4660\n"},
		{"get " + nPutGet + " u32:3 --int", "18446744073709551615\n"},
		{"get " + nPutGet + " u32:2 --json", `{"key":` + jsonHex(u32(2)) + `,"value":` + jsonHex(u64(0x1234)) + "}\n"},
		// The u64 42 seen as two u32 halves: C's view of the same bytes.
		{"get " + nPutGet + " u32:1 --layout lo:u32,hi:u32", fmt.Sprintf("lo=%d hi=%d\n",
			binary.NativeEndian.Uint32(fortyTwo), binary.NativeEndian.Uint32(fortyTwo[4:]))},
	} {
		if got := ok(t, strings.Fields(tc.args)...); got != tc.want {
			t.Errorf("bpfmaps %s = %q, want %q", tc.args, got, tc.want)
		}
	}
	fails(t, 1, []string{`map ` + id + ` "` + nPutGet + `"`, "put " + hexBytes(one), "key already exists"},
		"put", nPutGet, "u32:1", "u64:1", "--noexist")
	fails(t, 1, []string{"key does not exist"}, "put", nPutGet, "u32:9", "u64:1", "--exist")
	ok(t, "del", nPutGet, "u32:1")
	fails(t, 1, []string{`map ` + id + ` "` + nPutGet + `"`, "get " + hexBytes(one), "key does not exist"}, "get", nPutGet, "u32:1")
	fails(t, 1, []string{"del " + hexBytes(one), "key does not exist"}, "del", nPutGet, "u32:1")
	if got := ok(t, "dump", nPutGet, "--int"); !strings.Contains(got, "key: 2  value: 4660\n") || !strings.HasSuffix(got, "Found 2 elements\n") {
		t.Errorf("dump --int after del:\n%s", got)
	}
}

func TestBadInput(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	_, id := newMap(t, unix.BPF_MAP_TYPE_HASH, nBad, 4, 8, 4)
	newMap(t, unix.BPF_MAP_TYPE_ARRAY, nTwice, 4, 4, 1)
	newMap(t, unix.BPF_MAP_TYPE_ARRAY, nTwice, 4, 4, 1)
	dir := t.TempDir()
	for _, tc := range []struct {
		code int
		msgs []string
		args string
	}{
		{1, []string{`no map named "cli_nosuch"`}, "get cli_nosuch u32:1"},
		{1, []string{"open map id 4294967295", "no map with that id"}, "dump 4294967295"},
		{1, []string{"open map pinned at " + dir + "/gone", "not on a bpf filesystem"}, "info " + dir + "/gone"},
		{1, []string{`map name "` + nTwice + `" is ambiguous: ids `, "id:N"}, "dump " + nTwice},
		{2, []string{`bad map id "x"`}, "info id:x"},
		{2, []string{"key is 3 bytes", `map ` + id + ` "` + nBad + `" (hash) has 4-byte keys`}, "get " + nBad + " 010203"},
		{2, []string{"value is 4 bytes", "has 8-byte values"}, "put " + nBad + " u32:1 u32:1"},
		{2, []string{`malformed hex "0x0g"`}, "get " + nBad + " 0x0g"},
		{2, []string{`malformed hex "123"`, "odd number of digits", "u32:123"}, "get " + nBad + " 123"},
		{2, []string{`unknown integer form "u24"`}, "get " + nBad + " u24:1"},
		{2, []string{`bad u8 integer "300"`, "out of range"}, "get " + nBad + " u8:300"},
		{2, []string{"get takes 2 arguments, got 1"}, "get " + nBad},
		{2, []string{"value layout is 4 bytes", "has 8-byte values"}, "dump " + nBad + " --layout a:u32"},
		{2, []string{`unknown type "u7"`}, "dump " + nBad + " --layout a:u7"},
		{2, []string{`no field "c" in the layout (fields: a, b)`}, "put " + nBad + " u32:1 c=1 --layout a:u32,b:u32"},
		{2, []string{"--noexist and --exist exclude each other"}, "put " + nBad + " u32:1 u64:1 --exist --noexist"},
		{1, []string{`map ` + id + ` "` + nBad + `"`, "pop", "not a queue or stack"}, "pop " + nBad},
	} {
		fails(t, tc.code, tc.msgs, strings.Fields(tc.args)...)
	}
}

func TestInfoAndListAgreeWithBpftool(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	bpftool := testutil.RequireTool(t, "bpftool")
	_, id := newMap(t, unix.BPF_MAP_TYPE_PERCPU_ARRAY, nInfo, 4, 12, 3)

	var ours map[string]any
	if err := json.Unmarshal([]byte(ok(t, "info", "--json", nInfo)), &ours); err != nil {
		t.Fatal(err)
	}
	theirs := bpftoolJSON(t, bpftool, "map", "show", "id", id)
	var theirsMap map[string]any
	json.Unmarshal(theirs, &theirsMap)
	for _, f := range []string{"id", "type", "name", "flags", "bytes_key", "bytes_value", "max_entries", "bytes_memlock", "frozen"} {
		if ours[f] != theirsMap[f] {
			t.Errorf("info --json %s = %v, bpftool says %v", f, ours[f], theirsMap[f])
		}
	}

	var ourList, theirList []map[string]any
	json.Unmarshal([]byte(ok(t, "list", "--json")), &ourList)
	json.Unmarshal(bpftoolJSON(t, bpftool, "map", "list"), &theirList)
	find := func(list []map[string]any) map[string]any {
		for _, m := range list {
			if fmt.Sprint(m["id"]) == id {
				return m
			}
		}
		t.Fatalf("map %s missing from %v", id, list)
		return nil
	}
	o, th := find(ourList), find(theirList)
	for _, f := range []string{"id", "type", "name", "flags", "bytes_key", "bytes_value", "max_entries"} {
		if o[f] != th[f] {
			t.Errorf("list --json %s = %v, bpftool says %v", f, o[f], th[f])
		}
	}
	text := ok(t, "info", id)
	for _, want := range []string{"name:         " + nInfo, "type:         percpu_array", "value size:   12", "max entries:  3", "per-CPU:"} {
		if !strings.Contains(text, want) {
			t.Errorf("info output lacks %q:\n%s", want, text)
		}
	}
}

func bpftoolJSON(t *testing.T, bpftool string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(bpftool, append([]string{"-j"}, args...)...).Output()
	if err != nil {
		t.Fatalf("bpftool %v: %v", args, err)
	}
	return out
}

// TestDumpAgreesWithBpftool fills maps of several kinds through the tool
// and requires dump --json to equal bpftool map dump -j on the same map.
func TestDumpAgreesWithBpftool(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	bpftool := testutil.RequireTool(t, "bpftool")
	for _, tc := range []struct {
		typ        sys.MapType
		key, value uint32
	}{
		{unix.BPF_MAP_TYPE_HASH, 4, 8},
		{unix.BPF_MAP_TYPE_ARRAY, 4, 6},
		{unix.BPF_MAP_TYPE_PERCPU_HASH, 8, 4},
		{unix.BPF_MAP_TYPE_LRU_HASH, 2, 16},
		{unix.BPF_MAP_TYPE_PERCPU_ARRAY, 4, 8},
	} {
		name := "cli_d_" + tc.typ.String()
		t.Run(tc.typ.String(), func(t *testing.T) {
			_, id := newMap(t, tc.typ, name, tc.key, tc.value, 5)
			for i := range 3 {
				key := strings.Repeat(fmt.Sprintf("%02x", i+1), int(tc.key))
				if tc.typ == unix.BPF_MAP_TYPE_ARRAY || tc.typ == unix.BPF_MAP_TYPE_PERCPU_ARRAY {
					key = fmt.Sprintf("u32:%d", i*2)
				}
				value := strings.Repeat(fmt.Sprintf("%02x", 0xa0+i), int(tc.value))
				ok(t, "put", "id:"+id, key, value)
			}
			var ours, theirs any
			if err := json.Unmarshal([]byte(ok(t, "dump", "--json", id)), &ours); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(bpftoolJSON(t, bpftool, "map", "dump", "id", id), &theirs); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(theirs, ours); diff != "" {
				t.Errorf("dump --json differs from bpftool map dump -j (-bpftool +ours):\n%s", diff)
			}
		})
	}
}

func TestLayout(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	newMap(t, unix.BPF_MAP_TYPE_HASH, nLayout, 4, 24, 4)
	const lay = "pid:u32,comm:cstring[16],port:be16"
	ok(t, "put", nLayout, "u32:7", "pid=42,comm=bash,port=8080", "--layout", lay)
	pid := hexBytes(binary.NativeEndian.AppendUint32(nil, 42)) // host order
	if got, want := ok(t, "get", nLayout, "u32:7"), pid+" 62 61 73 68 00 00 00 00 00 00 00 00 00 00 00 00 1f 90 00 00\n"; got != want {
		t.Errorf("bytes of a layout value = %q, want %q", got, want)
	}
	if got, want := ok(t, "get", nLayout, "u32:7", "--layout", lay), "pid=42 comm=bash port=8080\n"; got != want {
		t.Errorf("get --layout = %q, want %q", got, want)
	}
	var e struct {
		Formatted struct{ Value map[string]any }
	}
	json.Unmarshal([]byte(ok(t, "dump", nLayout, "--json", "--layout", lay)+""), new([]any))
	out := ok(t, "get", nLayout, "u32:7", "--json", "--layout", lay)
	if err := json.Unmarshal([]byte(out), &e); err != nil || e.Formatted.Value["comm"] != "bash" || e.Formatted.Value["port"] != 8080.0 {
		t.Errorf("get --json --layout = %s (%v)", out, err)
	}
	fails(t, 2, []string{"field comm", `"a-name-longer-than-16" is 21 bytes, the field holds 15 and a NUL`},
		"put", nLayout, "u32:1", "comm=a-name-longer-than-16", "--layout", lay)
	ok(t, "put", nLayout, "pid=1", "addr=10.1.2.3,up=true", "--key-layout", "pid:u32", "--layout", "addr:ipv4,up:bool,_:bytes[19]")
	if got, want := ok(t, "dump", nLayout, "--key-layout", "pid:u32", "--layout", "addr:ipv4,up:bool,_:bytes[19]"), "key: pid=1  value: addr=10.1.2.3 up=true _="+strings.Repeat("00", 19)+"\n"; !strings.Contains(got, want) {
		t.Errorf("dump with layouts:\n%s\nwant a line %q", got, want)
	}
}

func TestQueueAndStack(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	newMap(t, unix.BPF_MAP_TYPE_QUEUE, nQueue, 0, 4, 2)
	newMap(t, unix.BPF_MAP_TYPE_STACK, nStack, 0, 4, 2)
	for _, m := range []string{nQueue, nStack} {
		fails(t, 1, []string{m, "pop", "is empty"}, "pop", m)
		fails(t, 1, []string{m, "peek", "is empty"}, "peek", m)
		ok(t, "push", m, "u32:1")
		ok(t, "push", m, "2", "--int")
		fails(t, 1, []string{m, "push", "is full (2 elements"}, "push", m, "u32:3")
		ok(t, "push", m, "u32:3", "--overwrite")
		fails(t, 2, []string{m, "without keys: use push"}, "put", m, "u32:1", "u32:1")
		fails(t, 1, []string{m, "has no keys to walk; use peek or pop"}, "dump", m)
	}
	for _, tc := range []struct{ args, want string }{
		{"peek " + nQueue + " --int", "2\n"}, // the oldest, 1, was overwritten
		{"pop " + nQueue + " --int", "2\n"},
		{"pop " + nQueue + " --json", `{"value":["` + strings.Join(jsonBytes(binary.NativeEndian.AppendUint32(nil, 3)), `","`) + `"]}` + "\n"},
		{"peek " + nStack + " --int", "3\n"},
		{"pop " + nStack, hexBytes(binary.NativeEndian.AppendUint32(nil, 3)) + "\n"},
		{"pop " + nStack + " --int", "2\n"},
	} {
		if got := ok(t, strings.Fields(tc.args)...); got != tc.want {
			t.Errorf("bpfmaps %s = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestPinAndFreeze(t *testing.T) {
	testutil.CheckLeaks(t)
	fs := testutil.BPFFS(t)
	_, id := newMap(t, unix.BPF_MAP_TYPE_ARRAY, nPin, 4, 4, 2)
	path := filepath.Join(fs, "pinned")
	ok(t, "pin", nPin, path)
	fails(t, 1, []string{`map ` + id + ` "` + nPin + `"`, "pin at " + path, "pin path already exists"}, "pin", nPin, path)
	plain := t.TempDir() + "/x"
	fails(t, 1, []string{`map ` + id + ` "` + nPin + `"`, "pin at " + plain, "not on a bpf filesystem"}, "pin", nPin, plain)
	fails(t, 1, []string{"open map pinned at " + fs + "/gone: ", "no such file"}, "get", fs+"/gone", "u32:1")
	ok(t, "put", path, "u32:1", "u32:5")
	if got := ok(t, "get", nPin, "1", "--int"); got != "5\n" {
		t.Errorf("value written through the pin = %q", got)
	}
	ok(t, "freeze", path)
	if got := ok(t, "info", nPin); !strings.Contains(got, "frozen:       true") {
		t.Errorf("info after freeze:\n%s", got)
	}
	fails(t, 1, []string{`map ` + id + ` "` + nPin + `"`, "put " + hexBytes(binary.NativeEndian.AppendUint32(nil, 1)), "the map is frozen"}, "put", nPin, "u32:1", "u32:6")
	if got := ok(t, "get", path, "1", "--int"); got != "5\n" {
		t.Errorf("frozen value = %q", got)
	}
}

// TestWithoutPrivilege runs every command that opens a map as nobody: each
// must fail with exit status 1 and name the missing privilege.
func TestWithoutPrivilege(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	setpriv := testutil.RequireTool(t, "setpriv")
	_, id := newMap(t, unix.BPF_MAP_TYPE_HASH, nPriv, 4, 4, 2)
	for _, args := range [][]string{
		{"info", id}, {"dump", id}, {"get", id, "u32:1"}, {"put", id, "u32:1", "u32:1"}, {"del", id, "u32:1"},
		{"watch", id, "u32:1"}, {"tail", id}, {"pop", id}, {"freeze", id}, {"dump", nPriv},
		{"demo", "--duration", "1s"},
	} {
		cmd := toolCmd(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", toolPath}, args...)...)
		out, err := cmd.CombinedOutput()
		ee, isExit := err.(*exec.ExitError)
		if !isExit || ee.ExitCode() != 1 || !strings.Contains(string(out), "CAP_BPF") {
			t.Errorf("bpfmaps %v as nobody: %v, output %q; want exit status 1 naming CAP_BPF", args, err, out)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, c := range commands {
		out, errOut, code := cli(t, c.name, "--help")
		if code != 0 || !strings.Contains(out, "usage: bpfmaps "+c.name) || errOut != "" {
			t.Errorf("%s --help: exit %d, stdout %q, stderr %q", c.name, code, out, errOut)
		}
	}
	out := ok(t, "get", "--help")
	for _, want := range []string{"MAP KEY", "id:12", "u32:7", "be16", "--key-int", "cstring[N]", "-layout"} {
		if !strings.Contains(out, want) {
			t.Errorf("get --help lacks %q:\n%s", want, out)
		}
	}
}

func TestPerCPU(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	cpus, err := sys.PossibleCPUs()
	if err != nil {
		t.Fatal(err)
	}
	newMap(t, unix.BPF_MAP_TYPE_PERCPU_HASH, "cli_percpu", 4, 4, 2)
	ok(t, "put", "cli_percpu", "u32:1", "u32:5")
	var want, wantDump strings.Builder
	wantDump.WriteString("key: 1\n")
	for cpu := range cpus {
		fmt.Fprintf(&want, "cpu%d: 5\n", cpu)
		fmt.Fprintf(&wantDump, "  cpu%d: 5\n", cpu)
	}
	wantDump.WriteString("Found 1 element\n")
	if got := ok(t, "get", "cli_percpu", "1", "--int"); got != want.String() {
		t.Errorf("get of a per-CPU map = %q, want %q", got, want.String())
	}
	if got := ok(t, "dump", "cli_percpu", "--int"); got != wantDump.String() {
		t.Errorf("dump of a per-CPU map = %q, want %q", got, wantDump.String())
	}
}
