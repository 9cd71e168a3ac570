package sys

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// MapType is a kind of BPF map: a value of the kernel's enum bpf_map_type,
// given to BPF_MAP_CREATE and reported by BPF_OBJ_GET_INFO_BY_FD. The
// unix.BPF_MAP_TYPE_* constants convert to it.
type MapType uint32

// String returns the name bpftool uses for t ("hash", "percpu_array",
// "ringbuf", …), or "unknown(N)" for a number this package does not know.
func (t MapType) String() string {
	if t < MapType(len(mapTypes)) {
		return mapTypes[t].Name
	}
	return fmt.Sprintf("unknown(%d)", uint32(t))
}

// MapTypeByName returns the map type bpftool calls name; it is the
// inverse of String for the types this package knows.
func MapTypeByName(name string) (MapType, bool) {
	for t := range mapTypes {
		if mapTypes[t].Name == name {
			return MapType(t), true
		}
	}
	return 0, false
}

// Facts returns what this package knows about maps of type t, and false
// for unspec and for numbers it does not know.
func (t MapType) Facts() (MapTypeFacts, bool) {
	if t == unix.BPF_MAP_TYPE_UNSPEC || t >= MapType(len(mapTypes)) {
		return MapTypeFacts{}, false
	}
	return mapTypes[t].MapTypeFacts, true
}

// MapTypes lists the map types this package knows, in numeric order,
// without unspec.
func MapTypes() []MapType {
	out := make([]MapType, 0, len(mapTypes)-1)
	for t := 1; t < len(mapTypes); t++ {
		out = append(out, MapType(t))
	}
	return out
}

// MapTypeFacts is what user space can do with the maps of one type: the
// rules BPF_MAP_CREATE holds their sizes to and which element commands
// apply. It is the one table behind type names, Spec validation in
// mapops, the references that refs accepts and the CLI's refusals.
type MapTypeFacts struct {
	Name  string    // bpftool's name: "hash", "percpu_array", "ringbuf", …
	Since string    // the Linux release that added the type: "5.8"
	Key   KeyRule   // what key_size must be
	Value ValueRule // what a value is
	Ops   MapOps    // the commands that apply to elements from user space

	// Store is set for the general key/value maps (hashes, arrays, the
	// LPM trie): values are plain bytes that user space and programs both
	// read and write, under keys user space chooses.
	Store bool

	// NoEntries is set for the types whose max_entries must be 0: their
	// entries live with other objects (cgroups, sockets, inodes, tasks).
	NoEntries bool

	// FDKind names, for ValueFD types, what the stored descriptors are
	// ("program", "map", "socket", …).
	FDKind string

	// Instead is set for the types whose elements user space cannot read
	// one by one (on any kernel): why, and what reads the map instead.
	Instead string
}

// KeyRule is what key_size a map type takes.
type KeyRule uint8

const (
	// KeyAny is any size above zero, chosen by the map's creator.
	KeyAny KeyRule = iota
	// Key4 is 4 bytes: an index, an interface index, or a descriptor.
	Key4
	// KeyNone is no key (key_size 0): queues, stacks, filters, rings.
	KeyNone
)

// ValueRule is what a map type's values are.
type ValueRule uint8

const (
	// ValueBytes is value_size bytes, the same for user space and programs.
	ValueBytes ValueRule = iota
	// ValuePerCPU is one value_size value per possible CPU, each slot
	// rounded up to 8 bytes in lookups and updates.
	ValuePerCPU
	// ValueFD is a descriptor of the updating process (FDKind says of
	// what); lookups, where they work, return an id or a cookie instead.
	ValueFD
	// ValueNone is no value (value_size 0): the map is memory or a ring.
	ValueNone
)

// MapOps is a set of the element commands that apply to a map type from
// user space.
type MapOps uint16

