package mapops

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/bpfmaps/bpfmaps/sys"
)

// The conditions callers test for are the sentinels of package sys
// (sys.ErrKeyNotExist, sys.ErrKeyExist, sys.ErrFull, sys.ErrEmpty,
// sys.ErrReadOnly, sys.ErrNotSupported); a Map's errors for them are
// *sys.OpError values that name the map and the operation and also wrap the
// kernel's errno, so errors.Is(err, unix.ENOENT) keeps working. Reporting
// them allocates nothing: each Map keeps its own, made on first use.

// condErr is a condition: its sentinel and the kernel's errno.
type condErr struct {
	sentinel error
	errs     []error // the sentinel and the errno
}

func (e *condErr) Error() string   { return e.sentinel.Error() }
func (e *condErr) Unwrap() []error { return e.errs }

func newCond(sentinel error, errno unix.Errno) *condErr {
	return &condErr{sentinel: sentinel, errs: []error{sentinel, errno}}
}

var (
	condMissing = newCond(sys.ErrKeyNotExist, unix.ENOENT)
	condExists  = newCond(sys.ErrKeyExist, unix.EEXIST)
	condFull    = newCond(sys.ErrFull, unix.E2BIG)
	condEmpty   = newCond(sys.ErrEmpty, unix.ENOENT)
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

// The errnos that are conditions, as indexes into conds.
const (
	condENOENT = iota
	condEEXIST
	condE2BIG
	nconds
)

// conds are the conditions of each command, by errno.
var conds = [...][nconds]*condErr{
	opLookup:          {condENOENT: condMissing},
	opUpdate:          {condENOENT: condMissing, condEEXIST: condExists, condE2BIG: condFull},
	opDelete:          {condENOENT: condMissing},
	opLookupAndDelete: {condENOENT: condMissing},
	opPush:            {condE2BIG: condFull},
	opPop:             {condENOENT: condEmpty},
	opPeek:            {condENOENT: condEmpty},
}

// condIndex returns the index into conds of the errno of err, or -1.
func condIndex(err error) int {
	switch errno(err) {
	case unix.ENOENT:
		return condENOENT
	case unix.EEXIST:
		return condEEXIST
	case unix.E2BIG:
		return condE2BIG
	}
	return -1
}

// condOf returns the condition of op that err is, or nil. It does not
// name the map; elemErr's errors do.
func condOf(op elemOp, err error) error {
	if i := condIndex(err); i >= 0 && conds[op][i] != nil {
		return conds[op][i]
	}
	return nil
}

// condErrors are a Map's preallocated condition errors, by command and
// errno.
type condErrors [len(conds)][nconds]*sys.OpError

// cond returns m's error for the condition of op that err is, or nil.
// The map's errors are made on the first condition, once.
func (m *Map) cond(op elemOp, err error) error {
	i := condIndex(err)
	if i < 0 || conds[op][i] == nil {
		return nil
	}
	ce := m.conds.Load()
	if ce == nil {
		ce = new(condErrors)
		obj := m.String()
		for o, cs := range conds {
			for j, c := range cs {
				if c != nil {
					ce[o][j] = &sys.OpError{Object: obj, Op: elemOpNames[o], Err: c}
				}
			}
		}
		if !m.conds.CompareAndSwap(nil, ce) {
			ce = m.conds.Load()
		}
	}
	return ce[op][i]
}

// elemErr turns the error of an element command on m, with the key at key
// (nil for queues) and flags, into the error callers see: nil stays nil;
// a condition callers test for becomes the map's preallocated error for
// it, so that a missed lookup allocates nothing; any other error becomes a
// *sys.OpError naming the map, the operation and, where the errno alone
// misleads, what was wrong.
func (m *Map) elemErr(op elemOp, err error, key unsafe.Pointer, flags Flags) error {
	if err == nil {
		return nil
	}
	e := errno(err)
	if e == unix.E2BIG && isArray(m.typ) && key != nil {
		// Arrays are never full: E2BIG means the index is past the end.
		return m.opErr(op, fmt.Errorf("index %d out of range (max_entries %d): %w", *(*uint32)(key), m.maxEntries, e))
	}
	if c := m.cond(op, err); c != nil {
		return c
	}
	switch {
	case e == unix.EINVAL && op == opDelete && isArray(m.typ):
		return m.opErr(op, fmt.Errorf("the elements of an array cannot be deleted (store a zero value instead): %w", err))
	case e == unix.EINVAL && flags&^(NoExist|Exist|Lock) != 0:
		return m.opErr(op, fmt.Errorf("flags %#x: unknown bits (known: Any, NoExist, Exist, Lock): %w", uint64(flags), err))
	case e == unix.EINVAL && flags&(NoExist|Exist) == NoExist|Exist:
		return m.opErr(op, fmt.Errorf("flags NoExist and Exist exclude each other: %w", err))
	case e == unix.EINVAL && flags&Lock != 0:
		return m.opErr(op, fmt.Errorf("flag Lock needs a value with a struct bpf_spin_lock, described by BTF: %w", err))
	}
	return m.opErr(op, err)
}

// opErr is the error of op on m: a *sys.OpError.
func (m *Map) opErr(op elemOp, err error) error {
	return &sys.OpError{Object: m.String(), Op: elemOpNames[op], Err: err}
}

// SizeError reports a key or value buffer of the wrong size, found before
// any system call. It comes wrapped in a *sys.OpError that names the map
// and the operation.
type SizeError struct {
	What string // "key", "value" or "next key"
	Got  int
	Want int
}

// Error says what was the wrong size, and both sizes.
func (e *SizeError) Error() string {
	return fmt.Sprintf("%s is %d bytes, the map needs %d", e.What, e.Got, e.Want)
}

func (m *Map) sizeErr(op, what string, got, want int) error {
	return &sys.OpError{Object: m.String(), Op: op, Err: &SizeError{What: what, Got: got, Want: want}}
}
