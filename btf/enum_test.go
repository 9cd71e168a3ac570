package btf_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/sys"
)

// TestEnumsAgreeWithBpftool fills a map whose value holds enums of every
// size (1, 2, 4, 8 bytes) and sign with each enumerator's C value, the
// values BTF records for them (clang 14 writes 8-byte enums with 32-bit
// values), sign boundaries and random bytes, and requires the formatter
// to give what bpftool map dump -j gives for every value.
func TestEnumsAgreeWithBpftool(t *testing.T) {
	testutil.CheckLeaks(t)
	testutil.RequireBPF(t)
	bpftool := testutil.RequireTool(t, "bpftool")
	obj := testutil.CompileBPF(t, filepath.Join("testdata", "enums.bpf.c"))
	fs := testutil.BPFFS(t)
	pins := filepath.Join(fs, "maps")
	if out, err := exec.Command(bpftool, "prog", "loadall", obj, filepath.Join(fs, "progs"), "pinmaps", pins).CombinedOutput(); err != nil {
		t.Fatalf("bpftool prog loadall: %v\n%s", err, out)
	}
	path := filepath.Join(pins, "enums")
	m, err := sys.ObjGet(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	info, err := sys.MapGetInfo(m)
	if err != nil {
		t.Fatal(err)
	}
	types, err := btf.LoadMap(info)
	if err != nil {
		t.Fatal(err)
	}
	value, err := types.Spec.Type(types.Value)
	if err != nil {
		t.Fatal(err)
	}

	// Candidate values of each member, as bytes.
	var cands [][][]byte
	for _, mem := range value.Members {
		et, _ := types.Spec.Type(mem.Type)
		n := int(et.Size)
		put := func(set [][]byte, v uint64) [][]byte {
			b := make([]byte, 8)
			binary.NativeEndian.PutUint64(b, v)
			if binary.NativeEndian.Uint16([]byte{0, 1}) == 1 { // big-endian: the low bytes are last
				return append(set, b[8-n:])
			}
			return append(set, b[:n])
		}
		set := [][]byte{}
		for _, v := range []uint64{0, 1, ^uint64(0), 1 << (8*n - 1), 1<<(8*n-1) - 1, 10, 1 << 40, 0xFFFFFFFED5FA0E00 /* -5000000000 */} {
			set = put(set, v)
		}
		for _, e := range et.Values {
			set = put(set, e.Value)                               // as BTF holds it
			set = put(set, uint64(int64(int32(uint32(e.Value))))) // its 32 bits sign-extended
		}
		cands = append(cands, set)
	}
	r := rand.New(rand.NewPCG(17, 4))
	want := map[uint32][]byte{}
	for k := range uint32(40) {
		v := make([]byte, info.ValueSize)
		for i, mem := range value.Members {
			c := cands[i][int(k)%len(cands[i])]
			if k >= 32 { // random bytes
				c = make([]byte, len(c))
				for j := range c {
					c[j] = byte(r.Uint32())
				}
			}
			copy(v[mem.BitOffset/8:], c)
		}
		kb := binary.NativeEndian.AppendUint32(nil, k)
		if err := sys.MapUpdateElem(m, unsafe.Pointer(&kb[0]), unsafe.Pointer(&v[0]), 0); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}

	out, err := exec.Command(bpftool, "map", "dump", "pinned", path, "-j").Output()
	if err != nil {
		t.Fatalf("bpftool map dump: %v", err)
	}
	var entries []struct {
		Formatted struct {
			Key   uint32
			Value json.RawMessage
		}
	}
	if err := json.Unmarshal(out, &entries); err != nil {
		t.Fatalf("bpftool's JSON: %v\n%s", err, out)
	}
	if len(entries) != len(want) {
		t.Fatalf("bpftool dumped %d entries, want %d", len(entries), len(want))
	}
	f, err := btf.NewFormatter(types.Spec, types.Value)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		ours, err := f.Format(want[e.Formatted.Key])
		if err != nil {
			t.Fatal(err)
		}
		var theirs bytes.Buffer
		if err := json.Compact(&theirs, e.Formatted.Value); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours, theirs.Bytes()) {
			t.Errorf("key %d (% x):\nours:    %s\nbpftool: %s", e.Formatted.Key, want[e.Formatted.Key], ours, theirs.Bytes())
		}
	}
}