const (
	OpLookup  MapOps = 1 << iota // BPF_MAP_LOOKUP_ELEM with a key
	OpUpdate                     // BPF_MAP_UPDATE_ELEM with a key
	OpDelete                     // BPF_MAP_DELETE_ELEM
	OpNextKey                    // BPF_MAP_GET_NEXT_KEY: the map can be walked
	OpBatch                      // the BPF_MAP_*_BATCH commands, walking by the kernel's own position (a walk survives deletes)
	OpPush                       // BPF_MAP_UPDATE_ELEM without a key
	OpPop                        // BPF_MAP_LOOKUP_AND_DELETE_ELEM without a key
	OpPeek                       // BPF_MAP_LOOKUP_ELEM without a key
	OpMmap                       // mmap of the map's memory (arrays only with BPF_F_MMAPABLE)
)

const (
	opsKeyed   = OpLookup | OpUpdate | OpDelete | OpNextKey
	opsHash    = opsKeyed | OpBatch
	opsArray   = OpLookup | OpUpdate | OpNextKey | OpBatch
	opsFDArray = OpUpdate | OpDelete | OpNextKey
	opsStorage = OpLookup | OpUpdate | OpDelete
)

// The CLI's advice for the types whose elements cannot be read one by one.
const (
	storageKeys = "which only the process that holds them can name (and the kernel cannot walk them): " +
		"look entries up from that process, with the descriptor as the key, or read them from a BPF program"
	neverReturned = ", which the kernel never returns to user space"
)

// mapType is one row of the table: the facts and the smallest attributes
// that create a map of the type, for HaveMapType (no probe when zero).
type mapType struct {
	MapTypeFacts
	probe MapCreateAttr
}

