package sys

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// The conditions callers test for, defined once for every package of the
// module. Errors of every layer (sys, mapops, refs, the rings) that report
// one of them match it with errors.Is, and keep matching the kernel's errno
// (unix.ENOENT, unix.EEXIST, unix.E2BIG, ENOTSUPP, unix.EPERM) as well.
// A closed object is reported with an error wrapping os.ErrClosed; there is
// no sentinel of our own for it.
var (
	// ErrKeyNotExist: a lookup, update with Exist, delete or
	// lookup-and-delete found no such key (unix.ENOENT).
	ErrKeyNotExist = errors.New("key does not exist")
	// ErrKeyExist: an update with NoExist found the key (unix.EEXIST).
	ErrKeyExist = errors.New("key already exists")
	// ErrFull: an insert into a full map, queue or stack (unix.E2BIG), or
	// a record that finds no room in a ring now (unix.ENOSPC, both rings).
	ErrFull = errors.New("map is full")
	// ErrEmpty: a pop or peek on an empty queue or stack (unix.ENOENT).
	ErrEmpty = errors.New("queue or stack is empty")
	// ErrReadOnly: a write through a descriptor that may not write, because
	// the map is frozen or the descriptor was opened read-only (unix.EPERM
	// from an element write).
	ErrReadOnly = errors.New("map is frozen or the descriptor is read-only")
	// ErrNotSupported: a feature the running kernel, or the map type, lacks,
	// as found by the feature probes or reported by the kernel (ENOTSUPP).
	ErrNotSupported = errors.New("not supported by this kernel")
)

// OpError is the one shape of the errors of an operation on an object, as
// *os.PathError is for files: what was done, to what, and why. The object
// is named as its package's String method names it (mapops.Map's
// `map 12 "counts" (hash)`); the message reads "object: operation:
// reason", or "operation: reason" when Object is empty. Err is usually a
// *Error or wraps a sentinel of this package; errors.Is and errors.As see
// through OpError to it.
type OpError struct {
	Object string // the object, such as `map 12 "counts" (hash)`
	Op     string // the operation, such as "lookup" or "reserve"
	Err    error
}

// Error returns "object: operation: reason". A *Error (or a closed
// descriptor's error) underneath for the same operation gives its reason
// only, so that the operation is named once.
func (e *OpError) Error() string {
	var reason string
	if se, ok := e.Err.(opText); ok {
		// Say the command again only when it adds something: "map
		// lookup" under "lookup" does not, "map lookup batch" under
		// "iterate" does.
		inner := se.op().String()
		reason = se.text(inner != e.Op && inner != "map "+e.Op)
	} else if e.Err != nil {
		reason = e.Err.Error()
	}
	if e.Object == "" {
		return e.Op + ": " + reason
	}
	return e.Object + ": " + e.Op + ": " + reason
}

// Unwrap returns Err.
func (e *OpError) Unwrap() error { return e.Err }

// opText is an error of one bpf(2) command that can leave the command's
// name out of its text.
type opText interface {
	op() Op
	text(withOp bool) string
}

// Op names a bpf(2) operation in errors.
type Op uint8

// The operations, one per bpf(2) command this package issues.
const (
	OpMapCreate Op = iota
	OpMapLookup
	OpMapUpdate
	OpMapDelete
	OpMapNextKey
	OpMapLookupAndDelete
	OpMapFreeze
	OpMapLookupBatch
	OpMapLookupAndDeleteBatch
	OpMapUpdateBatch
	OpMapDeleteBatch
	OpObjPin
	OpObjGet
	OpMapNextID
	OpMapFDByID
	OpObjInfo
	OpProgLoad
	OpProgTestRun
	OpBTFLoad
	OpBTFNextID
	OpBTFFDByID
	opCount
)

