package sys

import (
	"errors"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// onBPFFS is the hint every error about a path off a bpf filesystem ends with.
const onBPFFS = "pins live under a bpf mount such as /sys/fs/bpf"

// checkPinPath looks at path with statfs before op (OpObjGet or OpObjPin)
// hands it to the kernel, whose answers for a path of the wrong kind (EACCES
// for a regular file or a directory, EPERM for a pin off a bpf filesystem)
// read like missing privileges. It returns the *Error the kernel would
// fail with, carrying the real reason, or nil when the path may be right,
// or when statfs cannot tell (the system call then reports what it finds).
func checkPinPath(op Op, path string) *Error {
	var st unix.Statfs_t
	if op == OpObjPin {
		// The pin must not exist yet; its directory must be on bpffs.
		if unix.Statfs(filepath.Dir(path), &st) == nil && st.Type != unix.BPF_FS_MAGIC {
			return &Error{Op: op, Errno: unix.EPERM, reason: "operation not permitted: the directory is not on a bpf filesystem (" + onBPFFS + ")"}
		}
		return nil
	}
	err := unix.Statfs(path, &st)
	switch {
	case errors.Is(err, unix.ENOENT):
		if unix.Statfs(filepath.Dir(path), &st) == nil && st.Type != unix.BPF_FS_MAGIC {
			return &Error{Op: op, Errno: unix.ENOENT, reason: "no such file, and its directory is not on a bpf filesystem (" + onBPFFS + ")"}
		}
	case err != nil:
	case st.Type != unix.BPF_FS_MAGIC:
		return &Error{Op: op, Errno: unix.EACCES, reason: "not a pinned BPF object: the path is not on a bpf filesystem (" + onBPFFS + ")"}
	default:
		var s unix.Stat_t
		if unix.Stat(path, &s) == nil && s.Mode&unix.S_IFMT == unix.S_IFDIR {
			return &Error{Op: op, Errno: unix.EACCES, reason: "not a pinned BPF object: the path is a directory of the bpf filesystem"}
		}
	}
	return nil
}
