package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"unsafe"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/internal/testutil"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/structcodec"
	"github.com/bpfmaps/bpfmaps/sys"
)

// TestGlobalDataSections generates Go types for the .bss, .data and
// .rodata of an object with gaps between its variables, and holds them
// against the BTF of the object (whose section sizes and variable
// offsets come from its ELF symbols, as a loader fixes them) and against
// the BTF that bpftool's libbpf gave the kernel for the maps it created:
// each type passes btf.Check, meets mapops.MemoryOf's terms (its Go
// memory is its C bytes, its sizes the map's value size and slot), and
// reads the variables' values from the mapped memory of the map.
func TestGlobalDataSections(t *testing.T) {
	requireGo(t)
	testutil.CheckLeaks(t)
	obj := testutil.CompileBPF(t, filepath.Join("testdata", "globals", "globals.bpf.c"))
	spec, err := btf.LoadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{".bss": "Bss", ".data": "Data", ".rodata": "Rodata"}
	req := btfRequest{spec: spec, pkg: "globals", command: "-test", methods: true}
	for _, name := range []string{".bss", ".data", ".rodata"} {
		id, err := spec.TypeByName(name)
		if err != nil {
			t.Fatal(err)
		}
		req.ids = append(req.ids, id)
	}
	src, err := GenerateFromBTF(req)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := loadSource("globals", src)
	if err != nil {
		t.Fatalf("the generated code does not compile: %v\n%s", err, src)
	}
	layouts := map[string]*structcodec.Layout{}
	for i, name := range []string{".bss", ".data", ".rodata"} {
		_, l, err := lookup(pkg, nil, sections[name])
		if err != nil {
			t.Fatalf("%v\n%s", err, src)
		}
		if err := btf.Check(l, spec, req.ids[i]); err != nil {
			t.Errorf("btf.Check(%s, %s of the object): %v\n%s", sections[name], name, err, src)
		}
		if err := l.RawError(); err != nil {
			t.Errorf("%s cannot overlay its map: %v\n%s", sections[name], err, src)
		}
		layouts[name] = l
	}

	testutil.RequireBPF(t)
	bpftool := testutil.RequireTool(t, "bpftool")
	fs := testutil.BPFFS(t)
	pins := filepath.Join(fs, "maps")
	if out, err := exec.Command(bpftool, "prog", "loadall", obj, filepath.Join(fs, "progs"), "pinmaps", pins).CombinedOutput(); err != nil {
		t.Fatalf("bpftool prog loadall: %v\n%s", err, out)
	}
	entries, err := os.ReadDir(pins)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, e := range entries {
		m, err := mapops.Open(filepath.Join(pins, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		info, err := m.Info()
		if err != nil {
			t.Fatal(err)
		}
		types, err := btf.LoadMap(info)
		if err != nil {
			t.Fatal(err)
		}
		vt, err := types.Spec.Type(types.Value)
		if err != nil || vt.Kind != btf.KindDatasec {
			continue
		}
		l := layouts[vt.Name]
		if l == nil {
			t.Fatalf("map %s holds %s, which has no Go type", e.Name(), vt.Name)
		}
		seen++
		// libbpf's layout of the section, as the kernel has it.
		if err := btf.Check(l, types.Spec, types.Value); err != nil {
			t.Errorf("btf.Check(%s, the kernel's %s): %v", l.Type().Name(), vt.Name, err)
		}
		if l.Size() != int(info.ValueSize) || int(l.Type().Size()) != sys.ValueStride(int(info.ValueSize)) {
			t.Errorf("%s: %d C bytes and %d Go bytes, the map has %d-byte values in %d-byte slots",
				vt.Name, l.Size(), l.Type().Size(), info.ValueSize, sys.ValueStride(int(info.ValueSize)))
		}
		mem, err := m.Memory()
		if err != nil {
			t.Fatalf("%s: %v", vt.Name, err)
		}
		// The variables' values, read from the mapping as MemoryOf
		// would: the Go value is the memory.
		v := reflect.NewAt(l.Type(), unsafe.Pointer(&mem[0])).Elem()
		want := map[string]map[string]any{
			".data":   {"Rate": uint32(5), "Budget": uint64(1000), "Name": [6]byte{'a', 'b', 'c'}},
			".rodata": {"Limit": uint32(9), "Seed": uint64(42)},
			".bss":    {"Hits": uint64(0), "Drops": uint32(0)},
		}[vt.Name]
		for field, w := range want {
			if got := v.FieldByName(field).Interface(); !reflect.DeepEqual(got, w) {
				t.Errorf("%s.%s in the mapped memory: %v, want %v", vt.Name, field, got, w)
			}
		}
		if vt.Name == ".bss" {
			// A write by the map's update is what the overlay reads.
			val := reflect.New(l.Type()).Elem()
			val.FieldByName("Hits").SetUint(7)
			val.FieldByName("Flag").SetUint(1)
			val.FieldByName("Totals").Field(1).SetUint(1 << 40)
			val.FieldByName("Spare").SetUint(3)
			b := make([]byte, l.Size())
			if err := l.EncodeValue(b, val); err != nil {
				t.Fatal(err)
			}
			if err := m.Update(make([]byte, 4), b, mapops.Any); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(v.Interface(), val.Interface()) || !bytes.Equal(mem[:l.Size()], b) {
				t.Errorf(".bss after an update: the overlay reads %+v, want %+v", v.Interface(), val.Interface())
			}
		}
	}
	if seen != 3 {
		t.Errorf("found %d global data maps, want 3", seen)
	}
}
