package sys

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// ErrNotSupported is wrapped by errors that report a feature the running
// kernel lacks, as found by the feature probes.
var ErrNotSupported = errors.New("not supported by this kernel")

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
func (e *Error) Error() string {
	reason := e.reason
	if reason == "" {
		reason = describe(e.Op, e.Errno)
	}
	s := e.Op.String() + ": " + reason
	if e.Log != "" {
		s += "\n" + e.Log
	}
	return s
}

// Unwrap returns the errno.
func (e *Error) Unwrap() error { return e.Errno }

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
		switch op {
		case OpMapUpdate, OpMapDelete, OpMapUpdateBatch, OpMapDeleteBatch, OpMapLookupAndDelete, OpMapLookupAndDeleteBatch:
			return "operation not permitted: the map is frozen, or this descriptor was opened read-only: user space may read the map but not write it"
		case OpMapFreeze:
			return "operation not permitted: the map is already frozen, or this descriptor was opened read-only"
		case OpMapLookup, OpMapNextKey, OpMapLookupBatch:
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
type closedError struct{ op Op }

func (e closedError) Error() string { return e.op.String() + ": use of closed file descriptor" }
func (e closedError) Unwrap() error { return os.ErrClosed }