// mapTypes is the one table of map types, indexed by number; the names
// and numbers are held to the kernel's uapi header by a test.
var mapTypes = [...]mapType{
	unix.BPF_MAP_TYPE_UNSPEC: {MapTypeFacts: MapTypeFacts{Name: "unspec"}},
	unix.BPF_MAP_TYPE_HASH: {MapTypeFacts{Name: "hash", Since: "3.19", Ops: opsHash, Store: true},
		probe(4, 4, 1, 0)},
	unix.BPF_MAP_TYPE_ARRAY: {MapTypeFacts{Name: "array", Since: "3.19", Key: Key4, Ops: opsArray | OpMmap, Store: true},
		probe(4, 4, 1, 0)},
	unix.BPF_MAP_TYPE_PROG_ARRAY: {MapTypeFacts{Name: "prog_array", Since: "4.2", Key: Key4, Value: ValueFD,
		Ops: opsFDArray | OpLookup, FDKind: "program"}, probe(4, 4, 1, 0)},
	unix.BPF_MAP_TYPE_PERF_EVENT_ARRAY: {MapTypeFacts{Name: "perf_event_array", Since: "4.3", Key: Key4, Value: ValueFD,
		Ops: opsFDArray, FDKind: "perf event",
		Instead: "its elements are perf event descriptors" + neverReturned + "; read the events that programs send " +
			"through it with a perf event reader (perf_event_open and mmap on each CPU, as bpftool map event_pipe does)"},
		probe(4, 4, 1, 0)},
	unix.BPF_MAP_TYPE_PERCPU_HASH: {MapTypeFacts{Name: "percpu_hash", Since: "4.6", Value: ValuePerCPU, Ops: opsHash, Store: true},
		probe(4, 4, 1, 0)},
	unix.BPF_MAP_TYPE_PERCPU_ARRAY: {MapTypeFacts{Name: "percpu_array", Since: "4.6", Key: Key4, Value: ValuePerCPU,
		Ops: opsArray, Store: true}, probe(4, 4, 1, 0)},
	unix.BPF_MAP_TYPE_STACK_TRACE: {MapTypeFacts{Name: "stack_trace", Since: "4.6", Key: Key4,
		Ops: OpLookup | OpDelete | OpNextKey}, probe(4, 8, 1, 0)},
	unix.BPF_MAP_TYPE_CGROUP_ARRAY: {MapTypeFacts{Name: "cgroup_array", Since: "4.8", Key: Key4, Value: ValueFD,
		Ops: opsFDArray, FDKind: "cgroup", Instead: "its elements are cgroup descriptors" + neverReturned},
		probe(4, 4, 1, 0)},
	unix.BPF_MAP_TYPE_LRU_HASH: {MapTypeFacts{Name: "lru_hash", Since: "4.10", Ops: opsHash, Store: true},
		probe(4, 4, 1, 0)},
	unix.BPF_MAP_TYPE_LRU_PERCPU_HASH: {MapTypeFacts{Name: "lru_percpu_hash", Since: "4.10", Value: ValuePerCPU,
		Ops: opsHash, Store: true}, probe(4, 4, 1, 0)},
	unix.BPF_MAP_TYPE_LPM_TRIE: {MapTypeFacts{Name: "lpm_trie", Since: "4.11", Ops: opsKeyed, Store: true},
		probe(8, 4, 1, unix.BPF_F_NO_PREALLOC)},
	unix.BPF_MAP_TYPE_ARRAY_OF_MAPS: {MapTypeFacts{Name: "array_of_maps", Since: "4.12", Key: Key4, Value: ValueFD,
		Ops: opsKeyed, FDKind: "map"}, probe(4, 4, 1, 0)},
	unix.BPF_MAP_TYPE_HASH_OF_MAPS: {MapTypeFacts{Name: "hash_of_maps", Since: "4.12", Value: ValueFD,
		Ops: opsKeyed, FDKind: "map"}, probe(4, 4, 1, 0)},
	unix.BPF_MAP_TYPE_DEVMAP: {MapTypeFacts{Name: "devmap", Since: "4.14", Key: Key4, Ops: opsKeyed},
		probe(4, 4, 1, 0)},
	unix.BPF_MAP_TYPE_SOCKMAP: {MapTypeFacts{Name: "sockmap", Since: "4.14", Key: Key4, Value: ValueFD,
		Ops: opsKeyed, FDKind: "socket"}, probe(4, 4, 1, 0)},
	unix.BPF_MAP_TYPE_CPUMAP: {MapTypeFacts{Name: "cpumap", Since: "4.15", Key: Key4, Ops: opsKeyed},
		probe(4, 4, 1, 0)},
	unix.BPF_MAP_TYPE_XSKMAP: {MapTypeFacts{Name: "xskmap", Since: "4.18", Key: Key4, Value: ValueFD,
		Ops: opsFDArray, FDKind: "AF_XDP socket",
		Instead: "its elements are AF_XDP socket descriptors" + neverReturned + "; the packets arrive on the sockets themselves"},
		probe(4, 4, 1, 0)},
	unix.BPF_MAP_TYPE_SOCKHASH: {MapTypeFacts{Name: "sockhash", Since: "4.18", Value: ValueFD,
		Ops: opsKeyed, FDKind: "socket"}, probe(4, 4, 1, 0)},
	unix.BPF_MAP_TYPE_CGROUP_STORAGE: {MapTypeFacts: MapTypeFacts{Name: "cgroup_storage", NoEntries: true, Since: "4.19",
		Ops: OpLookup | OpUpdate | OpNextKey}},
	unix.BPF_MAP_TYPE_REUSEPORT_SOCKARRAY: {MapTypeFacts: MapTypeFacts{Name: "reuseport_sockarray", Since: "4.19", Key: Key4,
		Value: ValueFD, Ops: opsKeyed, FDKind: "socket"}},
	unix.BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE: {MapTypeFacts: MapTypeFacts{Name: "percpu_cgroup_storage", NoEntries: true, Since: "4.20",
		Value: ValuePerCPU, Ops: OpLookup | OpUpdate | OpNextKey}},
	unix.BPF_MAP_TYPE_QUEUE: {MapTypeFacts{Name: "queue", Since: "4.20", Key: KeyNone, Ops: OpPush | OpPop | OpPeek},
		probe(0, 4, 1, 0)},
	unix.BPF_MAP_TYPE_STACK: {MapTypeFacts{Name: "stack", Since: "4.20", Key: KeyNone, Ops: OpPush | OpPop | OpPeek},
		probe(0, 4, 1, 0)},
	unix.BPF_MAP_TYPE_SK_STORAGE: {MapTypeFacts: MapTypeFacts{Name: "sk_storage", NoEntries: true, Since: "5.2", Key: Key4, Ops: opsStorage,
		Instead: "its keys are socket descriptors, " + storageKeys}},
	unix.BPF_MAP_TYPE_DEVMAP_HASH: {MapTypeFacts{Name: "devmap_hash", Since: "5.4", Key: Key4, Ops: opsKeyed},
		probe(4, 4, 1, 0)},
	unix.BPF_MAP_TYPE_STRUCT_OPS: {MapTypeFacts: MapTypeFacts{Name: "struct_ops", Since: "5.6", Key: Key4, Ops: opsKeyed}},
	unix.BPF_MAP_TYPE_RINGBUF: {MapTypeFacts{Name: "ringbuf", Since: "5.8", Key: KeyNone, Value: ValueNone, Ops: OpMmap,
		Instead: "a ring buffer holds records, not elements: use bpfmaps tail (ringbuf.Reader in Go)"}, probe(0, 0, -1, 0)},
	unix.BPF_MAP_TYPE_INODE_STORAGE: {MapTypeFacts: MapTypeFacts{Name: "inode_storage", NoEntries: true, Since: "5.10", Key: Key4, Ops: opsStorage,
		Instead: "its keys are file descriptors, " + storageKeys}},
	unix.BPF_MAP_TYPE_TASK_STORAGE: {MapTypeFacts: MapTypeFacts{Name: "task_storage", NoEntries: true, Since: "5.11", Key: Key4, Ops: opsStorage,
		Instead: "its keys are pidfds, " + storageKeys}},
	unix.BPF_MAP_TYPE_BLOOM_FILTER: {MapTypeFacts{Name: "bloom_filter", Since: "5.16", Key: KeyNone, Ops: OpPush | OpPeek},
		probe(0, 4, 1, 0)},
	unix.BPF_MAP_TYPE_USER_RINGBUF: {MapTypeFacts{Name: "user_ringbuf", Since: "6.1", Key: KeyNone, Value: ValueNone, Ops: OpMmap,
		Instead: "a user ring buffer carries records from user space to BPF programs, which drain it: " +
			"there is nothing to read (write to it with the userringbuf package)"}, probe(0, 0, -1, 0)},
	unix.BPF_MAP_TYPE_CGRP_STORAGE: {MapTypeFacts: MapTypeFacts{Name: "cgrp_storage", NoEntries: true, Since: "6.2", Key: Key4, Ops: opsStorage,
		Instead: "its keys are cgroup directory descriptors, " + storageKeys}},
	33: {MapTypeFacts: MapTypeFacts{Name: "arena", Since: "6.9", Key: KeyNone, Value: ValueNone, Ops: OpMmap, // BPF_MAP_TYPE_ARENA
		Instead: "an arena is memory shared with programs, not elements: map it into memory with mmap"}},
	34: {MapTypeFacts{Name: "insn_array", Since: "6.19", Key: Key4, // BPF_MAP_TYPE_INSN_ARRAY
		Ops: OpLookup | OpUpdate | OpNextKey}, probe(4, 16, 1, 0)}, // value: struct bpf_insn_array_value
}

// probe returns creation attributes with the given sizes; entries -1
// stands for one page (the size of the smallest ring).
func probe(key, value uint32, entries int, flags uint32) MapCreateAttr {
	if entries < 0 {
		entries = os.Getpagesize()
	}
	return MapCreateAttr{KeySize: key, ValueSize: value, MaxEntries: uint32(entries), MapFlags: flags}
}
