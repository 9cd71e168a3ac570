package sys

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bpf issues one bpf(2) command. attr is converted to an integer only in the
// call expression, so the attribute stays alive and on the caller's stack.
func bpf(cmd int, attr unsafe.Pointer, size uintptr) (uintptr, unix.Errno) {
	r, _, errno := unix.Syscall(unix.SYS_BPF, uintptr(cmd), uintptr(attr), size)
	return r, errno
}

// fdCommand runs a command that returns a new descriptor, raising
// RLIMIT_MEMLOCK once on EPERM: kernels before 5.11 charge map and program
// memory against it, and its default is far too small for real maps.
func fdCommand(op Op, cmd int, attr unsafe.Pointer, size uintptr) (*FD, error) {
	for {
		r, errno := bpf(cmd, attr, size)
		if errno == unix.EPERM && raiseMemlock() {
			continue
		}
		if errno != 0 {
			return nil, newError(op, errno)
		}
		return NewFD(int(r))
	}
}

var memlockOnce sync.Once

// raiseMemlock lifts RLIMIT_MEMLOCK to infinity the first time it is called
// and reports whether that changed anything, so a retry is worth it.
func raiseMemlock() bool {
	changed := false
	memlockOnce.Do(func() {
		var lim unix.Rlimit
		if unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim) != nil || lim.Cur == unix.RLIM_INFINITY {
			return
		}
		inf := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
		changed = unix.Setrlimit(unix.RLIMIT_MEMLOCK, &inf) == nil
	})
	return changed
}

