package sys

import "unsafe"

// ObjNameLen is BPF_OBJ_NAME_LEN: object names hold 15 bytes and a NUL.
const ObjNameLen = 16

// MapCreateAttr is the BPF_MAP_CREATE member of union bpf_attr.
type MapCreateAttr struct {
	MapType               MapType
	KeySize               uint32
	ValueSize             uint32
	MaxEntries            uint32
	MapFlags              uint32
	InnerMapFD            uint32
	NumaNode              uint32
	MapName               [ObjNameLen]byte
	MapIfindex            uint32
	BTFFD                 uint32
	BTFKeyTypeID          uint32
	BTFValueTypeID        uint32
	BTFVmlinuxValueTypeID uint32
	MapExtra              uint64
}

// mapElemAttr is the BPF_MAP_*_ELEM member. Value doubles as next_key.
type mapElemAttr struct {
	MapFD uint32
	_     uint32
	Key   unsafe.Pointer
	Value unsafe.Pointer
	Flags uint64
}

// mapBatchAttr is the BPF_MAP_*_BATCH member.
type mapBatchAttr struct {
	InBatch   unsafe.Pointer
	OutBatch  unsafe.Pointer
	Keys      unsafe.Pointer
	Values    unsafe.Pointer
	Count     uint32
	MapFD     uint32
	ElemFlags uint64
	Flags     uint64
}

// ProgLoadAttr is the BPF_PROG_LOAD member of union bpf_attr. ProgLoad fills
// the log fields itself.
type ProgLoadAttr struct {
	ProgType           uint32
	InsnCnt            uint32
	Insns              unsafe.Pointer
	License            unsafe.Pointer
	LogLevel           uint32
	LogSize            uint32
	LogBuf             unsafe.Pointer
	KernVersion        uint32
	ProgFlags          uint32
	ProgName           [ObjNameLen]byte
	ProgIfindex        uint32
	ExpectedAttachType uint32
	ProgBTFFD          uint32
	FuncInfoRecSize    uint32
	FuncInfo           unsafe.Pointer
	FuncInfoCnt        uint32
	LineInfoRecSize    uint32
	LineInfo           unsafe.Pointer
	LineInfoCnt        uint32
	AttachBTFID        uint32
	AttachProgFD       uint32
	CoreReloCnt        uint32
	FDArray            unsafe.Pointer
	CoreRelos          unsafe.Pointer
	CoreReloRecSize    uint32
	_                  uint32
}

// objAttr is the BPF_OBJ_PIN / BPF_OBJ_GET member.
type objAttr struct {
	Pathname  unsafe.Pointer
	BPFFD     uint32
	FileFlags uint32
}

// TestRunAttr is the BPF_PROG_TEST_RUN member of union bpf_attr
// (attr.test). ProgTestRun fills ProgFD.
type TestRunAttr struct {
	ProgFD      uint32
	Retval      uint32
	DataSizeIn  uint32
	DataSizeOut uint32
	DataIn      unsafe.Pointer
	DataOut     unsafe.Pointer
	Repeat      uint32
	Duration    uint32
	CtxSizeIn   uint32
	CtxSizeOut  uint32
	CtxIn       unsafe.Pointer
	CtxOut      unsafe.Pointer
	Flags       uint32
	CPU         uint32
	BatchSize   uint32
	_           uint32
}

// getIDAttr is the BPF_*_GET_*_ID member.
type getIDAttr struct {
	ID        uint32 // start_id, map_id, …
	NextID    uint32
	OpenFlags uint32
}

// infoAttr is the BPF_OBJ_GET_INFO_BY_FD member (attr.info).
type infoAttr struct {
	BPFFD   uint32
	InfoLen uint32
	Info    unsafe.Pointer
}

// btfLoadAttr is the BPF_BTF_LOAD member.
type btfLoadAttr struct {
	BTF         unsafe.Pointer
	BTFLogBuf   unsafe.Pointer
	BTFSize     uint32
	BTFLogSize  uint32
	BTFLogLevel uint32
	_           uint32
}

// MapInfo is struct bpf_map_info, as BPF_OBJ_GET_INFO_BY_FD fills it.
type MapInfo struct {
	Type                  MapType
	ID                    uint32
	KeySize               uint32
	ValueSize             uint32
	MaxEntries            uint32
	MapFlags              uint32
	Name                  [ObjNameLen]byte
	Ifindex               uint32
	BTFVmlinuxValueTypeID uint32
	NetnsDev              uint64
	NetnsIno              uint64
	BTFID                 uint32
	BTFKeyTypeID          uint32
	BTFValueTypeID        uint32
	_                     uint32
	MapExtra              uint64
}

// NameString returns the map's name up to the first NUL.
func (mi *MapInfo) NameString() string { return cString(mi.Name[:]) }

// SetName copies name into a fixed object-name field, truncating it to 15
// bytes so that a NUL always ends it.
func SetName(dst *[ObjNameLen]byte, name string) {
	*dst = [ObjNameLen]byte{}
	copy(dst[:ObjNameLen-1], name)
}

func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// The package relies on a pointer filling a 64-bit attribute field.
var _ [unsafe.Sizeof(unsafe.Pointer(nil)) - 8]struct{}
