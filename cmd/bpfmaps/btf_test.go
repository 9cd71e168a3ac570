package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/internal/progs"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// Map names of the tests in this file, unique per run: other runs of the
// tests may share the kernel (see uniqueName).
var (
	nNoBTF   = uniqueName("cli_nobtf")
	nTailBTF = uniqueName("cli_tbtf")
)

// exampleSource is the C source of the example whose maps the BTF tests
// load: its types cover structs, nesting, arrays of structs, a union,
// bitfields, a packed struct, an enum, text and a per-CPU map.
const exampleSource = "../../examples/flowtypes/bpf/flow.bpf.c"

// buildExample compiles the example with clang, as its doc says.
func buildExample(t *testing.T) string { return testutil.CompileBPF(t, exampleSource) }

// loadExample has bpftool load the example's program and pin its maps in
// a private bpf filesystem; it returns the directory of the pinned maps.
func loadExample(t *testing.T, bpftool, obj string) string {
	t.Helper()
	fs := testutil.BPFFS(t)
	maps := filepath.Join(fs, "maps")
	if out, err := exec.Command(bpftool, "prog", "loadall", obj, filepath.Join(fs, "progs"), "pinmaps", maps).CombinedOutput(); err != nil {
		t.Fatalf("bpftool prog loadall: %v\n%s", err, out)
	}
	return maps
}

// canonical turns JSON into its token stream, one token a line: object
// members stay in order and duplicate names (bpftool names every
// anonymous member "") stay distinct, numbers keep their digits.
func canonical(t *testing.T, data []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var sb strings.Builder
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return sb.String()
		}
		if err != nil {
			t.Fatalf("bad JSON: %v\n%s", err, data)
		}
		switch v := tok.(type) {
		case string:
			sb.WriteString(strconv.Quote(v))
		default:
			fmt.Fprint(&sb, v)
		}
		sb.WriteByte('\n')
	}
}

// TestDumpWithBTFAgreesWithBpftool loads a clang-built object with
// bpftool, fills each of its maps (a hash with a struct key and a struct
// value holding an enum, a char array and a nested struct; an array of
// structs; a per-CPU hash; a union; bitfields; a packed struct; anonymous
// members; a .data section) with readable values and with random bytes,
// and requires bpfmaps dump --json on each to equal bpftool map dump -j,
// the "formatted" objects included, member for member and in order.
func TestDumpWithBTFAgreesWithBpftool(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	bpftool := testutil.RequireTool(t, "bpftool")
	maps := loadExample(t, bpftool, buildExample(t))

	r := rand.New(rand.NewPCG(13, 12))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	entries, err := os.ReadDir(maps)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	for _, want := range []string{"flows", "paths", "percpu", "addrs", "flags", "wires", "anons", "wides"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Fatalf("bpftool pinned %v, not %s", names, want)
		}
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(maps, name)
			m, err := mapops.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			info, err := m.Info()
			if err != nil {
				t.Fatal(err)
			}
			if info.BTFID == 0 || info.BTFValueTypeID == 0 {
				t.Fatalf("bpftool created %s without BTF", name)
			}
			key, value := make([]byte, info.KeySize), make([]byte, info.ValueSize)
			fill := func(k, v []byte) {
				if info.Type == unix.BPF_MAP_TYPE_ARRAY {
					k = []byte{k[0] % byte(info.MaxEntries), 0, 0, 0}
				}
				if m.PerCPU() { // a different value on every CPU
					if err := m.UpdatePerCPU(k, random(m.ValueBufferSize()), mapops.Any); err != nil {
						t.Fatal(err)
					}
					return
				}
				if err := m.Update(k, v, mapops.Any); err != nil {
					t.Fatal(err)
				}
			}
			for range 3 {
				copy(key, random(len(key)))
				copy(value, random(len(value)))
				fill(key, value)
			}
			if name == "flows" {
				// Readable: text in comm, a known enumerator in state.
				copy(key, random(len(key)))
				clear(value)
				value[0], value[16] = 7, 2 // packets, state FLOW_CLOSING
				copy(value[20:], "bash")
				fill(key, value)
				// Not text to bpftool: a byte above 0x7e before the NUL.
				copy(key, random(len(key)))
				copy(value[20:], "ab\xffc\x00")
				fill(key, value)
			}
			if name == "flow_data" {
				// done (byte 9) is 0, the padding byte after it is not:
				// a _Bool is its own byte only.
				clear(value)
				value[10] = 1
				fill(key, value)
			}
			ours := ok(t, "dump", "--json", path)
			out, err := exec.Command(bpftool, "map", "dump", "pinned", path, "-j").Output()
			if err != nil {
				t.Fatalf("bpftool map dump: %v", err)
			}
			if !strings.Contains(ours, `"formatted"`) {
				t.Errorf("dump --json of a map with BTF has no formatted member:\n%s", ours)
			}
			if got, want := canonical(t, []byte(ours)), canonical(t, out); got != want {
				t.Errorf("dump --json differs from bpftool map dump -j\nours:    %s\nbpftool: %s", ours, out)
			}
		})
	}
}