// elem runs one of the BPF_MAP_*_ELEM commands on m.
func elem(op Op, cmd int, m *FD, key, value unsafe.Pointer, flags uint64) error {
	raw, err := m.Acquire()
	if err != nil {
		return closedError{op}
	}
	attr := mapElemAttr{MapFD: uint32(raw), Key: key, Value: value, Flags: flags}
	_, errno := bpf(cmd, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	m.Release()
	if errno != 0 {
		return newError(op, errno)
	}
	return nil
}

// MapCreate creates a map (BPF_MAP_CREATE) and returns its descriptor.
func MapCreate(attr *MapCreateAttr) (*FD, error) {
	return fdCommand(OpMapCreate, unix.BPF_MAP_CREATE, unsafe.Pointer(attr), unsafe.Sizeof(*attr))
}

// MapLookupElem copies the value stored under key into value
// (BPF_MAP_LOOKUP_ELEM). flags may be unix.BPF_F_LOCK.
func MapLookupElem(m *FD, key, value unsafe.Pointer, flags uint64) error {
	return elem(OpMapLookup, unix.BPF_MAP_LOOKUP_ELEM, m, key, value, flags)
}

// MapUpdateElem stores value under key (BPF_MAP_UPDATE_ELEM). flags is one
// of unix.BPF_ANY, BPF_NOEXIST, BPF_EXIST, optionally or'ed with BPF_F_LOCK.
func MapUpdateElem(m *FD, key, value unsafe.Pointer, flags uint64) error {
	return elem(OpMapUpdate, unix.BPF_MAP_UPDATE_ELEM, m, key, value, flags)
}

// MapDeleteElem removes key (BPF_MAP_DELETE_ELEM).
func MapDeleteElem(m *FD, key unsafe.Pointer) error {
	return elem(OpMapDelete, unix.BPF_MAP_DELETE_ELEM, m, key, nil, 0)
}

// MapGetNextKey writes the key that follows key into nextKey
// (BPF_MAP_GET_NEXT_KEY). A nil key, or one that is not in the map, asks for
// the first key. At the end it fails with ENOENT.
func MapGetNextKey(m *FD, key, nextKey unsafe.Pointer) error {
	return elem(OpMapNextKey, unix.BPF_MAP_GET_NEXT_KEY, m, key, nextKey, 0)
}

// MapLookupAndDeleteElem copies the value under key and removes it
// (BPF_MAP_LOOKUP_AND_DELETE_ELEM); for queues and stacks key is nil and
// this pops.
func MapLookupAndDeleteElem(m *FD, key, value unsafe.Pointer, flags uint64) error {
	return elem(OpMapLookupAndDelete, unix.BPF_MAP_LOOKUP_AND_DELETE_ELEM, m, key, value, flags)
}

// MapFreeze makes a map read-only for user space (BPF_MAP_FREEZE).
func MapFreeze(m *FD) error {
	raw, err := m.Acquire()
	if err != nil {
		return closedError{OpMapFreeze}
	}
	defer m.Release()
	attr := mapElemAttr{MapFD: uint32(raw)}
	_, errno := bpf(unix.BPF_MAP_FREEZE, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	switch {
	case errno == unix.EPERM:
		return &Error{Op: OpMapFreeze, Errno: errno, reason: freezeDenied(raw)}
	case errno == unix.EBUSY:
		return &Error{Op: OpMapFreeze, Errno: errno, reason: freezeBusy(raw)}
	case errno != 0:
		return newError(OpMapFreeze, errno)
	}
	return nil
}

// freezeBusy tells the two causes of a freeze's EBUSY apart: a map frozen
// already (5.10 and 6.1, in the kernel matrix, answer a second freeze so,
// where later kernels say EPERM), or a writable mmap of the map that still exists.
func freezeBusy(raw int) string {
	const prefix = "device or resource busy: "
	if frozen, _ := fdinfoFrozen(raw); frozen {
		return prefix + "the map is already frozen"
	}
	return prefix + "a writable memory mapping of the map exists (unmap it, or close the Map that made it, first)"
}

// fdinfoFrozen reads the frozen state and the access mode of a map
// descriptor from /proc/self/fdinfo.
func fdinfoFrozen(raw int) (frozen, readOnly bool) {
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(raw))
	if err != nil {
		return false, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch k {
		case "frozen":
			frozen = v == "1"
		case "flags":
			f, err := strconv.ParseUint(v, 8, 32)
			readOnly = err == nil && f&unix.O_ACCMODE == unix.O_RDONLY
		}
	}
	return frozen, readOnly
}

// freezeDenied tells the two causes of a freeze's EPERM apart by the
// descriptor's fdinfo: a map frozen already (the kernel then treats every
// descriptor as read-only), or a descriptor opened read-only.
func freezeDenied(raw int) string {
	const prefix = "operation not permitted: "
	frozen, readOnly := fdinfoFrozen(raw)
	switch {
	case frozen:
		return prefix + "the map is already frozen"
	case readOnly:
		return prefix + "this descriptor was opened read-only"
	}
	return describe(OpMapFreeze, unix.EPERM)
}

// Batch holds the arguments of the four batch commands. Count is the number
// of elements in (the capacity of Keys and Values for lookups) and, after
// the call, the number processed, also when the call fails.
type Batch struct {
	InBatch   unsafe.Pointer // where to resume; nil to start at the beginning
	OutBatch  unsafe.Pointer // receives the resume token
	Keys      unsafe.Pointer
	Values    unsafe.Pointer
	Count     uint32
	ElemFlags uint64
	Flags     uint64
}

func batch(op Op, cmd int, m *FD, b *Batch) error {
	raw, err := m.Acquire()
	if err != nil {
		return closedError{op}
	}
	attr := mapBatchAttr{
		InBatch: b.InBatch, OutBatch: b.OutBatch, Keys: b.Keys, Values: b.Values,
		Count: b.Count, MapFD: uint32(raw), ElemFlags: b.ElemFlags, Flags: b.Flags,
	}
	_, errno := bpf(cmd, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	m.Release()
	b.Count = attr.Count
	if errno != 0 {
		return newError(op, errno)
	}
	return nil
}

// MapLookupBatch reads up to b.Count elements (BPF_MAP_LOOKUP_BATCH). At the
// end of the map it fails with ENOENT and b.Count says how many it read.
func MapLookupBatch(m *FD, b *Batch) error {
	return batch(OpMapLookupBatch, unix.BPF_MAP_LOOKUP_BATCH, m, b)
}

// MapLookupAndDeleteBatch reads and removes up to b.Count elements
// (BPF_MAP_LOOKUP_AND_DELETE_BATCH).
func MapLookupAndDeleteBatch(m *FD, b *Batch) error {
	return batch(OpMapLookupAndDeleteBatch, unix.BPF_MAP_LOOKUP_AND_DELETE_BATCH, m, b)
}

// MapUpdateBatch stores b.Count elements (BPF_MAP_UPDATE_BATCH).
func MapUpdateBatch(m *FD, b *Batch) error {
	return batch(OpMapUpdateBatch, unix.BPF_MAP_UPDATE_BATCH, m, b)
}

// MapDeleteBatch removes b.Count keys (BPF_MAP_DELETE_BATCH).
func MapDeleteBatch(m *FD, b *Batch) error {
	return batch(OpMapDeleteBatch, unix.BPF_MAP_DELETE_BATCH, m, b)
}

// ObjPin pins the object behind fd at path, which must be on a bpf
// filesystem (BPF_OBJ_PIN). A directory off a bpf filesystem is refused
// before the system call, with the EPERM the kernel would return and an
// error that says so.
func ObjPin(fd *FD, path string) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return &Error{Op: OpObjPin, Errno: unix.EINVAL}
	}
	raw, err := fd.Acquire()
	if err != nil {
		return closedError{OpObjPin}
	}
	defer fd.Release()
	if e := checkPinPath(OpObjPin, path); e != nil {
		return e
	}
	attr := objAttr{Pathname: unsafe.Pointer(p), BPFFD: uint32(raw)}
	if _, errno := bpf(unix.BPF_OBJ_PIN, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); errno != 0 {
		if errno == unix.EACCES {
			if e := accessDenied(OpObjPin, path, 0); e != nil {
				return e
			}
		}
		return newError(OpObjPin, errno)
	}
	return nil
}

