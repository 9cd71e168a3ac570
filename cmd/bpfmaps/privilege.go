package main

import (
	"errors"

	"golang.org/x/sys/unix"
)

// The kernel lets only CAP_SYS_ADMIN walk object ids and open objects by
// id (BPF_MAP_GET_NEXT_ID, BPF_MAP_GET_FD_BY_ID, BPF_BTF_GET_FD_BY_ID):
// CAP_BPF is enough for everything else the tool does. So list, and
// naming a map by id or name, need CAP_SYS_ADMIN, a pinned path only
// CAP_BPF, and a map's C types (its BTF, read by id) CAP_SYS_ADMIN.
const (
	needListIDs = "needs CAP_SYS_ADMIN: the kernel walks map ids (BPF_MAP_GET_NEXT_ID) only for it, CAP_BPF is not enough"
	needOpenID  = "needs CAP_SYS_ADMIN: the kernel opens maps by id (BPF_MAP_GET_FD_BY_ID) only for it, CAP_BPF is not enough"
	needBTFID   = "needs CAP_SYS_ADMIN: the kernel opens a map's BTF by id (BPF_BTF_GET_FD_BY_ID) only for it, CAP_BPF is not enough"
	pinnedHint  = "; a pinned path needs only CAP_BPF"
)

// privError is an EPERM whose message says which capability the command
// really needs, in place of the generic one of sys.
type privError struct {
	op, need string
	err      error
}

func (e *privError) Error() string { return e.op + ": operation not permitted: " + e.need }

func (e *privError) Unwrap() error { return e.err }

// needsSysAdmin returns, when err is EPERM, an error that names op and
// says what it needs (need); err itself otherwise.
func needsSysAdmin(err error, op, need string) error {
	if !errors.Is(err, unix.EPERM) {
		return err
	}
	return &privError{op: op, need: need, err: err}
}
