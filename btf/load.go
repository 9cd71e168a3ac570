package btf

import (
	"bytes"
	"cmp"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
)

// KernelDir is where the kernel publishes its BTF: vmlinux, and one file
// per module with BTF of its own (split on top of vmlinux).
const KernelDir = "/sys/kernel/btf"

// LoadKernel parses the running kernel's BTF, /sys/kernel/btf/vmlinux
// (kernels built with CONFIG_DEBUG_INFO_BTF).
func LoadKernel() (*Spec, error) {
	return loadFile(filepath.Join(KernelDir, "vmlinux"), nil)
}

// LoadModule parses the BTF of a loaded kernel module,
// /sys/kernel/btf/<name>, on top of vmlinux, the base it is split from.
func LoadModule(name string, vmlinux *Spec) (*Spec, error) {
	if name == "" || name == "vmlinux" || filepath.Base(name) != name {
		return nil, fmt.Errorf("btf: bad module name %q", name)
	}
	return loadFile(filepath.Join(KernelDir, name), vmlinux)
}

func loadFile(path string, base *Spec) (*Spec, error) {
	raw, err := readFile(path)
	if err != nil {
		return nil, err
	}
	var s *Spec
	if base == nil {
		s, err = Parse(raw)
	} else {
		s, err = ParseSplit(raw, base)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "load btf", Path: path, Err: err}
	}
	return s, nil
}

// ErrNoBTF means there is no BTF where some was asked for: an object
// without a .BTF section (LoadELF), a map created without key and value
// types (LoadMap). Test for it with errors.Is.
var ErrNoBTF = errors.New("btf: no BTF")

// noBTF is an ErrNoBTF that says where the BTF is missing.
type noBTF string

func (e noBTF) Error() string        { return string(e) }
func (e noBTF) Is(target error) bool { return target == ErrNoBTF }

// LoadELF parses the .BTF section of an ELF object, such as one that
// `clang -g -target bpf` writes. The section's byte order is the
// object's. The DATASECs of global data sections get their sizes and
// variable offsets from the object's sections and symbols, as a loader
// gives them to the kernel.
func LoadELF(r io.ReaderAt) (*Spec, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("btf: %w", err)
	}
	sec := f.Section(".BTF")
	if sec == nil {
		return nil, noBTF("btf: no .BTF section (compile with clang -g)")
	}
	if sec.Type == elf.SHT_NOBITS {
		return nil, fmt.Errorf("btf: the .BTF section holds no bytes")
	}
	raw, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("btf: read .BTF: %w", err)
	}
	s, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	if !fixDatasecs(s, f, raw) {
		return s, nil
	}
	return Parse(raw)
}

// fixDatasecs does what a loader (libbpf's btf_fixup_datasec) does
// before the kernel sees an object's BTF: clang writes the DATASEC of each
// global data section (.bss, .data, .rodata, …) with size 0 and every
// variable at offset 0, and the section's size and the variables' offsets
// are those of the ELF section and symbols. It patches raw, the blob s
// was parsed from, in place: sizes, offsets, and the variables sorted by
// offset. It reports whether it changed anything.
func fixDatasecs(s *Spec, f *elf.File, raw []byte) bool {
	syms, _ := f.Symbols()
	hl := s.order.Uint32(raw[4:])
	tsec := raw[hl+s.order.Uint32(raw[8:]):]
	changed := false
	for i, o := range s.offs {
		id := s.first + TypeID(i)
		if id == 0 {
			continue
		}
		t := s.typ(id)
		if t.Kind != KindDatasec {
			continue
		}
		var sec *elf.Section
		secIdx := -1
		for k, es := range f.Sections {
			if es.Name == t.Name {
				sec, secIdx = es, k
			}
		}
		if sec == nil || t.Size != 0 && t.Size != uint32(sec.Size) || sec.Size > 1<<31 {
			continue // not a section of this file (.kconfig, .ksyms), or already laid out
		}
		vars := append([]VarSecinfo(nil), t.Vars...)
		ok := true
		for j := range vars {
			v := s.typ(vars[j].Type)
			found := false
			for _, sym := range syms {
				if sym.Name == v.Name && int(sym.Section) == secIdx && elf.ST_TYPE(sym.Info) == elf.STT_OBJECT &&
					sym.Value <= sec.Size && uint64(vars[j].Size) <= sec.Size-sym.Value {
					vars[j].Offset, found = uint32(sym.Value), true
				}
			}
			ok = ok && found
		}
		if !ok {
			continue
		}
		slices.SortStableFunc(vars, func(a, b VarSecinfo) int { return cmp.Compare(a.Offset, b.Offset) })
		s.order.PutUint32(tsec[o+8:], uint32(sec.Size))
		for j, v := range vars {
			at := o + 12 + uint32(j)*12
			s.order.PutUint32(tsec[at:], uint32(v.Type))
			s.order.PutUint32(tsec[at+4:], v.Offset)
			s.order.PutUint32(tsec[at+8:], v.Size)
		}
		changed = true
	}
	return changed
}

// LoadELFFile is LoadELF of the object file at path, read as LoadFile
// reads files: regular files of at most MaxFileSize bytes.
func LoadELFFile(path string) (*Spec, error) {
	raw, err := readFile(path)
	if err != nil {
		return nil, err
	}
	s, err := LoadELF(bytes.NewReader(raw))
	if err != nil {
		return nil, &fs.PathError{Op: "load btf", Path: path, Err: err}
	}
	return s, nil
}