var opNames = [opCount]string{
	OpMapCreate:               "map create",
	OpMapLookup:               "map lookup",
	OpMapUpdate:               "map update",
	OpMapDelete:               "map delete",
	OpMapNextKey:              "map next key",
	OpMapLookupAndDelete:      "map lookup and delete",
	OpMapFreeze:               "map freeze",
	OpMapLookupBatch:          "map lookup batch",
	OpMapLookupAndDeleteBatch: "map lookup and delete batch",
	OpMapUpdateBatch:          "map update batch",
	OpMapDeleteBatch:          "map delete batch",
	OpObjPin:                  "object pin",
	OpObjGet:                  "object get",
	OpMapNextID:               "map next id",
	OpMapFDByID:               "map fd by id",
	OpObjInfo:                 "object info",
	OpProgLoad:                "program load",
	OpProgTestRun:             "program test run",
	OpBTFLoad:                 "btf load",
	OpBTFNextID:               "btf next id",
	OpBTFFDByID:               "btf fd by id",
}

// String returns the operation as error messages name it, such as "map lookup".
func (op Op) String() string {
	if op < opCount {
		return opNames[op]
	}
	return "bpf"
}

// Error is a failed bpf(2) command: the operation and the kernel's errno,
// plus, for program and BTF loads, the tail of the verifier log.
//
// errors.Is(err, unix.ENOENT) and errors.As(err, &errno) see the errno.
type Error struct {
	Op    Op
	Errno unix.Errno
	Log   string // verifier or BTF log, when the kernel wrote one

	reason string // what went wrong, when known better than from Op and Errno
}

// Error names the operation and says what the errno means for it,
// followed by the verifier log if there is one.
func (e *Error) Error() string { return e.text(true) }

func (e *Error) op() Op { return e.Op }

// text is the message, with or without the operation in front.
func (e *Error) text(withOp bool) string {
	s := e.reason
	if s == "" {
		s = describe(e.Op, e.Errno)
	}
	if withOp {
		s = e.Op.String() + ": " + s
	}
	if e.Log != "" {
		s += "\n" + e.Log
	}
	return s
}

// Unwrap returns the errno.
func (e *Error) Unwrap() error { return e.Errno }

// Is reports whether the error is the condition target names: ENOENT from
// an element command is ErrKeyNotExist, EEXIST from an update ErrKeyExist,
// E2BIG from an update ErrFull, EPERM from an element write ErrReadOnly,
// ENOTSUPP (or EOPNOTSUPP) ErrNotSupported.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrKeyNotExist:
		return e.Errno == unix.ENOENT && (e.Op == OpMapLookup || e.Op == OpMapLookupAndDelete || e.Op == OpMapUpdate || e.Op == OpMapDelete || e.Op == OpMapUpdateBatch || e.Op == OpMapDeleteBatch)
	case ErrKeyExist:
		return e.Errno == unix.EEXIST && (e.Op == OpMapUpdate || e.Op == OpMapUpdateBatch)
	case ErrFull:
		return e.Errno == unix.E2BIG && (e.Op == OpMapUpdate || e.Op == OpMapUpdateBatch)
	case ErrReadOnly:
		return e.Errno == unix.EPERM && isWrite(e.Op)
	case ErrNotSupported:
		return e.Errno == ENOTSUPP || e.Errno == unix.EOPNOTSUPP
	}
	return false
}

// isWrite reports whether op writes a map's elements.
func isWrite(op Op) bool {
	switch op {
	case OpMapUpdate, OpMapDelete, OpMapUpdateBatch, OpMapDeleteBatch, OpMapLookupAndDelete, OpMapLookupAndDeleteBatch:
		return true
	}
	return false
}

// ENOTSUPP is the kernel's internal "not supported" errno (524), which
// bpf(2) passes to user space for operations a map type or kernel version
// does not implement, such as lookup-and-delete on hash maps before 5.14.
// unix.ENOTSUP is a different number.
const ENOTSUPP unix.Errno = 524