// ObjGet opens the object pinned at path (BPF_OBJ_GET). flags may be
// unix.BPF_F_RDONLY or BPF_F_WRONLY. A path off a bpf filesystem, or a
// directory of one, is refused before the system call, with the errno the
// kernel would return (EACCES, or ENOENT for a missing file) and an error
// that says it is not a pinned BPF object.
func ObjGet(path string, flags uint32) (*FD, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return nil, &Error{Op: OpObjGet, Errno: unix.EINVAL}
	}
	if e := checkPinPath(OpObjGet, path); e != nil {
		return nil, e
	}
	attr := objAttr{Pathname: unsafe.Pointer(p), FileFlags: flags}
	fd, err := fdCommand(OpObjGet, unix.BPF_OBJ_GET, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if e, ok := err.(*Error); ok && e.Errno == unix.EACCES {
		if e := accessDenied(OpObjGet, path, flags); e != nil {
			return nil, e
		}
	}
	return fd, err
}

// MapGetNextID returns the id of the first map whose id is greater than
// start (BPF_MAP_GET_NEXT_ID); ENOENT after the last one.
func MapGetNextID(start uint32) (uint32, error) {
	attr := getIDAttr{ID: start}
	if _, errno := bpf(unix.BPF_MAP_GET_NEXT_ID, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); errno != 0 {
		return 0, newError(OpMapNextID, errno)
	}
	return attr.NextID, nil
}

