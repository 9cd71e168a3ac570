package mapops_test

import (
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"

	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/structcodec"
)

// Flow is the Go twin of struct flow in testdata/flows.bpf.c.
type Flow struct {
	SrcAddr uint32 `bpf:"be"`
	DstAddr uint32 `bpf:"be"`
	SrcPort uint16 `bpf:"be"`
	Proto   uint8
	DstPort uint16 `bpf:"be"`
}

// FlowStats is the Go twin of struct flow_stats.
type FlowStats struct {
	Packets uint64
	Bytes   uint64
	Comm    string `bpf:"cstring,size=16"`
}

// WrongFlow forgets that proto sits between the ports.
type WrongFlow struct {
	SrcAddr uint32 `bpf:"be"`
	DstAddr uint32 `bpf:"be"`
	SrcPort uint16 `bpf:"be"`
	DstPort uint16 `bpf:"be"`
	Proto   uint8
}

// loadFlows has bpftool load the clang-built testdata/flows.bpf.c and pin
// its maps in a private bpf filesystem; it returns the maps' directory.
func loadFlows(t *testing.T) string {
	t.Helper()
	obj := testutil.CompileBPF(t, filepath.Join("testdata", "flows.bpf.c"))
	bpftool := testutil.RequireTool(t, "bpftool")
	fs := testutil.BPFFS(t)
	progs, maps := filepath.Join(fs, "progs"), filepath.Join(fs, "maps")
	if out, err := exec.Command(bpftool, "prog", "loadall", obj, progs, "pinmaps", maps).CombinedOutput(); err != nil {
		t.Fatalf("bpftool prog loadall: %v\n%s", err, out)
	}
	return maps
}

// A map a loader created from a clang-built object carries BTF: NewTyped
// of the right Go types works, of a wrong one fails naming the field on
// both sides, and SkipBTFCheck trusts the caller.
func TestTypedChecksLoaderBTF(t *testing.T) {
	start(t)
	maps := loadFlows(t)
	last, err := mapops.Open(filepath.Join(maps, "last_flow"))
	if err != nil {
		t.Fatal(err)
	}
	defer last.Close()
	flows, err := mapops.Open(filepath.Join(maps, "flows"))
	if err != nil {
		t.Fatal(err)
	}
	defer flows.Close()

	spec, key, value, err := flows.BTF()
	if err != nil || spec == nil {
		t.Fatalf("flows BTF: %v, %v", spec, err)
	}
	if got := spec.Name(key) + " -> " + spec.Name(value); got != "struct flow -> struct flow_stats" {
		t.Errorf("flows' types: %s", got)
	}

	typed, err := mapops.NewTyped[Flow, FlowStats](flows)
	if err != nil {
		t.Fatal(err)
	}
	f := Flow{SrcAddr: 0x0a000001, DstAddr: 0x0a000002, SrcPort: 443, Proto: 6, DstPort: 51000}
	if err := typed.Update(f, FlowStats{Packets: 3, Bytes: 1500, Comm: "curl"}, mapops.Any); err != nil {
		t.Fatal(err)
	}
	if got, err := typed.Lookup(f); err != nil || got.Comm != "curl" || got.Packets != 3 {
		t.Fatalf("lookup: %+v, %v", got, err)
	}
	if _, err := mapops.NewTyped[uint32, Flow](last); err != nil {
		t.Fatal(err)
	}

	_, err = mapops.NewTyped[uint32, WrongFlow](last)
	want := "value: Go field WrongFlow.DstPort (offset 10, 2 bytes) vs C member flow.dport (offset 12, 2 bytes)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("NewTyped with the wrong value type: %v\nwant an error containing %q", err, want)
	}
	t.Log(err)
	_, err = mapops.NewTyped[WrongFlow, FlowStats](flows)
	if err == nil || !strings.Contains(err.Error(), "key: Go field WrongFlow.DstPort") {
		t.Fatalf("NewTyped with the wrong key type: %v", err)
	}
	if _, err := mapops.NewTyped[uint32, WrongFlow](last, mapops.SkipBTFCheck()); err != nil {
		t.Fatalf("SkipBTFCheck: %v", err)
	}
	// Options are functions: a nil one is ignored, and a CheckBTF with
	// no spec leaves the map's own BTF in force.
	if _, err := mapops.NewTyped[uint32, WrongFlow](last, nil, mapops.CheckBTF(nil, 0, 0)); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("NewTyped(nil option, CheckBTF(nil)) with the wrong value type: %v, want %q", err, want)
	}
}

