// Package mapops opens, creates and operates BPF maps from Go with nothing
// but the bpf(2) system call.
//
// A Map is an open map descriptor together with what the kernel says about
// the map (type, key and value sizes, capacity, flags). It offers three
// levels of access:
//
//   - bytes: Lookup, Update (with the Any, NoExist, Exist and Lock flags),
//     Delete, LookupAndDelete and NextKey, where a nil key means "first";
//   - integers of 1, 2, 4 or 8 bytes in host byte order (the order a C
//     program on the same machine stores them in; little-endian on x86-64
//     and arm64, big-endian on s390x): LookupInt, UpdateInt, DeleteInt,
//     NextKeyInt, and PutUint and Uint to encode and decode integer keys
//     and values of any width in the same order;
//   - Go types: Typed[K, V] converts keys and values with package
//     structcodec, so a tagged Go struct is the C struct a BPF program sees.
//
// Every method checks key and value sizes against the map before the
// system call and names the map, the operation and the sizes when they are
// wrong. Its errors are *sys.OpError values: "map 12 "counts" (hash):
// lookup: key does not exist". Operations on a closed Map fail with an
// error wrapping os.ErrClosed. Missing keys, existing keys, empty queues,
// full maps and frozen maps give errors wrapping sys.ErrKeyNotExist,
// sys.ErrKeyExist, sys.ErrEmpty, sys.ErrFull and sys.ErrReadOnly and the
// kernel's errno (unix.ENOENT, EEXIST, E2BIG, EPERM); the first four are
// made once per Map, so a missed lookup allocates nothing.
//
// Per-CPU maps hold one value per possible CPU: lookups fill a caller's
// slice and updates take one value for all CPUs or one per CPU. Queue[V]
// pushes, pops and peeks queue and stack maps. Maps of maps store inner
// maps by descriptor (SetInner) and report them by id (InnerID,
// OpenInner). Arrays created with BPF_F_MMAPABLE can be read and written
// without system calls through Memory and MemoryOf.
//
// All and Keys iterate a map with the batch commands where the kernel has
// them and get_next_key otherwise; they never yield a key twice nor end
// silently on an error (see Map.All for the guarantees under concurrent
// changes). The Batch methods of Typed read, write and delete many entries
// per system call.
//
// Hot paths (Lookup, Update, Delete of every level, per-CPU lookups into a
// caller's slice, Push, Pop, Peek) do not allocate: scratch buffers live
// with the Typed or Queue view, and fixed-layout types such as integers go
// to the kernel without being copied at all. Which types those are is
// structcodec's answer (structcodec.Plan); mapops follows the plan without
// reflection of its own. BatchLookup allocates nothing per entry: the
// Cursor keeps its buffers and entries are decoded into the caller's
// slices.
//
// Other errors name the map and the operation, and say what was wrong
// where the errno alone would mislead: an array index out of range, flags
// the kernel refused, a Delete on an array.
// Create checks a Spec before the system call and names the field at
// fault.
package mapops
