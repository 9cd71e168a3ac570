package mapops

import (
	"errors"
	"fmt"
	"unsafe"

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

// elemOp is an element command, for elemErr.
type elemOp uint8

const (
	opLookup elemOp = iota
	opUpdate
	opDelete
	opLookupAndDelete
	opPush
	opPop
	opPeek
)

var elemOpNames = [...]string{"lookup", "update", "delete", "lookup and delete", "push", "pop", "peek"}

// conds are the condition errors of each command, by errno.
var conds = [...]struct{ enoent, eexist, e2big *condError }{
	opLookup:          {enoent: errLookupMissing},
	opUpdate:          {enoent: errUpdateMissing, eexist: errUpdateExists, e2big: errUpdateFull},
	opDelete:          {enoent: errDeleteMissing},
	opLookupAndDelete: {enoent: errTakeMissing},
	opPush:            {e2big: errPushFull},
	opPop:             {enoent: errPopEmpty},
	opPeek:            {enoent: errPeekEmpty},
}

// condOf returns the condition error of op that err is, or nil.
func condOf(op elemOp, err error) error {
	c := conds[op]
	switch errno(err) {
	case unix.ENOENT:
		if c.enoent != nil {
			return c.enoent
		}
	case unix.EEXIST:
		if c.eexist != nil {
			return c.eexist
		}
	case unix.E2BIG:
		if c.e2big != nil {
			return c.e2big
		}
	}
	return nil
}

// elemErr turns the error of an element command on m, with the key at key
// (nil for queues) and flags, into the error callers see: nil stays nil;
// a condition callers test for becomes its preallocated error, so that a
// missed lookup allocates nothing; any other error is wrapped with the
// map's name and, where the errno alone misleads, what was wrong.
func (m *Map) elemErr(op elemOp, err error, key unsafe.Pointer, flags Flags) error {
	if err == nil {
		return nil
	}
	e := errno(err)
	if e == unix.E2BIG && isArray(m.typ) && key != nil {
		// Arrays are never full: E2BIG means the index is past the end.
		return fmt.Errorf("%s: %s: index %d out of range (max_entries %d): %w",
			m, elemOpNames[op], *(*uint32)(key), m.maxEntries, err)
	}
	if c := condOf(op, err); c != nil {
		return c
	}
	switch {
	case e == unix.EINVAL && op == opDelete && isArray(m.typ):
		return fmt.Errorf("%s: delete: the elements of an array cannot be deleted (store a zero value instead): %w", m, err)
	case e == unix.EINVAL && flags&^(NoExist|Exist|Lock) != 0:
		return fmt.Errorf("%s: %s: flags %#x: unknown bits (known: Any, NoExist, Exist, Lock): %w", m, elemOpNames[op], uint64(flags), err)
	case e == unix.EINVAL && flags&(NoExist|Exist) == NoExist|Exist:
		return fmt.Errorf("%s: %s: flags NoExist and Exist exclude each other: %w", m, elemOpNames[op], err)
	case e == unix.EINVAL && flags&Lock != 0:
		return fmt.Errorf("%s: %s: flag Lock needs a value with a struct bpf_spin_lock, described by BTF: %w", m, elemOpNames[op], err)
	}
	return fmt.Errorf("%s: %s: %w", m, elemOpNames[op], err)
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