// Create attaches BTF generated from Go types: NewTyped holds the types
// against it, and bpftool prints the entries field by field with the Go
// field names.
func TestCreateWithGoTypes(t *testing.T) {
	start(t)
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, MaxEntries: 8, Name: "btf_types",
		KeyType: layout[Flow](t), ValueType: layout[FlowStats](t)})
	if m.KeySize() != 16 || m.ValueSize() != 32 {
		t.Fatalf("sizes %d and %d, want 16 and 32 from the Go types", m.KeySize(), m.ValueSize())
	}
	typed, err := mapops.NewTyped[Flow, FlowStats](m)
	if err != nil {
		t.Fatal(err)
	}
	if err := typed.Update(Flow{SrcPort: 80, DstPort: 8080, Proto: 17}, FlowStats{Packets: 1, Comm: "go"}, mapops.Any); err != nil {
		t.Fatal(err)
	}
	if _, err := mapops.NewTyped[WrongFlow, FlowStats](m); err == nil || !strings.Contains(err.Error(), "key: Go field WrongFlow.DstPort (offset 10, 2 bytes) vs C member Flow.DstPort (offset 12, 2 bytes)") {
		t.Fatalf("NewTyped of the wrong key: %v", err)
	}
	if _, err := mapops.Create(mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, MaxEntries: 8, KeySize: 8, KeyType: layout[Flow](t), ValueSize: 8}); err == nil || !strings.Contains(err.Error(), "key type mapops_test.Flow is 16 bytes, the spec says 8") {
		t.Fatalf("Create with a key size that is not the key type's: %v", err)
	}

	bpftool := testutil.OptionalTool(t, "bpftool")
	if bpftool == "" {
		return
	}
	out, err := exec.Command(bpftool, "-j", "map", "dump", "id", strconv.Itoa(int(m.ID()))).Output()
	if err != nil {
		t.Fatalf("bpftool map dump: %v", err)
	}
	var entries []struct {
		Formatted struct {
			Key   map[string]any `json:"key"`
			Value map[string]any `json:"value"`
		} `json:"formatted"`
	}
	if err := json.Unmarshal(out, &entries); err != nil || len(entries) != 1 {
		t.Fatalf("bpftool map dump: %v\n%s", err, out)
	}
	e := entries[0].Formatted
	if e.Key["Proto"] != 17.0 || e.Value["Packets"] != 1.0 || e.Value["Comm"] != "go" {
		t.Errorf("bpftool formats the entry as %v -> %v", e.Key, e.Value)
	}
}

// Globals is the Go twin of the .bss section of testdata/flows.bpf.c.
type Globals struct {
	Seen  uint64
	First Flow
}

// A global data map's value type is a DATASEC: its variables are held
// against the Go struct's fields like the members of a struct.
func TestTypedChecksGlobalData(t *testing.T) {
	start(t)
	maps := loadFlows(t)
	matches, err := filepath.Glob(filepath.Join(maps, "*bss")) // libbpf names it flows.bss, bpftool pins flows_bss
	if err != nil || len(matches) != 1 {
		t.Fatalf("pinned .bss map: %v, %v", matches, err)
	}
	bss, err := mapops.Open(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	defer bss.Close()
	if _, err := mapops.NewTyped[uint32, Globals](bss); err != nil {
		t.Fatal(err)
	}
	type WrongGlobals struct {
		Seen  uint32
		_     uint32
		First Flow
	}
	_, err = mapops.NewTyped[uint32, WrongGlobals](bss)
	if want := "value: Go field WrongGlobals.Seen (offset 0, 4 bytes) vs C member .bss.seen (offset 0, 8 bytes)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("NewTyped of the wrong globals: %v\nwant an error containing %q", err, want)
	}
}

