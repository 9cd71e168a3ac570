// Package mapbtf fetches the BTF that describes a map's keys and values
// from the kernel, and reads BTF from files, for the bpfmaps and
// bpfcodegen commands.
//
// Fetching BTF by id (BPF_BTF_GET_FD_BY_ID and BPF_OBJ_GET_INFO_BY_FD on
// the BTF descriptor) is done here with one raw system call each until
// package sys has these commands (the BTF issue adds them); then this file
// shrinks to calls of those.
package mapbtf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/structcodec/btf"
	"github.com/bpfmaps/bpfmaps/sys"
)

// ErrNoBTF is returned for a map created without BTF.
var ErrNoBTF = errors.New("the map has no BTF (it was created without key and value types)")

// Types is a map's BTF and the ids of its key and value types (0 when the
// map names none, as for an array's or a ringbuf's).
type Types struct {
	Spec         *btf.Spec
	Key, Value   btf.TypeID
	BTFID        uint32
	VmlinuxValue bool // the value type is vmlinux's (struct_ops maps)
}

// ForMap returns the BTF of the map described by info; ErrNoBTF when it
// has none.
func ForMap(info sys.MapInfo) (*Types, error) {
	if info.BTFID == 0 {
		return nil, ErrNoBTF
	}
	spec, err := ByID(info.BTFID)
	if err != nil {
		return nil, err
	}
	return &Types{Spec: spec, Key: btf.TypeID(info.BTFKeyTypeID), Value: btf.TypeID(info.BTFValueTypeID), BTFID: info.BTFID}, nil
}

// btfInfo is struct bpf_btf_info.
type btfInfo struct {
	BTF       unsafe.Pointer
	BTFSize   uint32
	ID        uint32
	Name      unsafe.Pointer
	NameLen   uint32
	KernelBTF uint32
}

// getIDAttr is the BPF_*_GET_FD_BY_ID member of union bpf_attr.
type getIDAttr struct {
	ID, NextID, OpenFlags uint32
}

// ByID fetches and parses the kernel's BTF object with the given id.
// Split BTF (a module's) is parsed on top of vmlinux.
func ByID(id uint32) (*btf.Spec, error) {
	attr := getIDAttr{ID: id}
	r, _, errno := unix.Syscall(unix.SYS_BPF, unix.BPF_BTF_GET_FD_BY_ID, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	if errno != 0 {
		return nil, fmt.Errorf("btf get fd by id %d: %w", id, errno)
	}
	fd, err := sys.NewFD(int(r))
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	var info btfInfo
	if _, err := sys.ObjGetInfoByFD(fd, unsafe.Pointer(&info), uint32(unsafe.Sizeof(info))); err != nil {
		return nil, fmt.Errorf("btf %d: %w", id, err)
	}
	raw := make([]byte, info.BTFSize)
	name := make([]byte, 64)
	info = btfInfo{BTFSize: uint32(len(raw)), NameLen: uint32(len(name)), Name: unsafe.Pointer(&name[0])}
	if len(raw) > 0 {
		info.BTF = unsafe.Pointer(&raw[0])
	}
	if _, err := sys.ObjGetInfoByFD(fd, unsafe.Pointer(&info), uint32(unsafe.Sizeof(info))); err != nil {
		return nil, fmt.Errorf("btf %d: %w", id, err)
	}
	raw = raw[:min(int(info.BTFSize), len(raw))]
	spec, err := btf.Parse(raw)
	if err == nil {
		return spec, nil
	}
	// Module BTF and program BTF loaded against the kernel's are split.
	vmlinux, kerr := btf.LoadKernel()
	if kerr != nil {
		return nil, fmt.Errorf("btf %d: %w", id, err)
	}
	if spec, serr := btf.ParseSplit(raw, vmlinux); serr == nil {
		return spec, nil
	}
	n, _, _ := bytes.Cut(name, []byte{0})
	return nil, fmt.Errorf("btf %d %s: %w", id, n, err)
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
// "enum x" ask for one kind.
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
	for _, k := range kinds {
		id, err := spec.Lookup(name, k)
		if err == nil {
			return id, nil
		}
		if strings.Contains(err.Error(), "types are") {
			return 0, err // ambiguous
		}
	}
	return 0, fmt.Errorf("no %s named %q in the BTF", kindList(kinds), name)
}

func kindList(kinds []btf.Kind) string {
	if len(kinds) > 2 {
		return "struct, union, enum or typedef"
	}
	return kinds[0].String()
}
