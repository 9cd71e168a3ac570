package mapops

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/bpfmaps/bpfmaps/structcodec"
	"github.com/bpfmaps/bpfmaps/sys"
)

// Spec describes a map to create: every attribute BPF_MAP_CREATE takes.
type Spec struct {
	Type       sys.MapType // unix.BPF_MAP_TYPE_* converts to it
	KeySize    uint32      // bytes; 0 for queues, stacks and rings
	ValueSize  uint32      // bytes; for per-CPU maps, the size of one CPU's value
	MaxEntries uint32
	Flags      uint32 // unix.BPF_F_NO_PREALLOC, BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, …

	// Name is the kernel's name for the map: at most 15 bytes of
	// [A-Za-z0-9_.]. It shows in bpftool and `bpfmaps list`.
	Name string

	// InnerMap is the template of the maps an array or hash of maps holds.
	// Only its type and sizes matter; it may be closed after Create.
	InnerMap *Map

	// NumaNode places the map's memory; it is used only with the
	// unix.BPF_F_NUMA_NODE flag.
	NumaNode uint32

	// Ifindex offloads the map to a network device; 0 means the host.
	Ifindex uint32

	// BTF describes the key and value types for tools and for maps whose
	// values hold special fields such as a bpf_spin_lock (needed for the
	// Lock flag). The descriptor is only read by Create.
	BTF                   *sys.FD
	BTFKeyTypeID          uint32
	BTFValueTypeID        uint32
	BTFVmlinuxValueTypeID uint32

	// MapExtra is map_extra: the number of hash functions of a bloom
	// filter, or an arena's user-space address.
	MapExtra uint64

	// KeyType and ValueType, when set, describe keys and values as the
	// structcodec layouts of Go types (structcodec.For[T]().Layout()):
	// Create generates their BTF (Go field names, C integer names, __be
	// typedefs for `bpf:"be"` fields) and attaches it, so that bpftool
	// prints the map field by field and NewTyped holds its types against
	// it. KeySize and ValueSize may then be 0; when given, they must
	// agree. Not with BTF.
	KeyType, ValueType *structcodec.Layout
}

// Map is an open BPF map. Its methods check key and value sizes against
// the map before any system call. A Map is safe for concurrent use; Close
// makes every later operation fail with an error wrapping os.ErrClosed.
type Map struct {
	fd         *sys.FD
	typ        sys.MapType
	keySize    int
	valueSize  int
	maxEntries uint32
	flags      uint32
	id         uint32
	name       string
	valueBuf   int // bytes a lookup fills: valueSize, or one slot per CPU
	ncpu       int // possible CPUs, for per-CPU maps

	mu     sync.Mutex
	pinned string       // path of the last Pin, or the path Open opened
	mem    *mapping     // Memory's
	life   sys.Lifetime // its closed state; fd counts the calls in flight

	conds atomic.Pointer[condErrors] // the map's condition errors, made on first use
}

// validName reports why name cannot be a map name, or "" when it can.
func validName(name string) string {
	if len(name) >= sys.ObjNameLen {
		return fmt.Sprintf("%d bytes, at most %d allowed", len(name), sys.ObjNameLen-1)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.') {
			return fmt.Sprintf("byte %q at %d: only letters, digits, '_' and '.' allowed", c, i)
		}
	}
	return ""
}

// Create creates a map as spec describes. A spec the kernel would refuse
// for a reason that can be told beforehand (an unknown type or flag, flags
// that exclude each other or that the type does not take, a size the type
// cannot have, a ring size that is not a power of two, a map of maps
// without InnerMap or nested in another) is refused before the system call
// with an error naming the field and wrapping the errno the kernel would
// give. Where only the kernel can tell, the error says what its errno
// usually means.
func Create(spec Spec) (*Map, error) {
	if err := spec.check(); err != nil {
		return nil, fmt.Errorf("create %s map %q: %w", spec.Type, spec.Name, err)
	}
	attr := sys.MapCreateAttr{
		MapType:               spec.Type,
		KeySize:               spec.KeySize,
		ValueSize:             spec.ValueSize,
		MaxEntries:            spec.MaxEntries,
		MapFlags:              spec.Flags,
		NumaNode:              spec.NumaNode,
		MapIfindex:            spec.Ifindex,
		BTFKeyTypeID:          spec.BTFKeyTypeID,
		BTFValueTypeID:        spec.BTFValueTypeID,
		BTFVmlinuxValueTypeID: spec.BTFVmlinuxValueTypeID,
		MapExtra:              spec.MapExtra,
	}
	sys.SetName(&attr.MapName, spec.Name)
	if spec.InnerMap != nil {
		raw, err := spec.InnerMap.fd.Acquire()
		if err != nil {
			return nil, fmt.Errorf("create map %q: inner map: %w", spec.Name, err)
		}
		defer spec.InnerMap.fd.Release()
		attr.InnerMapFD = uint32(raw)
	}
	if spec.BTF != nil {
		raw, err := spec.BTF.Acquire()
		if err != nil {
			return nil, fmt.Errorf("create map %q: btf: %w", spec.Name, err)
		}
		defer spec.BTF.Release()
		attr.BTFFD = uint32(raw)
	}
	done, err := spec.attachTypes(&attr)
	if err != nil {
		return nil, fmt.Errorf("create map %q: %w", spec.Name, err)
	}
	defer done()
	fd, err := sys.MapCreate(&attr)
	if err != nil {
		return nil, spec.createErr(err)
	}
	return newMap(fd)
}