// TestBTFTextInfoAndGet shows the plain text forms: dump, get and watch
// print the map's C values as bpftool's JSON on one line, and info names
// the key and value types.
func TestBTFTextInfoAndGet(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	bpftool := testutil.RequireTool(t, "bpftool")
	maps := loadExample(t, bpftool, buildExample(t))
	path := filepath.Join(maps, "flows")
	key := "0a000001 0a000002 0050 01bb 06 000000"
	value := "0100000000000000 ffffffffffffffff 01000000 62617368000000000000000000000000 0a000003 0035 0700 09000000"
	ok(t, "put", path, key, value)

	const wantKey = `{"saddr":16777226,"daddr":33554442,"sport":20480,"dport":47873,"proto":6}`
	const wantValue = `{"packets":1,"bytes":18446744073709551615,"state":"FLOW_ESTABLISHED","comm":"bash","peer":{"addr":50331658,"port":13568,"zone":7},"flags":9}`
	if got := ok(t, "get", path, key); got != wantValue+"\n" {
		t.Errorf("get = %q, want %q", got, wantValue)
	}
	if got, want := ok(t, "dump", path), "key: "+wantKey+"  value: "+wantValue+"\nFound 1 element\n"; got != want {
		t.Errorf("dump =\n%s\nwant\n%s", got, want)
	}
	// watch prints the new value as its C type.
	var js map[string]any
	if err := json.Unmarshal([]byte(ok(t, "info", "--json", path)), &js); err != nil {
		t.Fatal(err)
	}
	cmd := toolCmd(toolPath, "watch", path, key, "--timeout", "10s")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntilOpen(t, cmd, fmt.Sprint(js["id"])) // then it reads the current value
	ok(t, "put", path, key, strings.Replace(value, "0100000000000000", "0200000000000000", 1))
	if err := cmd.Wait(); err != nil || stdout.String() != strings.Replace(wantValue, `"packets":1`, `"packets":2`, 1)+"\n" {
		t.Errorf("watch: %v, stdout %q, stderr %q", err, stdout.String(), stderr.String())
	}
	// A flag still wins over BTF.
	if got := ok(t, "get", path, key, "--value-int"); strings.Contains(got, "{") {
		t.Errorf("get --value-int printed BTF: %q", got)
	}
	info := ok(t, "info", path)
	for _, want := range []string{"key type:     struct flow_key (btf type ", "value type:   struct flow_stats (btf type ", "btf id:"} {
		if !strings.Contains(info, want) {
			t.Errorf("info lacks %q:\n%s", want, info)
		}
	}
	if js["btf_key_type"] != "struct flow_key" || js["btf_value_type"] != "struct flow_stats" || js["btf_id"] == nil {
		t.Errorf("info --json = %v", js)
	}
	// A map without BTF prints as before.
	_, id := newMap(t, unix.BPF_MAP_TYPE_HASH, nNoBTF, 4, 4, 2)
	ok(t, "put", id, "01020304", "05060708")
	if got := ok(t, "dump", id); got != "key: 01 02 03 04  value: 05 06 07 08\nFound 1 element\n" {
		t.Errorf("dump of a map without BTF = %q", got)
	}
	if strings.Contains(ok(t, "info", id), "type:  struct") {
		t.Errorf("info of a map without BTF names types")
	}
}

// TestTailWithBTF decodes ring records with a C type from an object file:
// tail --btf flow.bpf.o --type ring_event.
func TestTailWithBTF(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireFeature(t, sys.HaveRingBuf)
	obj := buildExample(t)
	ring, id := newMap(t, unix.BPF_MAP_TYPE_RINGBUF, nTailBTF, 0, 0, 4096)
	prog, err := progs.EmitEvent(ring)
	if err != nil {
		t.Fatal(err)
	}
	defer prog.Close()
	if _, err := progs.Run(prog, 2); err != nil {
		t.Fatal(err)
	}
	out := ok(t, "tail", id, "--count", "2", "--timeout", "10s", "--btf", obj, "--type", "struct ring_event", "--json")
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for sc.Scan() {
		var rec struct {
			Size      int
			Data      []string
			Formatted struct {
				TimeNS uint64 `json:"time_ns"`
				CPU    uint32 `json:"cpu"`
				Len    uint32 `json:"len"`
			}
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		raw := make([]byte, len(rec.Data))
		for i, s := range rec.Data {
			b, _ := strconv.ParseUint(s, 0, 8)
			raw[i] = byte(b)
		}
		want := fmt.Sprintf("%d %d %d", leU(raw[0:8]), leU(raw[8:12]), leU(raw[12:16]))
		got := fmt.Sprintf("%d %d %d", rec.Formatted.TimeNS, rec.Formatted.CPU, rec.Formatted.Len)
		if rec.Size != progs.EventSize || got != want || rec.Formatted.TimeNS == 0 {
			t.Errorf("record %s: formatted %s, the bytes say %s", sc.Text(), got, want)
		}
		n++
	}
	if n != 2 {
		t.Errorf("tail printed %d records:\n%s", n, out)
	}
	fails(t, 2, []string{"--btf and --type go together"}, "tail", id, "--btf", obj, "--timeout", "10s")
	fails(t, 1, []string{"no struct named \"nope\""}, "tail", id, "--btf", obj, "--type", "struct nope", "--timeout", "10s")
}

func leU(b []byte) uint64 {
	var v uint64
	for i := len(b) - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}
