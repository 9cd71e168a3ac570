// Package sys is bpfmaps' floor: a thin, hand-written wrapper around the
// bpf(2) system call.
//
// There is one function per command (MapCreate, MapLookupElem, …, ProgLoad,
// ProgTestRun, BTFLoad). Each one fills the matching member of the kernel's
// union bpf_attr on the stack, makes the system call and turns a failure into
// an *Error that names the operation and wraps the unix.Errno, so that
// errors.Is(err, unix.ENOENT) works. The error says what the errno means
// for that operation: an EPERM from an update is a frozen or read-only map,
// from a pin a directory off the bpf filesystem, and only from the commands
// that need privilege the capability that command needs (CAP_BPF to create
// maps, CAP_SYS_ADMIN to walk ids and open maps and BTF by id). ObjGet and
// ObjPin look at the path with statfs first, so that a path that cannot
// hold a pinned object is reported as such rather than as the kernel's
// EACCES or EPERM (the errno stays the one the kernel would return); after
// an EACCES they name the directory or pin whose owner and mode keep the
// user out.
//
// The conditions callers test for are defined here once for the whole
// module: ErrKeyNotExist, ErrKeyExist, ErrFull, ErrEmpty, ErrReadOnly and
// ErrNotSupported. An *Error matches the ones its errno means for its
// command, and the errors of mapops, refs and the rings wrap the same
// values, so one errors.Is test works at every layer. A closed object, at
// every layer, gives an error wrapping os.ErrClosed. Errors of an operation
// on an object have one shape, *OpError, read "object: operation: reason";
// errors that name no object start with their package instead
// ("userringbuf: reserve: …").
//
// Descriptors are owned by *FD values: opened with O_CLOEXEC, closed once,
// and protected against use after Close, so a closed FD never reaches the
// kernel as a descriptor number that may already belong to another file.
//
// Attribute structs mirror union bpf_attr byte for byte; pointer fields are
// unsafe.Pointer so the garbage collector and escape analysis see them, and
// they turn into integers only inside the system call. The package supports
// 64-bit Linux only, where a pointer fills an __aligned_u64.
//
// Nothing in sys allocates on the element paths (lookup, update, delete,
// next key), so callers that reuse their key and value buffers allocate
// nothing at all.
package sys