// Open opens the map pinned at path on a bpf filesystem. A pinned program
// or other object is refused. The Map learns the map's real type and sizes
// from the kernel; Check compares them with what the caller expects, and
// NewTyped checks its types against them.
func Open(path string) (*Map, error) {
	fd, err := sys.ObjGet(path, 0)
	m, err := adopt("open map pinned at "+path, fd, err)
	if err == nil {
		m.pinned = path
	}
	return m, err
}

// OpenID opens the map with the given kernel id (see bpftool map list).
func OpenID(id uint32) (*Map, error) {
	fd, err := sys.MapGetFDByID(id, 0)
	return adopt(fmt.Sprintf("open map id %d", id), fd, err)
}

// FromFD returns a Map for a duplicate of the map descriptor fd; the
// caller keeps ownership of fd. A descriptor of anything but a map is
// refused.
func FromFD(fd int) (*Map, error) {
	dup, err := sys.DupFD(fd)
	return adopt(fmt.Sprintf("map from fd %d", fd), dup, err)
}

// adopt returns the Map of fd, which the call that what describes
// returned with err.
func adopt(what string, fd *sys.FD, err error) (*Map, error) {
	var m *Map
	if err == nil {
		m, err = newMap(fd)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return m, nil
}

// newMap takes ownership of fd and reads the map's description.
func newMap(fd *sys.FD) (*Map, error) {
	if err := checkIsMap(fd); err != nil {
		fd.Close()
		return nil, err
	}
	info, err := sys.MapGetInfo(fd)
	if err != nil {
		fd.Close()
		return nil, fmt.Errorf("map info: %w", err)
	}
	m := &Map{
		fd:         fd,
		typ:        info.Type,
		keySize:    int(info.KeySize),
		valueSize:  int(info.ValueSize),
		maxEntries: info.MaxEntries,
		flags:      info.MapFlags,
		id:         info.ID,
		name:       info.NameString(),
		valueBuf:   int(info.ValueSize),
	}
	if isPerCPU(m.typ) {
		n, err := sys.PossibleCPUs()
		if err != nil {
			fd.Close()
			return nil, err
		}
		buf, ok := mulSize(n, sys.ValueStride(m.valueSize))
		if !ok {
			fd.Close()
			return nil, fmt.Errorf("%s: %d CPUs of %d-byte values do not fit in memory", m, n, m.valueSize)
		}
		m.ncpu, m.valueBuf = n, buf
	}
	return m, nil
}

// checkIsMap refuses descriptors of other bpf objects. The kernel answers
// an info query on a program, link or BTF object too, filling the map's
// fields with whatever that object's info holds, so the kind is read from
// the descriptor's name in /proc/self/fd (as bpftool does): maps are
// "anon_inode:bpf-map". Without /proc mounted the check cannot be made and
// passes.
func checkIsMap(fd *sys.FD) error {
	raw, err := fd.Acquire()
	if err != nil {
		return err
	}
	defer fd.Release()
	link, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(raw))
	if err != nil || link == "anon_inode:bpf-map" {
		return nil
	}
	return fmt.Errorf("not a map: the descriptor is %s", link)
}

func isPerCPU(t sys.MapType) bool {
	f, _ := t.Facts()
	return f.Value == sys.ValuePerCPU
}

// checkType fails unless m's type is one of types; what names them.
func (m *Map) checkType(op, what string, types ...sys.MapType) error {
	if m == nil {
		return nilMap(op)
	}
	if !slices.Contains(types, m.typ) {
		return &sys.OpError{Object: m.String(), Op: op, Err: fmt.Errorf("not %s", what)}
	}
	return nil
}

// isArray reports whether t is an array or per-CPU array: a store indexed
// by position, whose elements always exist.
func isArray(t sys.MapType) bool {
	f, _ := t.Facts()
	return f.Store && f.Key == sys.Key4
}

// String names the map in errors: map 12 "counts" (hash).
func (m *Map) String() string {
	if m == nil {
		return "map <nil>"
	}
	return fmt.Sprintf("map %d %q (%s)", m.id, m.name, m.typ)
}

// FD returns the map's descriptor. It stays owned by the Map. The
// accessors below answer a nil *Map with zero values (FD with nil, whose
// methods fail with os.ErrClosed); every method that acts fails with an
// error wrapping os.ErrInvalid.
func (m *Map) FD() *sys.FD {
	if m == nil {
		return nil
	}
	return m.fd
}

// Type returns the map type.
func (m *Map) Type() sys.MapType {
	if m == nil {
		return 0
	}
	return m.typ
}

// KeySize returns the size of a key in bytes.
func (m *Map) KeySize() int {
	if m == nil {
		return 0
	}
	return m.keySize
}

