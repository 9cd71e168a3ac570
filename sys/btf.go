package sys

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// BTFInfo is struct bpf_btf_info, as BPF_OBJ_GET_INFO_BY_FD fills it for a
// BTF object. BTFGetInfo fills it; to get the raw BTF and the name, it
// points BTF and Name at buffers of BTFSize and NameLen bytes.
type BTFInfo struct {
	BTF       unsafe.Pointer
	BTFSize   uint32
	ID        uint32
	Name      unsafe.Pointer
	NameLen   uint32
	KernelBTF uint32 // 1 for vmlinux and module BTF, 0 for BTF loaded by a program loader
}

// BTFGetNextID returns the id of the first BTF object whose id is greater
// than start (BPF_BTF_GET_NEXT_ID); ENOENT after the last one.
func BTFGetNextID(start uint32) (uint32, error) {
	attr := getIDAttr{ID: start}
	if _, errno := bpf(unix.BPF_BTF_GET_NEXT_ID, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); errno != 0 {
		return 0, newError(OpBTFNextID, errno)
	}
	return attr.NextID, nil
}

// BTFGetFDByID opens the BTF object with the given id
// (BPF_BTF_GET_FD_BY_ID).
func BTFGetFDByID(id uint32) (*FD, error) {
	attr := getIDAttr{ID: id}
	return fdCommand(OpBTFFDByID, unix.BPF_BTF_GET_FD_BY_ID, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
}

// BTF is a BTF object's description with its contents: the raw blob (for
// package btf to parse), its name ("vmlinux", a module's name,
// or empty for program BTF) and whether the kernel itself provides it.
type BTF struct {
	ID        uint32
	Name      string
	KernelBTF bool
	Raw       []byte
}

// BTFGetInfo reads the BTF object behind fd: a first query learns the
// sizes, a second copies the blob and the name.
func BTFGetInfo(fd *FD) (*BTF, error) {
	var info BTFInfo
	n, err := ObjGetInfoByFD(fd, unsafe.Pointer(&info), uint32(unsafe.Sizeof(info)))
	if err != nil {
		return nil, err
	}
	raw := make([]byte, info.BTFSize)
	name := make([]byte, info.NameLen+1) // the kernel writes a NUL after the name
	info = BTFInfo{BTFSize: uint32(len(raw))}
	// Kernels before 5.11 know neither the name nor kernel_btf, and refuse
	// a query whose fields past their struct are not zero.
	if uintptr(n) > unsafe.Offsetof(info.Name) {
		info.NameLen, info.Name = uint32(len(name)), unsafe.Pointer(&name[0])
	}
	if len(raw) > 0 {
		info.BTF = unsafe.Pointer(&raw[0])
	}
	if _, err := ObjGetInfoByFD(fd, unsafe.Pointer(&info), uint32(unsafe.Sizeof(info))); err != nil {
		return nil, err
	}
	if int(info.BTFSize) < len(raw) {
		raw = raw[:info.BTFSize]
	}
	return &BTF{ID: info.ID, Name: cString(name), KernelBTF: info.KernelBTF != 0, Raw: raw}, nil
}
