package btf

import (
	"fmt"

	"github.com/bpfmaps/bpfmaps/sys"
)

// LoadID reads and parses the kernel's BTF object with the given id (see
// `bpftool btf list`). The BTF of a kernel module is split on vmlinux,
// which is then read from /sys/kernel/btf/vmlinux. Reading BTF by id needs
// CAP_SYS_ADMIN.
func LoadID(id uint32) (*Spec, error) {
	fd, err := sys.BTFGetFDByID(id)
	if err != nil {
		return nil, fmt.Errorf("btf id %d: %w", id, err)
	}
	info, err := sys.BTFGetInfo(fd)
	fd.Close()
	if err != nil {
		return nil, fmt.Errorf("btf id %d: %w", id, err)
	}
	var spec *Spec
	if info.KernelBTF && info.Name != "vmlinux" {
		vmlinux, verr := LoadKernel()
		if verr != nil {
			return nil, fmt.Errorf("btf id %d (module %s): base: %w", id, info.Name, verr)
		}
		spec, err = ParseSplit(info.Raw, vmlinux)
	} else {
		spec, err = Parse(info.Raw)
	}
	if err != nil {
		return nil, fmt.Errorf("btf id %d: %w", id, err)
	}
	return spec, nil
}

// MapTypes is the BTF a map was created with: the parsed BTF object and
// the ids of the key and value types in it (0 where the map names none,
// as for an array's keys or a ring buffer's).
type MapTypes struct {
	Spec       *Spec
	Key, Value TypeID
}

// LoadMap returns the BTF of the map that info describes (sys.MapGetInfo
// gives it), or an error that is ErrNoBTF when the map was created
// without key and value types.
func LoadMap(info sys.MapInfo) (*MapTypes, error) {
	if info.BTFID == 0 {
		return nil, noBTF("btf: the map has no BTF (it was created without key and value types)")
	}
	spec, err := LoadID(info.BTFID)
	if err != nil {
		return nil, err
	}
	return &MapTypes{Spec: spec, Key: TypeID(info.BTFKeyTypeID), Value: TypeID(info.BTFValueTypeID)}, nil
}