// describe says what errno means for op, in the words a map user thinks in.
func describe(op Op, errno unix.Errno) string {
	switch errno {
	case unix.ENOENT:
		switch op {
		case OpMapLookup, OpMapDelete, OpMapLookupAndDelete, OpMapUpdate:
			return "key does not exist"
		case OpMapNextKey, OpMapNextID, OpBTFNextID, OpMapLookupBatch, OpMapLookupAndDeleteBatch:
			return "no more entries"
		case OpMapFDByID:
			return "no map with that id"
		case OpBTFFDByID:
			return "no BTF object with that id"
		case OpObjGet, OpObjPin:
			return "no such file or directory"
		}
	case unix.EEXIST:
		switch op {
		case OpMapUpdate, OpMapUpdateBatch:
			return "key already exists"
		case OpObjPin:
			return "pin path already exists"
		}
	case unix.E2BIG:
		switch op {
		case OpMapUpdate, OpMapUpdateBatch:
			return "map is full"
		}
	case unix.EPERM:
		// Descriptors of maps are checked for the access the command
		// needs; the other commands are checked for privilege.
		switch {
		case isWrite(op):
			return "operation not permitted: the map is frozen, or this descriptor was opened read-only: user space may read the map but not write it"
		case op == OpMapFreeze:
			return "operation not permitted: the map is already frozen, or this descriptor was opened read-only"
		case op == OpMapLookup || op == OpMapNextKey || op == OpMapLookupBatch:
			return "operation not permitted: this descriptor was opened write-only"
		}
		return "operation not permitted: " + privilege(op)
	case unix.EBADF:
		return "bad file descriptor (not open, or not a BPF object of the right kind)"
	case unix.EACCES:
		switch op {
		case OpProgLoad:
			return "permission denied: the verifier refused the program"
		case OpObjGet:
			return "permission denied: the pin's owner and mode, or those of a directory above it, do not let this user open it with these flags"
		case OpObjPin:
			return "permission denied: this user may not create a file in the pin's directory, or enter a directory above it"
		}
		return "permission denied"
	case ENOTSUPP:
		return "operation not supported by this kernel for this map type (ENOTSUPP)"
	case unix.ENOSPC:
		switch op {
		case OpMapLookupBatch, OpMapLookupAndDeleteBatch:
			return "batch buffer too small for a bucket"
		}
	}
	return errno.Error()
}

// privilege says what a command that failed with EPERM for want of
// privilege needs. A pin off a bpf filesystem is caught before the system
// call (checkPinPath), so for the commands not on map descriptors EPERM is
// a missing capability.
func privilege(op Op) string {
	const memlock = "; on kernels before 5.11 also a large enough RLIMIT_MEMLOCK"
	switch op {
	case OpMapNextID, OpMapFDByID, OpBTFNextID, OpBTFFDByID:
		// kernel/bpf/syscall.c: bpf_obj_get_next_id, bpf_map_get_fd_by_id,
		// bpf_btf_get_fd_by_id check capable(CAP_SYS_ADMIN) alone.
		return "needs CAP_SYS_ADMIN (CAP_BPF is not enough for this command)"
	case OpMapCreate:
		return "needs CAP_BPF (CAP_SYS_ADMIN before 5.8), and CAP_NET_ADMIN too for device, CPU, XDP socket and socket maps" + memlock
	case OpBTFLoad:
		return "needs CAP_BPF (CAP_SYS_ADMIN before 5.8)" + memlock
	case OpProgLoad:
		return "needs CAP_BPF, and CAP_PERFMON or CAP_NET_ADMIN for most program types (CAP_SYS_ADMIN before 5.8)" + memlock
	case OpProgTestRun:
		return "the kernel does not let this user run this program type"
	}
	return "the kernel refused this user"
}

// common holds one preallocated *Error per operation for the errnos that
// show up on hot paths (a missed lookup, the end of an iteration, a full
// queue), so that reporting them allocates nothing.
var common [opCount][3]*Error

var commonErrnos = [3]unix.Errno{unix.ENOENT, unix.EEXIST, unix.E2BIG}

func init() {
	for op := range common {
		for i, e := range commonErrnos {
			common[op][i] = &Error{Op: Op(op), Errno: e}
		}
	}
}

// newError returns the *Error for op and errno.
func newError(op Op, errno unix.Errno) error {
	for i, e := range commonErrnos {
		if e == errno {
			return common[op][i]
		}
	}
	return &Error{Op: op, Errno: errno}
}

// closedError reports an operation on a closed FD.
type closedError struct{ cmd Op }

func (e closedError) Error() string { return e.text(true) }
func (e closedError) Unwrap() error { return os.ErrClosed }

func (e closedError) op() Op { return e.cmd }

func (e closedError) text(withOp bool) string {
	if withOp {
		return e.cmd.String() + ": use of closed file descriptor"
	}
	return "use of closed file descriptor"
}
