package btf

import (
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("btf: %w", err)
	}
	var s *Spec
	if base == nil {
		s, err = Parse(raw)
	} else {
		s, err = ParseSplit(raw, base)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ErrNoBTF is returned by LoadELF for an object without a .BTF section.
var ErrNoBTF = errors.New("btf: no .BTF section")

// LoadELF parses the .BTF section of an ELF object, such as one that
// `clang -g -target bpf` writes. The section's byte order is the
// object's.
func LoadELF(r io.ReaderAt) (*Spec, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("btf: %w", err)
	}
	sec := f.Section(".BTF")
	if sec == nil {
		return nil, ErrNoBTF
	}
	if sec.Type == elf.SHT_NOBITS {
		return nil, fmt.Errorf("btf: the .BTF section holds no bytes")
	}
	raw, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("btf: read .BTF: %w", err)
	}
	return Parse(raw)
}

// LoadELFFile is LoadELF of the object file at path.
func LoadELFFile(path string) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("btf: %w", err)
	}
	defer f.Close()
	s, err := LoadELF(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}