// layout is T's structcodec layout, for Spec.KeyType and Spec.ValueType.
func layout[T any](t *testing.T) *structcodec.Layout {
	t.Helper()
	c, err := structcodec.For[T]()
	if err != nil {
		t.Fatal(err)
	}
	return c.Layout()
}

// A process with CAP_BPF but not CAP_SYS_ADMIN cannot read a map's BTF by
// id. NewTyped then fails, naming the ways on, rather than accepting a key
// layout a privileged process would refuse; AllowUnreadableBTF proceeds
// with the sizes checked, and CheckBTF checks against a BTF the caller
// has.
func TestTypedBTFWithoutSysAdmin(t *testing.T) {
	if _, child := testutil.AsUser(); !child {
		testutil.RunAsUser(t, "bpf")
		return
	}
	testutil.CheckLeaks(t)
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, MaxEntries: 8, Name: "btf_capbpf",
		KeyType: layout[Flow](t), ValueType: layout[FlowStats](t)})
	for _, err := range []error{
		func() error { _, err := mapops.NewTyped[WrongFlow, FlowStats](m); return err }(),
		func() error { _, err := mapops.NewTyped[Flow, FlowStats](m); return err }(),
	} {
		if !errors.Is(err, unix.EPERM) || !strings.Contains(err.Error(), "CAP_SYS_ADMIN") ||
			!strings.Contains(err.Error(), "mapops.CheckBTF") || !strings.Contains(err.Error(), "mapops.AllowUnreadableBTF") {
			t.Errorf("NewTyped without CAP_SYS_ADMIN: %v; want EPERM naming CAP_SYS_ADMIN, CheckBTF and AllowUnreadableBTF", err)
		}
	}
	if _, err := mapops.NewTyped[WrongFlow, FlowStats](m, mapops.AllowUnreadableBTF()); err != nil {
		t.Errorf("AllowUnreadableBTF: %v", err)
	}
	if _, err := mapops.NewTyped[[16]byte, FlowStats](m, mapops.SkipBTFCheck()); err != nil {
		t.Errorf("SkipBTFCheck: %v", err)
	}

	// The caller's own BTF of the same types.
	var b btf.Builder
	kid, err := b.AddLayout(layout[Flow](t))
	if err != nil {
		t.Fatal(err)
	}
	vid, err := b.AddLayout(layout[FlowStats](t))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mapops.NewTyped[Flow, FlowStats](m, mapops.CheckBTF(spec, kid, vid)); err != nil {
		t.Errorf("CheckBTF with the right types: %v", err)
	}
	_, err = mapops.NewTyped[WrongFlow, FlowStats](m, mapops.CheckBTF(spec, kid, vid))
	if err == nil || !strings.Contains(err.Error(), "key: Go field WrongFlow.DstPort") {
		t.Errorf("CheckBTF with the wrong key type: %v", err)
	}
}

// CheckBTF holds the Go types against the BTF of the object file that
// declares the map, here for a map created without any BTF.
func TestTypedCheckBTFOfObject(t *testing.T) {
	start(t)
	obj := testutil.CompileBPF(t, filepath.Join("testdata", "flows.bpf.c"))
	spec, err := btf.LoadELFFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := spec.Lookup("flow", btf.KindStruct)
	if err != nil {
		t.Fatal(err)
	}
	vid, err := spec.Lookup("flow_stats", btf.KindStruct)
	if err != nil {
		t.Fatal(err)
	}
	m := create(t, mapops.Spec{Type: unix.BPF_MAP_TYPE_HASH, KeySize: 16, ValueSize: 32, MaxEntries: 8, Name: "btf_elf"})
	if _, err := mapops.NewTyped[Flow, FlowStats](m, mapops.CheckBTF(spec, kid, vid)); err != nil {
		t.Errorf("CheckBTF with the object's types: %v", err)
	}
	_, err = mapops.NewTyped[WrongFlow, FlowStats](m, mapops.CheckBTF(spec, kid, vid))
	if want := "key: Go field WrongFlow.DstPort (offset 10, 2 bytes) vs C member flow.dport (offset 12, 2 bytes)"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("CheckBTF with the wrong key type: %v\nwant an error containing %q", err, want)
	}
}
