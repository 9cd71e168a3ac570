package mapops

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

// The conditions callers test for. Each error a Map returns for one of
// them also wraps the kernel's errno, so errors.Is(err, unix.ENOENT) keeps
// working; reporting them allocates nothing.
var (
	// ErrKeyNotExist: a lookup, delete or lookup-and-delete found no such key
	// (unix.ENOENT).
	ErrKeyNotExist = errors.New("key does not exist")
	// ErrKeyExist: an update with NoExist found the key (unix.EEXIST).
	ErrKeyExist = errors.New("key already exists")
	// ErrEmpty: Pop or Peek on an empty queue or stack (unix.ENOENT).
	ErrEmpty = errors.New("queue or stack is empty")
	// ErrFull: an insert into a full map, queue or stack (unix.E2BIG).
	ErrFull = errors.New("map is full")
)

// condError is a preallocated error for one operation and condition.
type condError struct {
	msg  string
	errs []error // the sentinel and the errno
}

func (e *condError) Error() string   { return e.msg }
func (e *condError) Unwrap() []error { return e.errs }

func newCond(op string, sentinel error, errno unix.Errno) *condError {
	return &condError{msg: "map " + op + ": " + sentinel.Error(), errs: []error{sentinel, errno}}
}

var (
	errLookupMissing = newCond("lookup", ErrKeyNotExist, unix.ENOENT)
	errDeleteMissing = newCond("delete", ErrKeyNotExist, unix.ENOENT)
	errTakeMissing   = newCond("lookup and delete", ErrKeyNotExist, unix.ENOENT)
	errUpdateMissing = newCond("update", ErrKeyNotExist, unix.ENOENT)
	errUpdateExists  = newCond("update", ErrKeyExist, unix.EEXIST)
	errUpdateFull    = newCond("update", ErrFull, unix.E2BIG)
	errPopEmpty      = newCond("pop", ErrEmpty, unix.ENOENT)
	errPeekEmpty     = newCond("peek", ErrEmpty, unix.ENOENT)
	errPushFull      = newCond("push", ErrFull, unix.E2BIG)
)

// errno returns the errno of a sys error, or 0.
func errno(err error) unix.Errno {
	if e, ok := err.(*sys.Error); ok {
		return e.Errno
	}
	return 0
}

// lookupErr, updateErr … turn a sys error into the caller's condition
// error where there is one; other errors pass through unchanged (they
// already name the operation, and the closed-map error wraps os.ErrClosed).
func lookupErr(err error) error {
	if errno(err) == unix.ENOENT {
		return errLookupMissing
	}
	return err
}

func deleteErr(err error) error {
	if errno(err) == unix.ENOENT {
		return errDeleteMissing
	}
	return err
}

func takeErr(err error) error {
	if errno(err) == unix.ENOENT {
		return errTakeMissing
	}
	return err
}

func updateErr(err error) error {
	switch errno(err) {
	case unix.ENOENT:
		return errUpdateMissing
	case unix.EEXIST:
		return errUpdateExists
	case unix.E2BIG:
		return errUpdateFull
	}
	return err
}

// SizeError reports a key or value buffer of the wrong size, found before
// any system call.
type SizeError struct {
	Map  string // the map, as Map.String describes it
	Op   string // "lookup", "update", …
	What string // "key" or "value"
	Got  int
	Want int
}

// Error names the map, the operation and both sizes.
func (e *SizeError) Error() string {
	return fmt.Sprintf("%s: %s: %s is %d bytes, the map needs %d", e.Map, e.Op, e.What, e.Got, e.Want)
}

func (m *Map) sizeErr(op, what string, got, want int) error {
	return &SizeError{Map: m.String(), Op: op, What: what, Got: got, Want: want}
}