// ValueSize returns the size of a value in bytes; for per-CPU maps, of one
// CPU's value.
func (m *Map) ValueSize() int {
	if m == nil {
		return 0
	}
	return m.valueSize
}

// ValueBufferSize returns the number of bytes a lookup fills: ValueSize,
// or for per-CPU maps one 8-byte aligned slot per possible CPU.
func (m *Map) ValueBufferSize() int {
	if m == nil {
		return 0
	}
	return m.valueBuf
}

// MaxEntries returns the map's capacity.
func (m *Map) MaxEntries() uint32 {
	if m == nil {
		return 0
	}
	return m.maxEntries
}

// Flags returns the map's creation flags.
func (m *Map) Flags() uint32 {
	if m == nil {
		return 0
	}
	return m.flags
}

// ID returns the kernel's id of the map.
func (m *Map) ID() uint32 {
	if m == nil {
		return 0
	}
	return m.id
}

// Name returns the map's name, possibly empty.
func (m *Map) Name() string {
	if m == nil {
		return ""
	}
	return m.name
}

// PerCPU reports whether the map holds one value per possible CPU.
func (m *Map) PerCPU() bool {
	if m == nil {
		return false
	}
	return m.ncpu > 0
}

// Info returns the kernel's current description of the map.
func (m *Map) Info() (sys.MapInfo, error) {
	if m == nil {
		return sys.MapInfo{}, nilMap("info")
	}
	info, err := sys.MapGetInfo(m.fd)
	if err != nil {
		return info, &sys.OpError{Object: m.String(), Op: "info", Err: err}
	}
	return info, nil
}

// Check returns an error describing every way the map differs from want.
// Zero fields of want (and an empty Name) are not compared, so a caller
// can check just the type and sizes of a map it opened.
func (m *Map) Check(want Spec) error {
	if m == nil {
		return nilMap("check")
	}
	var errs []error
	diff := func(what string, got, want uint64) {
		if want != 0 && got != want {
			errs = append(errs, fmt.Errorf("%s is %d, want %d", what, got, want))
		}
	}
	if want.Type != 0 && want.Type != m.typ {
		errs = append(errs, fmt.Errorf("type is %s, want %s", m.typ, want.Type))
	}
	diff("key size", uint64(m.keySize), uint64(want.KeySize))
	diff("value size", uint64(m.valueSize), uint64(want.ValueSize))
	diff("max entries", uint64(m.maxEntries), uint64(want.MaxEntries))
	diff("flags", uint64(m.flags), uint64(want.Flags))
	if want.Name != "" && want.Name != m.name {
		errs = append(errs, fmt.Errorf("name is %q, want %q", m.name, want.Name))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s: %w", m, errors.Join(errs...))
	}
	return nil
}

// Pin pins the map at path, which must be on a bpf filesystem, so that it
// outlives this process.
func (m *Map) Pin(path string) error {
	if m == nil {
		return nilMap("pin")
	}
	if err := sys.ObjPin(m.fd, path); err != nil {
		return fmt.Errorf("%s: pin at %s: %w", m, path, err)
	}
	m.mu.Lock()
	m.pinned = path
	m.mu.Unlock()
	return nil
}

// Unpin removes the pin made by Pin, or the one Open opened the map by.
// The map lives on while descriptors refer to it.
func (m *Map) Unpin() error {
	if m == nil {
		return nilMap("unpin")
	}
	m.mu.Lock()
	path := m.pinned
	m.pinned = ""
	m.mu.Unlock()
	if path == "" {
		return &sys.OpError{Object: m.String(), Op: "unpin", Err: errors.New("map is not pinned by this Map")}
	}
	if err := os.Remove(path); err != nil {
		return &sys.OpError{Object: m.String(), Op: "unpin", Err: err}
	}
	return nil
}

// Freeze makes the map read-only for user space (BPF programs may still
// write it). It fails with EBUSY while Memory is mapped writable.
func (m *Map) Freeze() error {
	if m == nil {
		return nilMap("freeze")
	}
	if err := sys.MapFreeze(m.fd); err != nil {
		return &sys.OpError{Object: m.String(), Op: "freeze", Err: err}
	}
	return nil
}

// Close detaches Memory from the map (see Memory: slices taken from it
// stay valid, as private memory) and closes the descriptor. It is
// idempotent; on a nil *Map it returns an error wrapping os.ErrInvalid,
// as os.File's Close does.
func (m *Map) Close() error {
	if m == nil {
		return nilMap("close")
	}
	if first, _ := m.life.Close(); !first {
		return nil
	}
	var err error
	m.mu.Lock()
	if m.mem != nil {
		err = m.mem.at.detach()
		m.mem = nil
	}
	m.mu.Unlock()
	if cerr := m.fd.Close(); err == nil {
		err = cerr
	}
	return err
}

// nilMap is the error of a method called on a nil *Map: like os.File's
// methods on a nil *File, it wraps os.ErrInvalid.
func nilMap(op string) error { return fmt.Errorf("map <nil>: %s: %w", op, os.ErrInvalid) }