// MapGetFDByID opens the map with the given id (BPF_MAP_GET_FD_BY_ID).
func MapGetFDByID(id uint32, flags uint32) (*FD, error) {
	attr := getIDAttr{ID: id, OpenFlags: flags}
	return fdCommand(OpMapFDByID, unix.BPF_MAP_GET_FD_BY_ID, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
}

// ObjGetInfoByFD fills info, of size bytes, with the kernel's description
// of the object behind fd (BPF_OBJ_GET_INFO_BY_FD) and returns how many
// bytes the kernel wrote.
func ObjGetInfoByFD(fd *FD, info unsafe.Pointer, size uint32) (uint32, error) {
	raw, err := fd.Acquire()
	if err != nil {
		return 0, closedError{OpObjInfo}
	}
	defer fd.Release()
	attr := infoAttr{BPFFD: uint32(raw), InfoLen: size, Info: info}
	if _, errno := bpf(unix.BPF_OBJ_GET_INFO_BY_FD, unsafe.Pointer(&attr), unsafe.Sizeof(attr)); errno != 0 {
		return 0, newError(OpObjInfo, errno)
	}
	return attr.InfoLen, nil
}

// MapGetInfo returns the kernel's description of the map behind fd.
func MapGetInfo(fd *FD) (MapInfo, error) {
	var info MapInfo
	_, err := ObjGetInfoByFD(fd, unsafe.Pointer(&info), uint32(unsafe.Sizeof(info)))
	return info, err
}

// logSize is the verifier log buffer used to explain a failed load.
const logSize = 1 << 20

// ProgLoad loads a program (BPF_PROG_LOAD). When the kernel refuses it, the
// load is repeated with a verifier log and the error carries the log.
func ProgLoad(attr *ProgLoadAttr) (*FD, error) {
	attr.LogLevel, attr.LogSize, attr.LogBuf = 0, 0, nil
	fd, err := fdCommand(OpProgLoad, unix.BPF_PROG_LOAD, unsafe.Pointer(attr), unsafe.Sizeof(*attr))
	if err == nil {
		return fd, nil
	}
	buf := make([]byte, logSize)
	attr.LogLevel, attr.LogSize, attr.LogBuf = 1, logSize, unsafe.Pointer(&buf[0])
	fd, err2 := fdCommand(OpProgLoad, unix.BPF_PROG_LOAD, unsafe.Pointer(attr), unsafe.Sizeof(*attr))
	attr.LogLevel, attr.LogSize, attr.LogBuf = 0, 0, nil
	if err2 == nil {
		return fd, nil // it loaded after all
	}
	return nil, withLog(err2, buf)
}

// ProgTestRun runs prog once per attr.Repeat in the kernel
// (BPF_PROG_TEST_RUN); attr.Retval and attr.Duration hold the result.
func ProgTestRun(prog *FD, attr *TestRunAttr) error {
	raw, err := prog.Acquire()
	if err != nil {
		return closedError{OpProgTestRun}
	}
	defer prog.Release()
	attr.ProgFD = uint32(raw)
	if _, errno := bpf(unix.BPF_PROG_TEST_RUN, unsafe.Pointer(attr), unsafe.Sizeof(*attr)); errno != 0 {
		return newError(OpProgTestRun, errno)
	}
	return nil
}

// BTFLoad loads raw BTF (header, types, strings) into the kernel
// (BPF_BTF_LOAD); a refusal carries the kernel's BTF log.
func BTFLoad(data []byte) (*FD, error) {
	if len(data) == 0 {
		return nil, &Error{Op: OpBTFLoad, Errno: unix.EINVAL}
	}
	attr := btfLoadAttr{BTF: unsafe.Pointer(&data[0]), BTFSize: uint32(len(data))}
	fd, err := fdCommand(OpBTFLoad, unix.BPF_BTF_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err == nil {
		return fd, nil
	}
	buf := make([]byte, logSize)
	attr.BTFLogBuf, attr.BTFLogSize, attr.BTFLogLevel = unsafe.Pointer(&buf[0]), logSize, 1
	fd, err2 := fdCommand(OpBTFLoad, unix.BPF_BTF_LOAD, unsafe.Pointer(&attr), unsafe.Sizeof(attr))
	if err2 == nil {
		return fd, nil
	}
	return nil, withLog(err2, buf)
}

// withLog attaches the last lines of a kernel log to a load error.
func withLog(err error, buf []byte) error {
	e, ok := err.(*Error)
	if !ok {
		return err
	}
	log := cString(buf)
	const keep = 4096
	if len(log) > keep {
		log = "…" + log[len(log)-keep:]
	}
	return &Error{Op: e.Op, Errno: e.Errno, Log: log}
}
