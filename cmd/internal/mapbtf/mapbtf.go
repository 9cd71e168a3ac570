// Package mapbtf finds the C types the bpfmaps and bpfcodegen commands
// work with: a map's key and value types, and types named on the command
// line in BTF files (BPF objects, /sys/kernel/btf).
package mapbtf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bpfmaps/bpfmaps/btf"
	"github.com/bpfmaps/bpfmaps/mapops"
	"github.com/bpfmaps/bpfmaps/sys"
)

// ErrNoBTF is returned for a map created without BTF.
var ErrNoBTF = errors.New("the map has no BTF (it was created without key and value types)")

// Types is a map's BTF and the ids of its key and value types (0 when the
// map names none, as for an array's or a ringbuf's).
type Types struct {
	Spec       *btf.Spec
	Key, Value btf.TypeID
}

// ForMap returns the BTF of the map described by info; ErrNoBTF when it
// has none.
func ForMap(info sys.MapInfo) (*Types, error) {
	if info.BTFID == 0 {
		return nil, ErrNoBTF
	}
	spec, err := mapops.LoadBTF(info.BTFID)
	if err != nil {
		return nil, err
	}
	return &Types{Spec: spec, Key: btf.TypeID(info.BTFKeyTypeID), Value: btf.TypeID(info.BTFValueTypeID)}, nil
}

// LoadFile parses the BTF in a file: an ELF object's .BTF section (what
// clang -g -target bpf writes), raw BTF such as /sys/kernel/btf/vmlinux,
// or a module's split BTF under /sys/kernel/btf (on top of vmlinux).
func LoadFile(path string) (*btf.Spec, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(raw, []byte("\x7fELF")) {
		return btf.LoadELF(bytes.NewReader(raw))
	}
	dir, file := filepath.Split(filepath.Clean(path))
	if filepath.Clean(dir) == btf.KernelDir && file != "vmlinux" {
		vmlinux, err := btf.LoadKernel()
		if err != nil {
			return nil, err
		}
		return btf.ParseSplit(raw, vmlinux)
	}
	spec, err := btf.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return spec, nil
}

// Lookup finds the type that a C name means: a struct, union, enum or
// typedef of that name, tried in that order; "struct x", "union x" and
// "enum x" ask for one kind, and a name that starts with a dot (.bss,
// .data, .rodata) the DATASEC of that global data section.
func Lookup(spec *btf.Spec, name string) (btf.TypeID, error) {
	kinds := []btf.Kind{btf.KindStruct, btf.KindUnion, btf.KindEnum, btf.KindEnum64, btf.KindTypedef}
	if k, rest, ok := strings.Cut(name, " "); ok {
		switch k {
		case "struct":
			kinds = []btf.Kind{btf.KindStruct}
		case "union":
			kinds = []btf.Kind{btf.KindUnion}
		case "enum":
			kinds = []btf.Kind{btf.KindEnum, btf.KindEnum64}
		default:
			return 0, fmt.Errorf("bad type name %q: want name, struct name, union name or enum name", name)
		}
		name = strings.TrimSpace(rest)
	}
	if strings.HasPrefix(name, ".") {
		// A global data section (.bss, .data, .rodata): its DATASEC.
		if id, err := spec.Lookup(name, btf.KindDatasec); err == nil {
			return id, nil
		}
		return 0, fmt.Errorf("no section %q in the BTF: an object has .bss, .data and .rodata only when it has global variables of that kind", name)
	}
	for _, k := range kinds {
		id, err := spec.Lookup(name, k)
		if err == nil {
			return id, nil
		}
		if strings.Contains(err.Error(), "types are") {
			return 0, err // ambiguous
		}
	}
	keyword := "struct"
	if len(kinds) <= 2 {
		keyword = strings.TrimSuffix(kinds[0].String(), "64")
	}
	return 0, fmt.Errorf("no %s named %q in the BTF (clang keeps in a BPF object only the types that its maps, "+
		"global variables and functions use; to keep this one, use it so, e.g. with a global of that type or "+
		"\"%s %s *unused __attribute__((unused));\" in the C source)", kindList(kinds), name, keyword, name)
}

func kindList(kinds []btf.Kind) string {
	if len(kinds) > 2 {
		return "struct, union, enum or typedef"
	}
	return kinds[0].String()
}
