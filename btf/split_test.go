package btf_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
)

// Split BTF, as module BTF is on vmlinux: ids and string offsets continue
// the base's, types refer to the base's, lookups see both; bpftool reads
// the same split blob on the same base.
func TestSplit(t *testing.T) {
	var bb btf.Builder
	u32 := bb.Int("unsigned int", 4, false)
	point := bb.Struct("point", 8, btf.Member{Name: "x", Type: u32}, btf.Member{Name: "y", Type: u32, BitOffset: 32})
	baseRaw, err := bb.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	base, err := btf.Parse(baseRaw)
	if err != nil {
		t.Fatal(err)
	}

	sb := btf.Builder{Base: base}
	typedef := sb.Add(&btf.Type{Kind: btf.KindTypedef, Name: "u32_t", Ref: u32})
	seg := sb.Struct("segment", 20,
		btf.Member{Name: "from", Type: point}, btf.Member{Name: "to", Type: point, BitOffset: 64},
		btf.Member{Name: "x", Type: typedef, BitOffset: 128}) // "x" is also a base string
	if typedef != 3 || seg != 4 {
		t.Fatalf("split ids %d and %d, want 3 and 4", typedef, seg)
	}
	splitRaw, err := sb.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := btf.Parse(splitRaw); err == nil {
		t.Fatal("split BTF parses without its base")
	}
	s, err := btf.ParseSplit(splitRaw, base)
	if err != nil {
		t.Fatal(err)
	}
	if s.FirstID() != 3 || s.MaxID() != 4 || s.NumTypes() != 2 || s.Base() != base {
		t.Fatalf("split: first %d, max %d, %d types", s.FirstID(), s.MaxID(), s.NumTypes())
	}
	id, err := s.Lookup("point", btf.KindStruct)
	if err != nil || id != point {
		t.Fatalf("the base's point through the split spec: %d, %v", id, err)
	}
	segT, _ := s.Type(seg)
	if segT.Members[0].Name != "from" || s.Name(segT.Members[0].Type) != "struct point" || segT.Members[2].Name != "x" {
		t.Fatalf("segment: %+v", segT)
	}
	if r, _ := s.Resolve(typedef); r != u32 {
		t.Errorf("u32_t resolves to %d, want the base's %d", r, u32)
	}
	if size, _ := s.Size(seg); size != 20 {
		t.Errorf("size of segment: %d", size)
	}
	if a, _ := s.Align(seg); a != 4 {
		t.Errorf("alignment of segment: %d", a)
	}

	bpftool := testutil.OptionalTool(t, "bpftool")
	if bpftool == "" {
		return
	}
	dir := t.TempDir()
	basePath, splitPath := filepath.Join(dir, "base"), filepath.Join(dir, "split")
	if err := os.WriteFile(basePath, baseRaw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(splitPath, splitRaw, 0o600); err != nil {
		t.Fatal(err)
	}
	if n := bpftoolCount(t, bpftool, splitPath, basePath); n != s.NumTypes() {
		t.Errorf("bpftool lists %d types of the split blob, the parser %d", n, s.NumTypes())
	}
	out, err := exec.Command(bpftool, "--base-btf", basePath, "btf", "dump", "file", splitPath).CombinedOutput()
	if err != nil {
		t.Fatalf("bpftool: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "[3] TYPEDEF 'u32_t' type_id=1") || !strings.Contains(string(out), "[4] STRUCT 'segment' size=20 vlen=3") ||
		!strings.Contains(string(out), "'x' type_id=3 bits_offset=128") || strings.Contains(string(out), "[1]") {
		t.Errorf("bpftool reads the split blob as:\n%s", out)
	}
}
